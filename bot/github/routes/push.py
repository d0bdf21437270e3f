"""`push` to the default branch: check the pushed head commit, maybe open a fix PR."""

from __future__ import annotations

import logging

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github import fixer, payload
from bot.github.client import GitHubClient
from bot.github.context import Context
from bot.github.org_config import ORG_REPO
from bot.github.reviews import is_at_risk
from bot.github.runner import NULL_SHA, CheckTarget, run_check

logger = logging.getLogger(__name__)

router = Router()


@router.register("push")
async def on_push(event: Event, gh: GitHubClient, *, ctx: Context) -> None:
    """Check the default branch's new head; ignore other refs and deletions.

    When it is at risk and `.github/musl-check.yml` sets `fix_pull_requests`,
    the one fix pull request is opened (or moved onto the new head).
    """
    data = event.data
    default = payload.optional_text(data, "repository.default_branch")
    if default is None or data.get("ref") != f"refs/heads/{default}":
        return
    if data.get("deleted") or data.get("after") in (None, NULL_SHA):
        return
    target = CheckTarget.from_push(data)
    if target.repo == ORG_REPO:  # the organisation's default config may change
        ctx.org_configs.forget(target.owner)
    report = await run_check(target, ctx, quiet=True)
    if report is None or not is_at_risk(report):
        return
    result = await fixer.fix_default_branch(
        gh, ctx, target.owner, target.repo, target.head_sha, default
    )
    if result is not None:
        if result.pull_number is not None:
            await ctx.store.set_fix_pull(
                target.installation_id, target.repo_id, result.pull_number
            )
        logger.info(
            "default branch fix",
            extra={
                "delivery": event.delivery_id,
                "repo": target.full_name,
                "status": result.status.value,
            },
        )
