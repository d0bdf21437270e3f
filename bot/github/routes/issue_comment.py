"""`/musl-check` comment commands on pull requests: run, fix, help.

Only comments on pull requests count (`issue.pull_request` present); comments
by bots (this App included) are ignored to avoid loops, and an edited comment
acts only on commands its previous body did not hold (docs/github.md 9).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import gidgethub
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.core.commands import (
    HELP_TEXT,
    Command,
    CommandKind,
    new_commands,
    parse_commands,
)
from bot.core.render import escape_markdown
from bot.github import fixer, payload, reviews
from bot.github.client import GitHubClient
from bot.github.context import Context
from bot.github.runner import CheckTarget, run_check

logger = logging.getLogger(__name__)

router = Router()

# maintain maps to write in this endpoint's `permission` (docs/github.md 9).
WRITE_PERMISSIONS: Final = frozenset({"admin", "maintain", "write"})


@dataclass(frozen=True, slots=True)
class CommentCommands:
    """The new commands of one comment, and where to answer."""

    installation_id: int
    repo_id: int
    owner: str
    repo: str
    number: int
    comment_id: int
    login: str
    commands: tuple[Command, ...]

    @classmethod
    def from_event(cls, data: Mapping[str, Any]) -> CommentCommands | None:
        """Return the commands to act on, or None when the comment is ignored."""
        if not payload.optional(data, "issue.pull_request"):
            return None
        if payload.optional(data, "comment.user.type") == "Bot":
            return None
        login = payload.optional_text(data, "comment.user.login")
        if login is None or login.endswith("[bot]"):
            return None
        body = payload.optional_text(data, "comment.body") or ""
        if data.get("action") == "edited":
            old = payload.optional_text(data, "changes.body.from")
            if old is None:
                return None  # title edit or similar: the body did not change
            commands = new_commands(old, body)
        else:
            commands = parse_commands(body)
        if not commands:
            return None
        return cls(
            installation_id=payload.integer(data, "installation.id"),
            repo_id=payload.integer(data, "repository.id"),
            owner=payload.name(data, "repository.owner.login"),
            repo=payload.name(data, "repository.name"),
            number=payload.integer(data, "issue.number"),
            comment_id=payload.integer(data, "comment.id"),
            login=login,
            commands=commands,
        )

    @property
    def vars(self) -> dict[str, str]:
        """Return the repository URL variables."""
        return {"owner": self.owner, "repo": self.repo}


async def react(gh: GitHubClient, cc: CommentCommands, content: str) -> None:
    """Add a reaction to the command's comment."""
    await gh.post(
        "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
        {**cc.vars, "id": str(cc.comment_id)},
        data={"content": content},
    )


async def reply(gh: GitHubClient, cc: CommentCommands, body: str) -> None:
    """Answer on the pull request's conversation."""
    await gh.post(
        "/repos/{owner}/{repo}/issues/{number}/comments",
        {**cc.vars, "number": str(cc.number)},
        data={"body": body[: reviews.MAX_BODY]},
    )


async def permission_of(gh: GitHubClient, owner: str, repo: str, login: str) -> str:
    """Return the user's permission on the repository ("none" when 404)."""
    try:
        data = await gh.getitem(
            "/repos/{owner}/{repo}/collaborators/{user}/permission",
            {"owner": owner, "repo": repo, "user": login},
        )
    except gidgethub.BadRequest as exc:
        if exc.status_code == 404:
            return "none"
        raise
    return str(data.get("permission") or "none")


async def may_write(gh: GitHubClient, owner: str, repo: str, login: str) -> bool:
    """Return whether `login` has write access (author_association is not enough)."""
    return await permission_of(gh, owner, repo, login) in WRITE_PERMISSIONS


async def pull_target(
    gh: GitHubClient, installation_id: int, repo_id: int, owner: str, repo: str, n: int
) -> CheckTarget:
    """Return the check target of pull request `n` at its current head."""
    pull = await gh.getitem(
        "/repos/{owner}/{repo}/pulls/{number}",
        {"owner": owner, "repo": repo, "number": str(n)},
    )
    return CheckTarget(
        installation_id=installation_id,
        repo_id=repo_id,
        owner=owner,
        repo=repo,
        head_sha=payload.commit_sha(pull, "head.sha"),
        pull_number=n,
        head_branch=payload.optional_text(pull, "head.ref"),
        is_fork=payload.optional(pull, "head.repo.id") != repo_id,
    )


