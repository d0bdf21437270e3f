"""Suggestions and the summary comment, posted through the real client to the fake."""

from __future__ import annotations

import re
import tomllib

from bot.core.findings import Report, Verdict
from bot.core.fixes import FixPlan, LineEdit
from bot.github.client import GitHubClient
from bot.github.reviews import (
    MAX_BODY,
    SUMMARY_MARKER,
    AppIdentity,
    PullRequest,
    SuggestionStatus,
    SummaryStatus,
    plan_suggestions,
    publish_feedback,
    publish_summary,
)
from tests.conftest import APP_ID
from tests.fake_github import FakeGitHub
from tests.fake_github.pulls import add_pull, recorded
from tests.fixes.index_data import CKSUM
from tests.paths import CORPUS

RIPGREP = CORPUS / "BurntSushi__ripgrep@a7f1276021"
REPO = "acme/app"
LIBC_LINE = 290  # `version = "0.2.144"` in ripgrep's Cargo.lock
ME = AppIdentity(APP_ID, "musl-check[bot]")  # the fake's App (tests/conftest.py)


def ripgrep_lock() -> str:
    return (RIPGREP / "Cargo.lock").read_text()


def with_libc(text: str, vers: str) -> str:
    """Return ripgrep's lockfile with its libc block moved to `vers`."""
    return text.replace('version = "0.2.144"', f'version = "{vers}"', 1).replace(
        CKSUM["0.2.144"], CKSUM[vers]
    )


def plan_for(text: str, old: str, new: str) -> FixPlan:
    lines = text.splitlines()
    version = lines.index(f'version = "{old}"', LIBC_LINE - 5) + 1
    checksum = version + 2
    return FixPlan(
        path="Cargo.lock",
        old_version=old,
        new_version=new,
        command=f"cargo update -p libc --precise {new}",
        edits=(
            LineEdit(version, lines[version - 1], f'version = "{new}"'),
            LineEdit(checksum, lines[checksum - 1], f'checksum = "{CKSUM[new]}"'),
        ),
    )


def report(verdict: Verdict, plan: FixPlan | None) -> Report:
    return Report(
        verdict=verdict,
        lockfiles=(),
        musl_uses=(),
        findings=(),
        fixes=(plan,) if plan else (),
        root_lockfile="Cargo.lock",
    )


def setup_pull(fake: FakeGitHub, base_text: str, head_text: str) -> PullRequest:
    fake.add_repo(REPO)
    files = {p: (RIPGREP / p).read_bytes() for p in ("Cargo.toml", "Cross.toml")}
    base = fake.add_commit(REPO, {**files, "Cargo.lock": base_text.encode()})
    head = fake.add_commit(REPO, {**files, "Cargo.lock": head_text.encode()})
    add_pull(fake, REPO, 7, head_sha=head, base_sha=base)
    return PullRequest("acme", "app", 7, head, ME)


def apply_suggestions(text: str, comments: list[dict[str, object]]) -> str:
    """Apply posted suggestion comments to `text` the way GitHub's button does."""
    lines = text.splitlines()
    for comment in sorted(comments, key=lambda c: -int(str(c["line"]))):
        body = str(comment["body"])
        match = re.search(r"(`{3,})suggestion\n(.*?)\n\1", body, re.S)
        assert match is not None
        end = int(str(comment["line"]))
        start = int(str(comment.get("start_line") or end))
        lines[start - 1 : end] = match.group(2).split("\n")
    return "\n".join(lines) + "\n"


def test_plan_groups_version_and_checksum_into_one_range() -> None:
    text = with_libc(ripgrep_lock(), "0.2.140")
    plan = plan_for(text, "0.2.140", "0.2.146")
    patch = "@@ -287,9 +287,9 @@\n" + "\n".join(
        " " + line for line in text.splitlines()[286:295]
    )
    changes, reason = plan_suggestions(plan, text, patch)
    assert reason == ""
    assert [(c.start_line, c.line) for c in changes] == [(290, 292)]
    assert changes[0].new_lines[1] == text.splitlines()[290]  # source line kept


def test_plan_refuses_stale_text_and_too_many_places() -> None:
    text = ripgrep_lock()
    plan = plan_for(text, "0.2.144", "0.2.146")
    changes, reason = plan_suggestions(plan, text.replace("0.2.144", "0.2.1"), "")
    assert changes == ()
    assert "changed" in reason
    changes, reason = plan_suggestions(plan, text, "@@ -1 +1 @@\n-a\n+b", cap=0)
    assert changes == ()
    assert "more than 0" in reason


