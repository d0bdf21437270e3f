"""Pull-request feedback: one review of suggested changes, one sticky summary comment.

Suggestions replace the exact Cargo.lock lines the core's FixPlan edits. GitHub
only accepts review comments on lines shown in the pull request's diff hunks
(docs/github.md 5.2) and rejects the whole review with 422 otherwise, so every range
is checked against the file's `patch` first; when one is not commentable no
review is posted and the summary comment carries the fix instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from bot.core import render
from bot.core.diffs import suggestion_range
from bot.core.findings import Report, Verdict
from bot.core.fixes import FixPlan
from bot.github.client import GitHubClient

logger = logging.getLogger(__name__)

SUMMARY_MARKER: Final = "<!-- musl-check:summary -->"
SUGGESTION_MARKER: Final = "<!-- musl-check:suggestion -->"
# GitHub's limit for issue and review comment bodies (docs/github.md 5.4).
MAX_BODY: Final = 65_536
MAX_SUGGESTIONS: Final = 10
# GET pulls/{n}/files lists at most 3000 files.
MAX_PULL_FILES: Final = 3000
MAX_LISTED_COMMENTS: Final = 1000
# Edits this close together go into one suggestion (the lines between are kept).
MERGE_GAP: Final = 3
OUTSIDE_DIFF: Final = (
    "The lines to change are not part of this pull request's diff, so GitHub "
    "does not allow a suggested change there."
)


@dataclass(frozen=True, slots=True)
class AppIdentity:
    """This App as GitHub shows it on what it posts."""

    app_id: int | None  # None when configured by client id only
    login: str  # "<slug>[bot]"

    def wrote(self, item: Mapping[str, Any]) -> bool:
        """Return whether this App authored the comment `item`.

        Any `Bot` is not enough: another App (or a workflow's token) can post a
        comment that starts with our marker, and editing it would put our
        words under someone else's name, or take theirs for our summary.
        """
        app = item.get("performed_via_github_app")
        app_id = app.get("id") if isinstance(app, dict) else None
        if self.app_id is not None and app_id == self.app_id:
            return True
        user = item.get("user")
        return (
            isinstance(user, dict)
            and user.get("type") == "Bot"
            and user.get("login") == self.login
        )


@dataclass(frozen=True, slots=True)
class PullRequest:
    """The pull request feedback goes to, at the head commit that was analysed."""

    owner: str
    repo: str
    number: int
    head_sha: str
    author: AppIdentity  # this App: only its own comments are reused

    @property
    def vars(self) -> dict[str, str]:
        """Return the URL variables of the pull request."""
        return {"owner": self.owner, "repo": self.repo, "number": str(self.number)}


@dataclass(frozen=True, slots=True)
class SuggestedChange:
    """Replace lines `start_line`..`line` (RIGHT side) of `path` with `new_lines`."""

    path: str
    start_line: int
    line: int
    new_lines: tuple[str, ...]

    def comment(self, plan: FixPlan) -> dict[str, Any]:
        """Return the review comment body for GitHub (`pulls/create-review`)."""
        body = (
            f"{SUGGESTION_MARKER}\n"
            f"Update libc {_code(plan.old_version)} → {_code(plan.new_version)}: "
            "musl 1.2.4 "
            "removed the LFS64 symbols older libc links against, and Rust 1.93 "
            "bundles musl 1.2.5.\n\n"
            f"{render.render_suggestion(list(self.new_lines))}"
        )
        out: dict[str, Any] = {
            "path": self.path,
            "body": body,
            "line": self.line,
            "side": "RIGHT",
        }
        # A single-line comment must not carry start_line (422 otherwise).
        if self.start_line != self.line:
            out["start_line"] = self.start_line
            out["start_side"] = "RIGHT"
        return out


def _code(text: str | None) -> str:
    """Return repository text (versions, paths, commands) as one code span."""
    return render.escape_markdown(text or "", code=True)


class SuggestionStatus(StrEnum):
    """What happened to the suggestions for one pull-request head."""

    POSTED = "posted"
    ALREADY_POSTED = "already-posted"
    NOT_POSSIBLE = "not-possible"
    DISABLED = "disabled"
    NOTHING = "nothing"  # no editable fix


@dataclass(frozen=True, slots=True)
class SuggestionResult:
    """The outcome of `publish_suggestions`; `reason` says why none were posted."""

    status: SuggestionStatus
    count: int = 0
    reason: str = ""


def plan_suggestions(
    plan: FixPlan, text: str, patch: str | None, *, cap: int = MAX_SUGGESTIONS
) -> tuple[tuple[SuggestedChange, ...], str]:
    """Return the suggested changes for `plan` inside `patch`, or () and why not.

    All or nothing: a partial fix (version changed, checksum not) would leave
    a lockfile Cargo rejects.
    """
    if not plan.edits or plan.new_version is None:
        return (), plan.reason or "No exact Cargo.lock edit is known for this fix."
    if patch is None:
        return (), OUTSIDE_DIFF
    lines = text.splitlines()
    edits = {e.line: e for e in plan.edits}
    for edit in plan.edits:
        if not 1 <= edit.line <= len(lines) or lines[edit.line - 1] != edit.old:
            return (), "Cargo.lock changed since it was analysed."
    groups: list[list[int]] = []
    for number in sorted(edits):
        if groups and number - groups[-1][-1] <= MERGE_GAP:
            groups[-1].append(number)
        else:
            groups.append([number])
    if len(groups) > cap:
        return (), f"The fix touches {len(groups)} places, more than {cap} comments."
    changes: list[SuggestedChange] = []
    for group in groups:
        span = suggestion_range(patch, group[0], group[-1])
        if span is None:
            return (), OUTSIDE_DIFF
        new_lines = tuple(
            edits[n].new if n in edits else lines[n - 1]
            for n in range(span[0], span[1] + 1)
        )
        changes.append(SuggestedChange(plan.path, span[0], span[1], new_lines))
    return tuple(changes), ""


async def list_pull_files(gh: GitHubClient, pull: PullRequest) -> dict[str, str | None]:
    """Return filename -> patch (None when GitHub gives no patch) for the pull."""
    files: dict[str, str | None] = {}
    async for item in gh.getiter(
        "/repos/{owner}/{repo}/pulls/{number}/files?per_page=100", pull.vars
    ):
        if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
            continue
        patch = item.get("patch")
        files[item["filename"]] = patch if isinstance(patch, str) else None
        if len(files) >= MAX_PULL_FILES:
            break
    return files


async def _already_suggested(
    gh: GitHubClient, pull: PullRequest, changes: Sequence[SuggestedChange]
) -> bool:
    wanted = {(c.path, c.line) for c in changes}
    seen = 0
    async for item in gh.getiter(
        "/repos/{owner}/{repo}/pulls/{number}/comments?per_page=100", pull.vars
    ):
        seen += 1
        if seen > MAX_LISTED_COMMENTS:
            break
        if not isinstance(item, dict) or not pull.author.wrote(item):
            continue
        if SUGGESTION_MARKER not in str(item.get("body", "")):
            continue
        if (
            item.get("commit_id") == pull.head_sha
            and (
                item.get("path"),
                item.get("line"),
            )
            in wanted
        ):
            return True
    return False


async def publish_suggestions(
    gh: GitHubClient,
    pull: PullRequest,
    plan: FixPlan | None,
    lock_text: str | None,
    *,
    enabled: bool = True,
) -> SuggestionResult:
    """Post one COMMENT review with the fix as suggested changes, when possible."""
    if not enabled:
        return SuggestionResult(SuggestionStatus.DISABLED)
    if plan is None or not plan.edits or lock_text is None:
        return SuggestionResult(
            SuggestionStatus.NOTHING, reason=plan.reason if plan else ""
        )
    files = await list_pull_files(gh, pull)
    changes, reason = plan_suggestions(plan, lock_text, files.get(plan.path))
    if not changes:
        return SuggestionResult(SuggestionStatus.NOT_POSSIBLE, reason=reason)
    if await _already_suggested(gh, pull, changes):
        return SuggestionResult(SuggestionStatus.ALREADY_POSTED, len(changes))
    await gh.post(
        "/repos/{owner}/{repo}/pulls/{number}/reviews",
        pull.vars,
        data={
            "commit_id": pull.head_sha,
            "event": "COMMENT",
            "body": (
                f"{SUGGESTION_MARKER}\nmusl-check: this pull request's Cargo.lock "
                f"holds libc {_code(plan.old_version)}, which does not link "
                "against musl 1.2.5. The suggestion below moves it to "
                f"{_code(plan.new_version)} (same as {_code(plan.command)})."
            ),
            "comments": [c.comment(plan) for c in changes],
        },
    )
    return SuggestionResult(SuggestionStatus.POSTED, len(changes))


def is_at_risk(report: Report) -> bool:
    """Return whether the report calls for a summary comment."""
    return report.verdict is Verdict.AT_RISK


def _clip(body: str) -> str:
    if len(body) <= MAX_BODY:
        return body
    tail = "\n\n… (truncated; the check run has the full report)"
    return body[: MAX_BODY - len(tail)] + tail


def summary_body(report: Report, head_sha: str, notes: Sequence[str] = ()) -> str:
    """Return the sticky summary comment for an at-risk head commit."""
    parts = [SUMMARY_MARKER, render.render_markdown(report).rstrip()]
    for fix in report.fixes:
        parts.append(f"**Fix:** run {_code(fix.command)} and commit {_code(fix.path)}.")
    if report.fixes:
        parts.append(
            "Comment `/musl-check fix` (write access needed) or use the check "
            "run's **Fix libc** button and musl-check commits the fix for you."
        )
    parts.extend(notes)
    parts.append(f"<sub>musl-check, analysed at {head_sha}</sub>")
    return _clip("\n\n".join(p for p in parts if p))


def fixed_body(head_sha: str) -> str:
    """Return the summary comment once the pull request is no longer at risk."""
    return (
        f"{SUMMARY_MARKER}\n✅ musl-check: fixed in {head_sha}. This pull "
        "request's musl build no longer links against removed LFS64 symbols."
    )


async def find_summary(gh: GitHubClient, pull: PullRequest) -> tuple[int, str] | None:
    """Return (id, body) of this App's summary comment on the pull request."""
    seen = 0
    async for item in gh.getiter(
        "/repos/{owner}/{repo}/issues/{number}/comments?per_page=100", pull.vars
    ):
        seen += 1
        if seen > MAX_LISTED_COMMENTS:
            break
        if not isinstance(item, dict) or not pull.author.wrote(item):
            continue
        body = item.get("body")
        if isinstance(body, str) and body.startswith(SUMMARY_MARKER):
            return int(item["id"]), body
    return None


class SummaryStatus(StrEnum):
    """What `publish_summary` did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    NONE = "none"  # never at risk: nothing posted
    DISABLED = "disabled"


async def publish_summary(
    gh: GitHubClient,
    pull: PullRequest,
    report: Report,
    notes: Sequence[str] = (),
    *,
    enabled: bool = True,
) -> SummaryStatus:
    """Create, edit in place, or mark fixed the one summary comment of the pull."""
    if not enabled:
        return SummaryStatus.DISABLED
    existing = await find_summary(gh, pull)
    if is_at_risk(report):
        body = summary_body(report, pull.head_sha, notes)
    elif existing is None:
        return SummaryStatus.NONE
    elif "✅ musl-check: fixed in" in existing[1]:
        return SummaryStatus.UNCHANGED
    else:
        body = fixed_body(pull.head_sha)
    if existing is None:
        await gh.post(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            pull.vars,
            data={"body": body},
        )
        return SummaryStatus.CREATED
    if _same_verdict(existing[1], body):
        return SummaryStatus.UNCHANGED
    await gh.patch(
        "/repos/{owner}/{repo}/issues/comments/{id}",
        {"owner": pull.owner, "repo": pull.repo, "id": str(existing[0])},
        data={"body": body},
    )
    return SummaryStatus.UPDATED


def _same_verdict(old: str, new: str) -> bool:
    # The footer names the analysed sha; a new head with the same findings
    # does not need an edit (and a notification).
    def strip(body: str) -> str:
        return body.rsplit("\n\n<sub>musl-check, analysed at", 1)[0]

    return strip(old) == strip(new)


async def head_moved(gh: GitHubClient, pull: PullRequest) -> bool:
    """Return whether the pull request's head is no longer the analysed commit."""
    data = await gh.getitem("/repos/{owner}/{repo}/pulls/{number}", pull.vars)
    head = (data.get("head") or {}) if isinstance(data, dict) else {}
    return head.get("sha") != pull.head_sha


@dataclass(frozen=True, slots=True)
class Feedback:
    """Everything posted on a pull request for one analysed head."""

    suggestions: SuggestionResult
    summary: SummaryStatus


async def publish_feedback(
    gh: GitHubClient,
    pull: PullRequest,
    report: Report,
    files: Mapping[str, bytes],
    *,
    suggestions: bool = True,
    summary_comment: bool = True,
    index_unreachable: bool = False,
) -> Feedback | None:
    """Post suggestions and the summary for an analysed head; None if it moved on."""
    if await head_moved(gh, pull):
        return None
    plan = report.fixes[0] if report.fixes else None
    lock_text = None
    if plan is not None and plan.path in files:
        lock_text = files[plan.path].decode("utf-8", errors="replace")
    result = SuggestionResult(SuggestionStatus.NOTHING)
    if is_at_risk(report):
        result = await publish_suggestions(
            gh, pull, plan, lock_text, enabled=suggestions
        )
    notes: list[str] = []
    if result.status in (SuggestionStatus.POSTED, SuggestionStatus.ALREADY_POSTED):
        notes.append(
            "The review comments on Cargo.lock carry this fix as suggested "
            "changes: **Commit suggestion** applies it."
        )
    elif result.status is SuggestionStatus.NOT_POSSIBLE and result.reason:
        notes.append(f"No suggested change: {render.escape_message(result.reason)}")
    if index_unreachable and is_at_risk(report):
        notes.append(
            "The crates.io index could not be reached, so only the command is "
            "given; comment `/musl-check run` to try again."
        )
    status = await publish_summary(gh, pull, report, notes, enabled=summary_comment)
    return Feedback(result, status)