async def recheck(gh: GitHubClient, ctx: Context, target: CheckTarget) -> bool:
    """Run the check for a pull request head; its feedback is re-published too."""
    return await run_check(target, ctx, fresh_feedback=True) is not None


async def check_fixed_head(
    ctx: Context, target: CheckTarget, result: fixer.FixResult
) -> None:
    """Give the commit a fix created its own check run.

    GitHub announces the push (synchronize, check_suite) as well; the run is
    found again by (repository, sha) then, not duplicated.
    """
    if not result.ok or result.commit_sha is None:
        return
    if result.status is fixer.FixStatus.FORK_COMMITTED:
        return  # the fork's commit: GitHub's pull_request.synchronize checks it
    if result.status is fixer.FixStatus.COMMITTED:
        number, branch = target.pull_number, result.branch
    else:
        number, branch = result.pull_number, result.branch
    await run_check(
        dataclasses.replace(
            target,
            head_sha=result.commit_sha,
            pull_number=number,
            head_branch=branch,
            is_fork=False,
        ),
        ctx,
    )


async def _run(gh: GitHubClient, ctx: Context, cc: CommentCommands) -> None:
    target = await pull_target(
        gh, cc.installation_id, cc.repo_id, cc.owner, cc.repo, cc.number
    )
    if await recheck(gh, ctx, target):
        await react(gh, cc, "rocket")
    else:
        await react(gh, cc, "confused")
        await reply(
            gh,
            cc,
            f"@{cc.login} musl-check could not check {target.head_sha[:12]}; "
            "the check run says why.",
        )


async def _fix(gh: GitHubClient, ctx: Context, cc: CommentCommands) -> None:
    if not await may_write(gh, cc.owner, cc.repo, cc.login):
        await react(gh, cc, "confused")
        await reply(
            gh,
            cc,
            f"@{cc.login} needs write access to this repository to run "
            "`/musl-check fix`. Anyone can run `/musl-check` to re-check.",
        )
        return
    result = await fixer.fix_pull(gh, ctx, cc.owner, cc.repo, cc.number)
    await react(gh, cc, "rocket" if result.ok else "confused")
    await reply(gh, cc, f"@{cc.login} {result.message}")
    target = CheckTarget(
        cc.installation_id, cc.repo_id, cc.owner, cc.repo, "", pull_number=cc.number
    )
    await check_fixed_head(ctx, target, result)


async def _help(gh: GitHubClient, cc: CommentCommands, command: Command) -> None:
    # The word is comment text: one code span, whatever backticks it holds.
    word = escape_markdown(command.unknown, code=True)
    prefix = f"Unknown command {word}.\n\n" if command.unknown else ""
    await reply(gh, cc, prefix + HELP_TEXT)
    await react(gh, cc, "+1")


@router.register("issue_comment", action="created")
@router.register("issue_comment", action="edited")
async def on_issue_comment(event: Event, gh: GitHubClient, *, ctx: Context) -> None:
    """Act on the new `/musl-check` commands of a pull-request comment."""
    cc = CommentCommands.from_event(event.data)
    if cc is None:
        return
    await react(gh, cc, "eyes")
    for command in cc.commands:
        try:
            if command.kind is CommandKind.RUN:
                await _run(gh, ctx, cc)
            elif command.kind is CommandKind.FIX:
                await _fix(gh, ctx, cc)
            else:
                await _help(gh, cc, command)
        except gidgethub.HTTPException as exc:
            logger.warning(
                "command failed",
                extra={
                    "delivery": event.delivery_id,
                    "repo": f"{cc.owner}/{cc.repo}",
                    "command": command.kind.value,
                    "status": exc.status_code,
                },
            )
            await react(gh, cc, "confused")
            await reply(
                gh,
                cc,
                f"@{cc.login} `/musl-check {command.kind.value}` failed: GitHub "
                f"answered HTTP {exc.status_code}.",
            )
