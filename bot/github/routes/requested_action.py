"""The check run's "Fix libc" button (`check_run` requested_action).

GitHub shows the button only to people with write access, but the sender is
checked anyway; the run is mapped to its pull request through its
`external_id` (the runner stores the pull number there), else through
GET commits/{sha}/pulls, since `check_run.pull_requests` is empty for forks.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any, Final

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github import fixer, payload
from bot.github.client import GitHubClient
from bot.github.context import Context
from bot.github.routes.issue_comment import check_fixed_head, may_write
from bot.github.runner import CheckTarget

logger = logging.getLogger(__name__)

router = Router()

FIX_IDENTIFIER: Final = fixer.FIX_ACTION["identifier"]


async def pull_of(gh: GitHubClient, target: CheckTarget) -> int | None:
    """Return the open pull request whose head is the run's commit, if any."""
    if target.pull_number is not None:
        return target.pull_number
    pulls: Any = await gh.getitem(
        "/repos/{owner}/{repo}/commits/{sha}/pulls",
        {"owner": target.owner, "repo": target.repo, "sha": target.head_sha},
    )
    for pull in pulls if isinstance(pulls, list) else []:
        if not isinstance(pull, Mapping):
            continue
        number = pull.get("number")
        if pull.get("state", "open") == "open" and type(number) is int:
            return number
    return None


@router.register("check_run", action="requested_action")
async def on_requested_action(event: Event, gh: GitHubClient, *, ctx: Context) -> None:
    """Apply the fix when the "Fix libc" button is pressed."""
    data = event.data
    if payload.optional(data, "requested_action.identifier") != FIX_IDENTIFIER:
        return
    target = CheckTarget.from_check_run(data)
    login = payload.optional_text(data, "sender.login") or ""
    log = {"delivery": event.delivery_id, "repo": target.full_name}
    if not await may_write(gh, target.owner, target.repo, login):
        logger.info("fix button refused: no write access", extra=log)
        return
    number = await pull_of(gh, target)
    if number is not None:
        result = await fixer.fix_pull(gh, ctx, target.owner, target.repo, number)
        await gh.post(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            {"owner": target.owner, "repo": target.repo, "number": str(number)},
            data={"body": f"@{login} {result.message}"},
        )
        target = dataclasses.replace(target, pull_number=number)
    else:
        default = payload.optional_text(data, "repository.default_branch") or ""
        result = await fixer.fix_branch_head(
            gh,
            ctx,
            target.owner,
            target.repo,
            target.head_sha,
            target.head_branch,
            default,
        )
    logger.info("fix button", extra={**log, "status": result.status.value})
    await check_fixed_head(ctx, target, result)
