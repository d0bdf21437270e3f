"""End to end: signed real deliveries to the real server, checked on the fake GitHub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.analysis import analyse
from bot.core.findings import Report, Severity
from bot.core.render import check_run_output
from bot.crates import parse_index
from bot.github.context import Options
from tests.conftest import APP_ID
from tests.fake_github import Entry, FakeGitHub, folder_files
from tests.fixes.index_data import index_lines
from tests.github.conftest import (
    REPO,
    Deliver,
    Sleeps,
    adjust,
    corpus_cases,
    load_payload,
)

CASES = corpus_cases()
RIPGREP = next(c for c in CASES if c.name.startswith("BurntSushi__ripgrep"))
SERDE = next(c for c in CASES if c.name.startswith("serde-rs__serde"))  # clean
TOKEI = next(c for c in CASES if c.name.startswith("XAMPPRocky__tokei"))  # failure


def conclusion_of(files: Any) -> str:
    """Return the conclusion the analysis run directly gives these files."""
    return expected_conclusion(analyse(files))


def expected_conclusion(report: Report) -> str:
    """Return the conclusion the DESIGN contract gives a report."""
    severities = {f.severity for f in report.findings}
    if Severity.FAILURE in severities:
        return "failure"
    if Severity.WARNING in severities:
        return "neutral"
    return "success"


def annotation_lines(run: dict[str, Any]) -> list[tuple[str, int, str]]:
    return sorted(
        (a["path"], a["start_line"], a["annotation_level"])
        for a in run["output"]["annotations"]
    )


def assert_clean(fake: FakeGitHub) -> None:
    assert fake.violations == []


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_corpus_case_gets_one_completed_run(
    case: Path, fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_folder(REPO, case)
    resp = await deliver("check_suite.requested", sha=sha)
    assert resp.status == 202
    runs = fake_github.runs_for(REPO, sha)
    assert len(runs) == 1
    run = runs[0]
    assert run["status"] == "completed"
    assert run["name"] == "musl-check"
    report = analyse(folder_files(case))
    assert run["conclusion"] == expected_conclusion(report)
    want = [
        (a["path"], a["start_line"], a["annotation_level"])
        for a in check_run_output(report).annotations
    ]
    assert annotation_lines(run) == sorted(want)
    # Every finding and every musl use of the scan is annotated at its line.
    lines = {(p, n) for p, n, _ in want}
    assert {(f.path, f.line) for f in report.findings} <= lines
    assert {(u.path, u.line) for u in report.musl_uses} <= lines
    assert_clean(fake_github)


async def test_same_delivery_twice_makes_one_run(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    first = await deliver("check_suite.requested", sha=sha, delivery_id="d-1")
    second = await deliver("check_suite.requested", sha=sha, delivery_id="d-1")
    assert first.status == 202
    assert second.status in (200, 202)
    assert len(fake_github.runs_for(REPO, sha)) == 1
    assert len(fake_github.calls("POST", "/check-runs")) == 1
    assert_clean(fake_github)


async def test_suite_and_synchronize_share_one_run(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    # A clean commit: no pull-request feedback to post either.
    sha = fake_github.add_folder(REPO, SERDE)
    await deliver("check_suite.requested", sha=sha)
    # Created completed in one request, without looking for an earlier run.
    assert [(r.method, r.path) for r in fake_github.calls(None, "/check-runs")] == [
        ("POST", f"/repos/{REPO}/check-runs")
    ]
    before = len(fake_github.requests)
    await deliver("pull_request.synchronize", sha=sha, pull_number=12)
    await deliver("push.with-installation", sha=sha)
    assert fake_github.requests[before:] == []  # the same commit: nothing to do
    runs = fake_github.runs_for(REPO, sha)
    assert len(runs) == 1
    assert runs[0]["conclusion"] == conclusion_of(folder_files(SERDE))
    assert [u.get("status") for u in runs[0]["updates"]] == ["completed"]
    # "Re-run all" is explicit: a new run.
    await deliver("check_suite.rerequested", sha=sha)
    runs = fake_github.runs_for(REPO, sha)
    assert [r["status"] for r in runs] == ["completed", "completed"]
    assert fake_github.calls("GET", "/check-runs") == []
    assert_clean(fake_github)


async def test_run_in_the_store_is_updated_after_a_restart(
    fake_github: FakeGitHub, deliver: Deliver, store: Any
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    # Made by an earlier process: the store knows it, the memory does not.
    earlier = fake_github.add_check_run(REPO, sha, "musl-check")
    await store.set_check_run(fake_github.repos[REPO].id, sha, earlier["id"])
    await deliver("check_suite.requested", sha=sha)
    assert fake_github.calls("POST", "/check-runs") == []
    assert fake_github.calls("GET", "/check-runs") == []
    assert earlier["conclusion"] == conclusion_of(folder_files(RIPGREP))
    assert_clean(fake_github)


async def test_many_annotations_are_sent_in_batches(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    files = folder_files(RIPGREP)
    matrix = "".join(
        f"          - target: x86_64-unknown-linux-musl\n            n: {i}\n"
        for i in range(70)
    )
    files[".github/workflows/many.yml"] = (
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
        "    strategy:\n      matrix:\n        include:\n"
        + matrix
        + "    steps:\n      - run: cargo build --target ${{ matrix.target }}\n"
    ).encode()
    # The App reads libc's index (the local one), so fixes name an exact version.
    entries = parse_index("\n".join(index_lines()))
    annotations = check_run_output(analyse(files, None, entries)).annotations
    assert len(annotations) > 50
    sha = fake_github.add_commit(REPO, files)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    batches = [u for u in run["updates"] if "output" in u]
    assert len(batches) == -(-len(annotations) // 50) >= 2
    assert all(len(b["output"].get("annotations", [])) <= 50 for b in batches)
    assert run["output"]["annotations"] == [dict(a) for a in annotations]
    assert_clean(fake_github)


async def test_fork_pull_request_runs_on_base_repo_at_head_sha(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    await deliver("pull_request.opened", sha=sha, fork=True, pull_number=3)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["head_sha"] == sha
    assert run["external_id"] == "3"
    org_default = f"/repos/{REPO.split('/')[0]}/.github/"  # the org's default config
    assert all(
        r.path.startswith((f"/repos/{REPO}/", "/app", org_default))
        for r in fake_github.requests
    )
    assert_clean(fake_github)


async def test_empty_repository_is_handled(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    repo = fake_github.add_repo(REPO)
    repo.empty = True
    sha = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    resp = await deliver("check_suite.requested", sha=sha)
    assert resp.status == 202
    assert fake_github.calls("GET", "/git/trees/")
    assert fake_github.check_runs == []
    assert_clean(fake_github)


async def test_no_lockfile_is_success(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    files = folder_files(RIPGREP)
    del files["Cargo.lock"]
    sha = fake_github.add_commit(REPO, files)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["status"] == "completed"
    assert run["conclusion"] == expected_conclusion(analyse(files))
    assert_clean(fake_github)


async def test_analysis_exception_gives_neutral_run(
    fake_github: FakeGitHub, deliver: Deliver, options: Options
) -> None:
    def broken(files: Any, config: Any, index: Any) -> Report:
        raise RecursionError("boom")

    object.__setattr__(options, "analyse", broken)
    sha = fake_github.add_folder(REPO, RIPGREP)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["conclusion"] == "neutral"
    assert run["output"]["title"] == "could not analyse"
    assert "RecursionError" in run["output"]["summary"]
    assert_clean(fake_github)


async def test_tree_5xx_is_retried(
    fake_github: FakeGitHub, deliver: Deliver, sleeps: Sleeps
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    fake_github.fail("GET", "/git/trees/", 502)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["conclusion"] == conclusion_of(folder_files(RIPGREP))
    assert sleeps == [1.0]
    assert_clean(fake_github)


async def test_tree_5xx_persisting_gives_neutral_run_with_reason(
    fake_github: FakeGitHub, deliver: Deliver, sleeps: Sleeps
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    fake_github.fail("GET", "/git/trees/", 503, times=10)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["conclusion"] == "neutral"
    assert "HTTP 503" in run["output"]["summary"]
    # Three requests per attempt (the client's own retries), three attempts
    # of the delivery (TEST_RETRY) before the failure is published.
    assert len(fake_github.calls("GET", "/git/trees/")) == 9
    assert_clean(fake_github)


async def test_transient_failure_says_retrying_then_the_true_verdict(
    fake_github: FakeGitHub, deliver: Deliver, store: Any
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    # A run the App made before (the store knows it) is updated in place.
    earlier = fake_github.add_check_run(REPO, sha, "musl-check")
    await store.set_check_run(fake_github.repos[REPO].id, sha, earlier["id"])
    # Reading the commit fails on every try of the first attempt.
    fake_github.fail("GET", "/git/trees/", 502, times=3)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    want = check_run_output(analyse(folder_files(RIPGREP)))
    assert (run["status"], run["conclusion"]) == ("completed", want.conclusion)
    assert run["output"]["title"] == want.title
    retrying = [
        c.body
        for c in fake_github.calls("PATCH", "/check-runs/")
        if c.body.get("output", {}).get("title") == "retrying"
    ]
    assert len(retrying) == 1
    assert retrying[0]["status"] == "in_progress"
    assert "HTTP 502" in retrying[0]["output"]["summary"]
    assert fake_github.calls("POST", "/check-runs") == []
    assert_clean(fake_github)


async def test_transient_failure_before_any_run_makes_one_run_later(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    # Creating the (completed) run fails on every try of the first attempt:
    # nothing is in progress meanwhile, and the retry creates it.
    fake_github.fail("POST", "/check-runs", 502, times=3)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["conclusion"] == conclusion_of(folder_files(RIPGREP))
    assert fake_github.calls("PATCH", "/check-runs/") == []
    assert_clean(fake_github)


async def test_failure_that_cannot_be_published_is_logged(
    fake_github: FakeGitHub, deliver: Deliver, caplog: pytest.LogCaptureFixture
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    fake_github.fail("GET", "/git/trees/", 404)
    fake_github.fail("POST", "/check-runs", 422)
    await deliver("check_suite.requested", sha=sha)
    assert fake_github.check_runs == []
    assert "could not publish the failure" in caplog.text


async def test_symlinks_and_submodules_are_skipped(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    files: dict[str, bytes | Entry] = dict(folder_files(RIPGREP))
    files["Dockerfile"] = Entry("Dockerfile", "120000", "blob", "a" * 40, 10)
    files["vendor-sub"] = Entry("vendor-sub", "160000", "commit", "b" * 40)
    sha = fake_github.add_commit(REPO, files)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["conclusion"] == conclusion_of(folder_files(RIPGREP))
    blob_paths = [r.path for r in fake_github.calls("GET", "/git/blobs/")]
    assert not any(p.endswith("a" * 40) or p.endswith("b" * 40) for p in blob_paths)
    assert_clean(fake_github)


async def test_push_to_default_branch_checks_head(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    await deliver("push.with-installation", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["status"] == "completed"


async def test_push_elsewhere_or_deleting_is_ignored(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    other = adjust(
        "push.x",
        load_payload("push.with-installation"),
        fake_github,
        repo=REPO,
        sha=sha,
    )
    other["ref"] = "refs/heads/feature"
    await deliver("push.with-installation", sha=sha, payload=other)
    await deliver("push.with-installation", sha="0" * 40)
    assert fake_github.check_runs == []
    assert fake_github.requests == []


async def test_check_run_rerequested_reruns_that_commit(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    await deliver("check_suite.requested", sha=sha)
    await deliver("check_run.rerequested", sha=sha)
    # GitHub expects a re-requested run to be answered with a new run.
    first, second = fake_github.runs_for(REPO, sha)
    assert (
        first["conclusion"]
        == second["conclusion"]
        == conclusion_of(folder_files(RIPGREP))
    )
    assert len(fake_github.calls("POST", "/check-runs")) == 2


async def test_foreign_check_run_is_dropped(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP)
    data = adjust(
        "check_run.rerequested",
        load_payload("check_run.rerequested"),
        fake_github,
        repo=REPO,
        sha=sha,
    )
    data["check_run"]["app"]["id"] = APP_ID + 1
    await deliver("check_run.rerequested", sha=sha, payload=data)
    assert fake_github.requests == []


async def test_disabled_config_skips(fake_github: FakeGitHub, deliver: Deliver) -> None:
    files = folder_files(RIPGREP)
    files[".github/musl-check.yml"] = b"enabled: false\n"
    sha = fake_github.add_commit(REPO, files)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["conclusion"] == "skipped"
    assert_clean(fake_github)


async def test_config_neutral_on_failure_and_errors_shown(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    files = folder_files(TOKEI)
    assert conclusion_of(files) == "failure"
    files[".github/musl-check.yml"] = b"failure_conclusion: neutral\nbogus: 1\n"
    sha = fake_github.add_commit(REPO, files)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["conclusion"] == "neutral"
    assert "`.github/musl-check.yml`: " in run["output"]["summary"]
    assert "bogus" in run["output"]["summary"]
    assert_clean(fake_github)


async def test_installation_events_are_recorded(
    fake_github: FakeGitHub, deliver: Deliver, store: Any
) -> None:
    fake_github.add_repo(REPO)
    await deliver("installation.created")
    await deliver("installation_repositories.added")
    await deliver("installation.deleted")
    await deliver("installation.suspend")
    await deliver("ping.with-app_id")
    # Installation scans read the payloads' repositories' trees (absent
    # here): one request each, no runs.
    assert fake_github.check_runs == []
    assert {r.path for r in fake_github.requests} <= {
        "/app/installations/1/access_tokens",
        "/repos/Codertocat/Hello-World/git/trees/HEAD",
        "/repos/Codertocat/Space/git/trees/HEAD",
    }
    assert fake_github.violations == []


# A repository with nothing to do with Rust: a Node project with CI.
NOT_RUST: dict[str, bytes | Entry] = {
    "package.json": b'{"name": "web"}\n',
    "README.md": b"# web\n",
    ".github/workflows/ci.yml": (
        b"on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        b"    steps:\n      - run: npm test\n"
    ),
    "Dockerfile": b"FROM node:22-alpine\nRUN npm ci\n",
}


@pytest.mark.parametrize(
    "name",
    ["check_suite.requested", "pull_request.synchronize", "push.with-installation"],
)
async def test_no_check_run_where_rust_is_absent(
    name: str, fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_commit(REPO, NOT_RUST)
    resp = await deliver(name, sha=sha)
    assert resp.status == 202
    assert fake_github.calls("GET", "/git/trees/")  # it did look
    assert fake_github.check_runs == []
    assert not fake_github.calls("POST", "/check-runs")
    assert not fake_github.calls("POST", "/reviews")
    assert not fake_github.calls("POST", "/comments")
    assert_clean(fake_github)


@pytest.mark.parametrize(
    "extra",
    [
        {".github/musl-check.yml": b"enabled: true\n"},
        {"rust-toolchain.toml": b'[toolchain]\nchannel = "1.93"\n'},
        {"tools/Cargo.lock": b"version = 3\n"},
        {"native/core/Cargo.toml": b'[package]\nname = "core"\n'},
        {
            ".github/workflows/ci.yml": b"jobs:\n  b:\n    steps:\n"
            b"      - run: cargo build --target x86_64-unknown-linux-musl\n"
        },
    ],
    ids=["config", "toolchain", "nested-lockfile", "member-manifest", "musl-build"],
)
async def test_any_sign_of_rust_gets_a_run(
    extra: dict[str, bytes], fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_commit(REPO, {**NOT_RUST, **extra})
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    assert_clean(fake_github)


async def test_asked_for_explicitly_a_run_is_made_anyway(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_commit(REPO, NOT_RUST)
    await deliver("check_run.rerequested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    # The commit is checked: an automatic trigger for it costs nothing.
    before = len(fake_github.requests)
    await deliver("check_suite.requested", sha=sha)
    assert len(fake_github.runs_for(REPO, sha)) == 1
    assert fake_github.requests[before:] == []
    assert_clean(fake_github)
