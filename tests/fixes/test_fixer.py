"""The fix through the git data API, against the fake GitHub that really commits."""

from __future__ import annotations

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


async def test_fork_pull_gets_one_fix_pull_request(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    text = ripgrep_lock()
    base = commit_files(fake_github, text)
    head = commit_files(fake_github, text, b"fork change\n")
    add_pull(fake_github, REPO, 7, head_sha=head, base_sha=base, head_repo="forker/app")
    plan = plan_for(text, "0.2.144", "0.2.146")
    target = FixTarget(
        "acme", "app", head, "main", push_branch=None, pull_number=7, is_fork=True
    )
    result = await apply_fix(gh, target, plan, text)
    assert result.status is FixStatus.PR_OPENED, result.message
    fix = pulls_of(fake_github, REPO)[result.pull_number or 0]
    assert (fix.head_ref, fix.base_ref) == ("musl-check/libc-0.2.146", "main")
    assert "#7" in fix.body
    tip = branch_sha(fake_github, REPO, "musl-check/libc-0.2.146")
    assert tip is not None
    # The fork's Cargo.lock equals main's, so the fix starts from main alone.
    assert meta_of(fake_github, REPO)[tip]["parents"] == [base]
    assert (
        libc_of(read_file(fake_github, REPO, tip, "Cargo.lock"))["checksum"]
        == (CKSUM["0.2.146"])
    )
    again = await apply_fix(gh, target, plan, text)
    assert again.status is FixStatus.UP_TO_DATE
    assert again.pull_number == result.pull_number
    assert len(fake_github.calls("POST", "/repos/acme/app/pulls")) == 1
    assert violations(fake_github) == []


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
    assert meta_of(fake_github, REPO)[tip]["parents"] == [second]
    assert len(fake_github.calls("POST", "/repos/acme/app/pulls")) == 1
    forced = fake_github.calls("PATCH", "/git/refs/heads/musl-check")
    assert forced[-1].body["force"] is True
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
