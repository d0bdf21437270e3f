"""The fix through the git data API, against the fake GitHub that really commits."""

from __future__ import annotations

import dataclasses
import tomllib

import gidgethub
import pytest

from bot.core.fixes import FixPlan
from bot.github.client import GitHubClient
from bot.github.fixer import (
    FixStatus,
    FixTarget,
    apply_fix,
    commit_message,
    fix_actions,
)
from tests.fake_github import FakeGitHub
from tests.fake_github.git_data import branch_sha, meta_of, read_file, set_branch
from tests.fake_github.pulls import add_pull, pulls_of
from tests.fixes.index_data import CKSUM
from tests.fixes.test_reviews import REPO, RIPGREP, plan_for, ripgrep_lock, with_libc


def violations(fake: FakeGitHub) -> list[str]:
    """Return schema violations, minus pulls/create, which the subset lacks."""
    gap = "POST /repos/acme/app/pulls: not an operation of the schema"
    return [v for v in fake.violations if v != gap]


def commit_files(fake: FakeGitHub, lock_text: str, readme: bytes = b"") -> str:
    fake.add_repo(REPO)
    files = {p: (RIPGREP / p).read_bytes() for p in ("Cargo.toml", "Cross.toml")}
    if readme:
        files["README.md"] = readme
    return fake.add_commit(REPO, {**files, "Cargo.lock": lock_text.encode()})


def libc_of(data: bytes | None) -> dict[str, str]:
    assert data is not None
    lock = tomllib.loads(data.decode())
    [libc] = [p for p in lock["package"] if p["name"] == "libc"]
    return libc


def test_commit_message_says_what_and_why() -> None:
    plan = plan_for(ripgrep_lock(), "0.2.144", "0.2.146")
    message = commit_message(plan)
    assert message.startswith("Update libc 0.2.144 -> 0.2.146")
    assert "musl 1.2.4 removed the LFS64 symbols" in message
    assert "Rust 1.93" in message
    assert "musl 1.2.5" in message


