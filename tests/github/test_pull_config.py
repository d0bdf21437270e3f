"""A pull request is checked with its base branch's config, never its own."""

from __future__ import annotations

from typing import Any

import pytest

from bot.github.runner import CONFIG_CHANGED
from tests.fake_github import FakeGitHub, folder_files
from tests.fake_github.git_data import set_branch
from tests.github.conftest import REPO, Deliver, adjust, load_payload
from tests.paths import CORPUS

TOKEI = CORPUS / "XAMPPRocky__tokei@f6b8cadeba"  # getrandom 0.2.7: a failure
CONFIG = ".github/musl-check.yml"
SUMMARY_NOTICE = "takes effect after merge"


def pull_payload(
    fake: FakeGitHub, action: str, head: str, base: str, *, fork: bool = True
) -> dict[str, Any]:
    name = f"pull_request.{action}"
    data = adjust(name, load_payload(name), fake, repo=REPO, sha=head, fork=fork)
    data["pull_request"]["base"]["sha"] = base
    return data


def commits(
    fake: FakeGitHub, base_config: bytes | None, head_config: bytes | None
) -> tuple[str, str]:
    files = folder_files(TOKEI)
    base_files = dict(files)
    if base_config is not None:
        base_files[CONFIG] = base_config
    head_files = {**files, "src/lib.rs": b"// change\n"}
    if head_config is not None:
        head_files[CONFIG] = head_config
    base = fake.add_commit(REPO, base_files)
    set_branch(fake, REPO, "main", base)
    return base, fake.add_commit(REPO, head_files)


@pytest.mark.parametrize(
    "head_config",
    [
        b"enabled: false\n",
        b"failure_conclusion: neutral\n",
        b'ignore_paths: ["**"]\n',
        b'ignore_targets: ["*"]\n',
    ],
)
async def test_fork_cannot_configure_its_own_failure_away(
    fake_github: FakeGitHub, deliver: Deliver, head_config: bytes
) -> None:
    base, head = commits(fake_github, None, head_config)
    data = pull_payload(fake_github, "opened", head, base)
    await deliver("pull_request.opened", payload=data)
    (run,) = fake_github.runs_for(REPO, head)
    assert run["conclusion"] == "failure", run["output"]["title"]
    assert CONFIG_CHANGED in run["output"]["summary"]
    assert fake_github.violations == []


async def test_new_config_errors_are_marked_on_their_lines(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    head_config = b"suggestions: true\nbogus: 1\nsummary_comment: maybe\n"
    base, head = commits(fake_github, b"suggestions: true\n", head_config)
    await deliver(
        "pull_request.opened", payload=pull_payload(fake_github, "opened", head, base)
    )
    (run,) = fake_github.runs_for(REPO, head)
    marked = [
        (a["start_line"], a["message"])
        for a in run["output"]["annotations"]
        if a["path"] == CONFIG
    ]
    assert marked == [
        (2, "unknown key 'bogus'"),
        (3, "summary_comment: expected true or false, got text"),
    ]
    assert SUMMARY_NOTICE in run["output"]["summary"]
    assert fake_github.violations == []


async def test_base_config_applies_and_is_read_once_per_base(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    # The base branch asks for neutral; the pull request removes the file.
    base, head = commits(fake_github, b"failure_conclusion: neutral\n", None)
    await deliver(
        "pull_request.opened", payload=pull_payload(fake_github, "opened", head, base)
    )
    (run,) = fake_github.runs_for(REPO, head)
    assert run["conclusion"] == "neutral"
    assert CONFIG_CHANGED in run["output"]["summary"]
    reads = fake_github.calls("GET", "/repos/acme/app/contents/")
    assert [r.query for r in reads] == [{"ref": base}]
    # A new push on the same base reads no config again.
    newer = fake_github.add_commit(
        REPO, {**folder_files(TOKEI), "src/lib.rs": b"// newer\n"}
    )
    await deliver(
        "pull_request.synchronize",
        payload=pull_payload(fake_github, "synchronize", newer, base),
    )
    (again,) = fake_github.runs_for(REPO, newer)
    assert again["conclusion"] == "neutral"
    assert len(fake_github.calls("GET", "/repos/acme/app/contents/")) == 1
    assert fake_github.violations == []


async def test_unchanged_config_says_nothing(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    same = b"latent_notices: false\n"
    base, head = commits(fake_github, same, same)
    await deliver(
        "pull_request.opened",
        payload=pull_payload(fake_github, "opened", head, base, fork=False),
    )
    (run,) = fake_github.runs_for(REPO, head)
    assert run["conclusion"] == "failure"
    assert SUMMARY_NOTICE not in run["output"]["summary"]
    assert all(a["path"] != CONFIG for a in run["output"]["annotations"])


async def test_base_commit_is_looked_up_when_the_trigger_does_not_name_it(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    from tests.fake_github.pulls import add_pull

    base, head = commits(fake_github, b"enabled: false\n", None)
    add_pull(fake_github, REPO, 7, head_sha=head, base_sha=base)
    data = adjust(
        "check_run.rerequested",
        load_payload("check_run.rerequested"),
        fake_github,
        repo=REPO,
        sha=head,
    )
    data["check_run"]["external_id"] = "7"
    data["check_run"]["pull_requests"] = []
    await deliver("check_run.rerequested", payload=data)
    (run,) = fake_github.runs_for(REPO, head)
    assert run["conclusion"] == "skipped"
    assert len(fake_github.calls("GET", "/pulls/7")) == 1


async def test_oversized_base_config_is_not_read_whole(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    huge = b"enabled: false\n" + b"# padding\n" * 10_000  # 100 KB
    base, head = commits(fake_github, huge, huge)
    await deliver(
        "pull_request.opened",
        payload=pull_payload(fake_github, "opened", head, base, fork=False),
    )
    (run,) = fake_github.runs_for(REPO, head)
    assert run["conclusion"] == "failure"
    summary = run["output"]["summary"]
    assert "on the base branch: larger than 65536 bytes; ignored" in summary
    assert SUMMARY_NOTICE not in summary
