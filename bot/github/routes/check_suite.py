"""`check_suite` requested/rerequested: check the suite's head commit."""

from __future__ import annotations

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github.client import GitHubClient
from bot.github.context import Context
from bot.github.runner import CheckTarget, run_check

router = Router()


@router.register("check_suite", action="requested")
@router.register("check_suite", action="rerequested")
async def on_check_suite(event: Event, gh: GitHubClient, *, ctx: Context) -> None:
    """Check the head commit of a new or re-requested check suite."""
    await run_check(CheckTarget.from_check_suite(event.data), ctx, quiet=True)