async def test_same_repo_branch_gets_a_fast_forward_commit(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    text = ripgrep_lock()
    head = commit_files(fake_github, text)
    set_branch(fake_github, REPO, "update-deps", head)
    plan = plan_for(text, "0.2.144", "0.2.146")
    target = FixTarget("acme", "app", head, "main", push_branch="update-deps")
    result = await apply_fix(gh, target, plan, text)
    assert result.status is FixStatus.COMMITTED, result.message
    new = branch_sha(fake_github, REPO, "update-deps")
    assert new == result.commit_sha
    assert meta_of(fake_github, REPO)[new]["parents"] == [head]
    assert libc_of(read_file(fake_github, REPO, new, "Cargo.lock")) == {
        "name": "libc",
        "version": "0.2.146",
        "source": "registry+https://github.com/rust-lang/crates.io-index",
        "checksum": CKSUM["0.2.146"],
    }
    # Only Cargo.lock changed: base_tree kept every other file.
    for path in ("Cargo.toml", "Cross.toml"):
        assert read_file(fake_github, REPO, new, path) == (RIPGREP / path).read_bytes()
    refs = fake_github.calls("PATCH", "/git/refs/heads/update-deps")
    assert refs[0].body == {"sha": new, "force": False}
    assert violations(fake_github) == []


async def test_moved_branch_is_left_alone(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    text = ripgrep_lock()
    head = commit_files(fake_github, text)
    newer = commit_files(fake_github, text, b"newer\n")
    set_branch(fake_github, REPO, "update-deps", newer)
    plan = plan_for(text, "0.2.144", "0.2.146")
    target = FixTarget("acme", "app", head, "main", push_branch="update-deps")
    result = await apply_fix(gh, target, plan, text)
    assert result.status is FixStatus.HEAD_MOVED
    assert "moved" in result.message
    assert fake_github.calls("POST", "/git/") == []
    assert branch_sha(fake_github, REPO, "update-deps") == newer


async def test_rejected_ref_update_is_reported(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    text = ripgrep_lock()
    head = commit_files(fake_github, text)
    set_branch(fake_github, REPO, "update-deps", head)
    fake_github.fail("PATCH", "/git/refs/heads/update-deps", 422)
    plan = plan_for(text, "0.2.144", "0.2.146")
    target = FixTarget("acme", "app", head, "main", push_branch="update-deps")
    # The branch did not move, so the 422 is not a race: it surfaces.
    with pytest.raises(gidgethub.BadRequest):
        await apply_fix(gh, target, plan, text)
    assert branch_sha(fake_github, REPO, "update-deps") == head


FORK = "forker/app"


def fork_pull(
    fake: FakeGitHub, text: str, *, allowed: bool, head_files: dict[str, bytes]
) -> tuple[str, str, FixTarget]:
    """Add a fork pull request #7 (head in the fork, visible in the base repo)."""
    base = commit_files(fake, text)
    set_branch(fake, REPO, "main", base)
    files = {p: (RIPGREP / p).read_bytes() for p in ("Cargo.toml", "Cross.toml")}
    files = {**files, "Cargo.lock": text.encode(), **head_files}
    head = fake.add_commit(REPO, files)
    fake.add_repo(FORK, installation_id=2)  # the contributor's: not installed
    fake.add_commit(FORK, files, sha=head)
    add_pull(
        fake,
        REPO,
        7,
        head_sha=head,
        base_sha=base,
        head_repo=FORK,
        maintainer_can_modify=allowed,
    )
    target = FixTarget(
        "acme",
        "app",
        head,
        "main",
        push_branch="update-deps",
        pull_number=7,
        is_fork=True,
        head_full_name=FORK,
        maintainer_can_modify=allowed,
        head_ref="update-deps",
    )
    return base, head, target


def base_writes(fake: FakeGitHub) -> list[str]:
    """Return every write the App sent to the base repository."""
    return [
        f"{r.method} {r.path}"
        for r in fake.requests
        if r.method != "GET" and r.path.startswith("/repos/acme/app/")
    ]


async def test_fork_pull_is_fixed_on_the_fork_branch_when_edits_are_allowed(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    text = ripgrep_lock()
    _base, head, target = fork_pull(
        fake_github, text, allowed=True, head_files={"build.rs": b"fn main() {}\n"}
    )
    plan = plan_for(text, "0.2.144", "0.2.146")
    result = await apply_fix(gh, target, plan, text)
    assert result.status is FixStatus.FORK_COMMITTED, result.message
    assert result.ok
    assert "`forker/app`" in result.message
    tip = branch_sha(fake_github, FORK, "update-deps")
    assert tip == result.commit_sha
    # The commit lives in the fork, on the fork head, and changes only Cargo.lock.
    assert meta_of(fake_github, FORK)[tip]["parents"] == [head]
    assert libc_of(read_file(fake_github, FORK, tip, "Cargo.lock"))["version"] == (
        "0.2.146"
    )
    assert read_file(fake_github, FORK, tip, "build.rs") == b"fn main() {}\n"
    assert base_writes(fake_github) == []
    assert violations(fake_github) == []


@pytest.mark.parametrize("allowed_by_github", [False, True])
async def test_fork_pull_without_maintainer_edits_gets_the_command(
    fake_github: FakeGitHub, gh: GitHubClient, allowed_by_github: bool
) -> None:
    text = ripgrep_lock()
    _base, _head, target = fork_pull(
        fake_github, text, allowed=allowed_by_github, head_files={}
    )
    if allowed_by_github:
        # The payload said edits were allowed, GitHub refuses anyway (403).
        pulls_of(fake_github, REPO)[7].maintainer_can_modify = False
    else:
        target = dataclasses.replace(target, maintainer_can_modify=False)
    plan = plan_for(text, "0.2.144", "0.2.146")
    result = await apply_fix(gh, target, plan, text)
    assert result.status is FixStatus.FORK_COMMAND
    assert not result.ok
    assert f"`{plan.command}`" in result.message
    assert base_writes(fake_github) == []
    assert branch_sha(fake_github, FORK, "update-deps") == target.head_sha


async def test_deleted_fork_gets_the_command(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    text = ripgrep_lock()
    head = commit_files(fake_github, text)
    target = FixTarget(
        "acme", "app", head, "main", push_branch="x", pull_number=7, is_fork=True
    )
    result = await apply_fix(gh, target, plan_for(text, "0.2.144", "0.2.146"), text)
    assert result.status is FixStatus.FORK_COMMAND
    assert "no longer exists" in result.message
    assert fake_github.requests == []


async def test_same_repo_default_branch_pull_gets_its_own_fix_branch(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    text = ripgrep_lock()
    base = commit_files(fake_github, text)
    head = commit_files(fake_github, text, b"release notes\n")
    set_branch(fake_github, REPO, "release", base)
    set_branch(fake_github, REPO, "main", head)
    plan = plan_for(text, "0.2.144", "0.2.146")
    target = FixTarget("acme", "app", head, "release", pull_number=8, head_ref="main")
    result = await apply_fix(gh, target, plan, text)
    assert result.status is FixStatus.PR_OPENED, result.message
    assert result.branch == "musl-check/libc-0.2.146-pr-8"
    tip = branch_sha(fake_github, REPO, result.branch)
    assert tip is not None
    # Cargo.lock is the same as on release: the fix starts from release's tip.
    assert meta_of(fake_github, REPO)[tip]["parents"] == [base]
    # main moved on: nothing is built on a commit that is not its tip.
    newer = commit_files(fake_github, text, b"newer\n")
    set_branch(fake_github, REPO, "main", newer)
    again = await apply_fix(gh, target, plan, text)
    assert again.status is FixStatus.HEAD_MOVED
    assert branch_sha(fake_github, REPO, result.branch) == tip


async def test_default_branch_fix_needs_the_analysed_commit_at_the_tip(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    # A sha the base repository can read but no branch of it holds (a fork's
    # head, say) never becomes the parent of a fix commit.
    text = ripgrep_lock()
    main = commit_files(fake_github, text)
    other = commit_files(fake_github, text, b"fork\n")
    set_branch(fake_github, REPO, "main", main)
    plan = plan_for(text, "0.2.144", "0.2.146")
    result = await apply_fix(gh, FixTarget("acme", "app", other, "main"), plan, text)
    assert result.status is FixStatus.HEAD_MOVED
    assert base_writes(fake_github) == []


async def test_default_branch_fix_pr_is_updated_not_duplicated(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    text = ripgrep_lock()
    first = commit_files(fake_github, text)
    set_branch(fake_github, REPO, "main", first)
    plan = plan_for(text, "0.2.144", "0.2.146")
    opened = await apply_fix(gh, FixTarget("acme", "app", first, "main"), plan, text)
    assert opened.status is FixStatus.PR_OPENED
    # A new push to main (still at risk): the same PR's branch moves onto it.
    second = commit_files(fake_github, text, b"more\n")
    set_branch(fake_github, REPO, "main", second)
    updated = await apply_fix(gh, FixTarget("acme", "app", second, "main"), plan, text)
    assert updated.status is FixStatus.PR_UPDATED
    assert updated.pull_number == opened.pull_number
    tip = branch_sha(fake_github, REPO, "musl-check/libc-0.2.146")
    assert tip is not None
    # A fast-forward: on the new main, and on the branch's previous tip.
    assert meta_of(fake_github, REPO)[tip]["parents"] == [second, opened.commit_sha]
    assert libc_of(read_file(fake_github, REPO, tip, "Cargo.lock"))["version"] == (
        "0.2.146"
    )
    assert read_file(fake_github, REPO, tip, "README.md") == b"more\n"
    assert len(fake_github.calls("POST", "/repos/acme/app/pulls")) == 1
    moved = fake_github.calls("PATCH", "/git/refs/heads/musl-check")
    assert [r.body["force"] for r in moved] == [False]
    again = await apply_fix(gh, FixTarget("acme", "app", second, "main"), plan, text)
    assert again.status is FixStatus.UP_TO_DATE
    assert violations(fake_github) == []


async def test_plan_without_edits_gives_the_command(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    text = with_libc(ripgrep_lock(), "0.2.140")
    plan = FixPlan(
        "Cargo.lock",
        "0.2.140",
        None,
        "cargo update -p libc",
        reason="the crates.io index could not be reached",
    )
    result = await apply_fix(gh, FixTarget("acme", "app", "a" * 40, "main"), plan, text)
    assert result.status is FixStatus.NOT_EDITABLE
    assert "cargo update -p libc" in result.message
    assert fake_github.requests == []


def test_fix_button_only_for_at_risk_reports_with_a_fix() -> None:
    from bot.core.findings import Verdict
    from tests.fixes.test_reviews import report

    plan = plan_for(ripgrep_lock(), "0.2.144", "0.2.146")
    [action] = fix_actions(report(Verdict.AT_RISK, plan))
    assert action == {
        "label": "Fix libc",
        "description": "Update libc in Cargo.lock to 0.2.146+",
        "identifier": "fix-libc",
    }
    assert len(action["label"]) <= 20
    assert len(action["identifier"]) <= 20
    assert len(action["description"]) <= 40
    assert fix_actions(report(Verdict.MUSL_LIBC_OK, None)) == []


@pytest.mark.parametrize(
    "branch", ["main#x", "main?x=1", "50%25off", "100%", "feature/x", "ünïcödé", "a..b"]
)
async def test_branch_names_are_sent_as_one_encoded_segment(
    fake_github: FakeGitHub, gh: GitHubClient, branch: str
) -> None:
    text = ripgrep_lock()
    main = commit_files(fake_github, text)
    head = commit_files(fake_github, text, b"branch\n")
    set_branch(fake_github, REPO, "main", main)
    set_branch(fake_github, REPO, branch, head)
    plan = plan_for(text, "0.2.144", "0.2.146")
    target = FixTarget("acme", "app", head, "main", push_branch=branch)
    result = await apply_fix(gh, target, plan, text)
    assert result.status is FixStatus.COMMITTED, result.message
    assert branch_sha(fake_github, REPO, branch) == result.commit_sha
    assert branch_sha(fake_github, REPO, "main") == main
    [patch] = fake_github.calls("PATCH", "/git/refs/")
    assert patch.path == f"/repos/acme/app/git/refs/heads/{branch}"
    assert violations(fake_github) == []