async def test_suggestion_inside_the_diff_is_posted_once(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    # The pull request moves libc 0.2.140 -> 0.2.144: still too old, and the
    # libc lines are in its diff, so the fix can be a suggested change.
    base_text = with_libc(ripgrep_lock(), "0.2.140")
    head_text = ripgrep_lock()
    pull = setup_pull(fake_github, base_text, head_text)
    plan = plan_for(head_text, "0.2.144", "0.2.146")
    files = {"Cargo.lock": head_text.encode()}
    feedback = await publish_feedback(gh, pull, report(Verdict.AT_RISK, plan), files)
    assert feedback is not None
    assert feedback.suggestions.status is SuggestionStatus.POSTED
    assert feedback.summary is SummaryStatus.CREATED
    assert not fake_github.violations
    review = fake_github.calls("POST", "/pulls/7/reviews")[0].body
    assert review["event"] == "COMMENT"
    assert review["commit_id"] == pull.head_sha
    [comment] = review["comments"]
    assert (comment["start_line"], comment["line"], comment["side"]) == (
        290,
        292,
        "RIGHT",
    )
    fixed = apply_suggestions(head_text, review["comments"])
    lock = tomllib.loads(fixed)
    [libc] = [p for p in lock["package"] if p["name"] == "libc"]
    assert libc == {
        "name": "libc",
        "version": "0.2.146",
        "source": "registry+https://github.com/rust-lang/crates.io-index",
        "checksum": CKSUM["0.2.146"],
    }
    # A re-run for the same head posts no second review and edits nothing.
    again = await publish_feedback(gh, pull, report(Verdict.AT_RISK, plan), files)
    assert again is not None
    assert again.suggestions.status is SuggestionStatus.ALREADY_POSTED
    assert again.summary is SummaryStatus.UNCHANGED
    assert len(fake_github.calls("POST", "/pulls/7/reviews")) == 1
    assert len(recorded(fake_github, "issue_comments", REPO)) == 1


async def test_single_line_suggestion_has_no_start_line(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    head_text = ripgrep_lock()
    pull = setup_pull(fake_github, with_libc(head_text, "0.2.140"), head_text)
    plan = plan_for(head_text, "0.2.144", "0.2.146")
    plan = FixPlan(
        plan.path, plan.old_version, plan.new_version, plan.command, plan.edits[:1]
    )
    await publish_feedback(
        gh, pull, report(Verdict.AT_RISK, plan), {"Cargo.lock": head_text.encode()}
    )
    [comment] = fake_github.calls("POST", "/pulls/7/reviews")[0].body["comments"]
    assert "start_line" not in comment
    assert comment["line"] == LIBC_LINE
    assert not fake_github.violations


async def test_suggestion_outside_the_diff_falls_back_to_the_summary(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    base_text = ripgrep_lock()
    # The pull request only touches lazy_static, five lines above libc.
    head_text = base_text.replace('version = "1.4.0"', 'version = "1.5.0"', 1)
    pull = setup_pull(fake_github, base_text, head_text)
    plan = plan_for(head_text, "0.2.144", "0.2.146")
    feedback = await publish_feedback(
        gh, pull, report(Verdict.AT_RISK, plan), {"Cargo.lock": head_text.encode()}
    )
    assert feedback is not None
    assert feedback.suggestions.status is SuggestionStatus.NOT_POSSIBLE
    assert fake_github.calls("POST", "/reviews") == []
    [summary] = recorded(fake_github, "issue_comments", REPO)
    assert summary["body"].startswith(SUMMARY_MARKER)
    assert "not part of this pull request's diff" in summary["body"]
    assert "cargo update -p libc --precise 0.2.146" in summary["body"]
    assert not fake_github.violations


async def test_summary_lifecycle(fake_github: FakeGitHub, gh: GitHubClient) -> None:
    head_text = ripgrep_lock()
    pull = setup_pull(fake_github, head_text, head_text)
    # Never at risk: nothing is posted.
    clean = report(Verdict.MUSL_LIBC_OK, None)
    assert await publish_summary(gh, pull, clean) is SummaryStatus.NONE
    assert recorded(fake_github, "issue_comments", REPO) == []
    plan = plan_for(head_text, "0.2.144", "0.2.146")
    at_risk = report(Verdict.AT_RISK, plan)
    assert await publish_summary(gh, pull, at_risk) is SummaryStatus.CREATED
    # Someone else's comment with the marker is not ours and is left alone.
    from tests.fake_github.pulls import add_issue_comment

    add_issue_comment(fake_github, REPO, 7, SUMMARY_MARKER + " spoof")
    notes = ["A note that changes the body."]
    assert await publish_summary(gh, pull, at_risk, notes) is SummaryStatus.UPDATED
    green = PullRequest("acme", "app", 7, "f" * 40, ME)
    assert await publish_summary(gh, green, clean) is SummaryStatus.UPDATED
    assert await publish_summary(gh, green, clean) is SummaryStatus.UNCHANGED
    ours = [
        c
        for c in recorded(fake_github, "issue_comments", REPO)
        if c["user"]["type"] == "Bot"
    ]
    assert len(ours) == 1
    assert f"fixed in {'f' * 40}" in ours[0]["body"]
    assert ours[0]["_edits"] == 2
    disabled = await publish_summary(gh, pull, at_risk, enabled=False)
    assert disabled is SummaryStatus.DISABLED
    assert not fake_github.violations


async def test_summary_body_is_capped(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    head_text = ripgrep_lock()
    pull = setup_pull(fake_github, head_text, head_text)
    plan = plan_for(head_text, "0.2.144", "0.2.146")
    notes = ["x" * 70_000]
    status = await publish_summary(gh, pull, report(Verdict.AT_RISK, plan), notes)
    assert status is SummaryStatus.CREATED
    [comment] = recorded(fake_github, "issue_comments", REPO)
    assert len(comment["body"]) <= MAX_BODY


async def test_moved_head_gets_no_feedback(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    head_text = ripgrep_lock()
    pull = setup_pull(fake_github, head_text, head_text)
    stale = PullRequest(pull.owner, pull.repo, pull.number, "e" * 40, ME)
    plan = plan_for(head_text, "0.2.144", "0.2.146")
    files = {"Cargo.lock": head_text.encode()}
    assert (
        await publish_feedback(gh, stale, report(Verdict.AT_RISK, plan), files) is None
    )
    assert fake_github.calls("POST") == []


async def test_another_bots_summary_and_suggestions_are_not_ours(
    fake_github: FakeGitHub, gh: GitHubClient
) -> None:
    from tests.fake_github.pulls import add_issue_comment

    head_text = ripgrep_lock()
    pull = setup_pull(fake_github, with_libc(head_text, "0.2.146"), head_text)
    # Another App's bot posts a "summary" and a "suggestion" with our markers.
    spoof = add_issue_comment(
        fake_github, REPO, 7, SUMMARY_MARKER + " spoof", login="evil[bot]"
    )
    spoof["user"]["type"] = "Bot"
    plan = plan_for(head_text, "0.2.144", "0.2.146")
    at_risk = report(Verdict.AT_RISK, plan)
    assert await publish_summary(gh, pull, at_risk) is SummaryStatus.CREATED
    assert spoof["body"] == SUMMARY_MARKER + " spoof"
    assert "_edits" not in spoof
    files = {"Cargo.lock": head_text.encode()}
    first = await publish_feedback(gh, pull, at_risk, files)
    assert first is not None
    assert first.suggestions.status is SuggestionStatus.POSTED
    for comment in recorded(fake_github, "review_comments", REPO):
        comment["user"]["login"] = "evil[bot]"
    again = await publish_feedback(gh, pull, at_risk, files)
    assert again is not None
    assert again.suggestions.status is SuggestionStatus.POSTED
    assert not fake_github.violations


def test_app_identity_by_app_id_or_bot_login() -> None:
    assert ME.wrote({"performed_via_github_app": {"id": APP_ID}, "user": None})
    assert ME.wrote({"user": {"login": "musl-check[bot]", "type": "Bot"}})
    assert not ME.wrote({"user": {"login": "other[bot]", "type": "Bot"}})
    assert not ME.wrote({"user": {"login": "musl-check[bot]", "type": "User"}})
    assert not ME.wrote({"performed_via_github_app": {"id": 1}, "user": {}})
    by_client_id = AppIdentity(None, "musl-check[bot]")
    assert not by_client_id.wrote({"performed_via_github_app": {"id": None}})
