"""`check_suite` requested/rerequested: check the suite's head commit."""

from __future__ import annotations

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github.client import GitHubClient
from bot.github.context import Context
from bot.github.runner import CheckTarget, run_check

router = Router()


@router.register("check_suite", action="requested")
async def on_check_suite(event: Event, gh: GitHubClient, *, ctx: Context) -> None:
    """Check the head commit of a new check suite (once per commit)."""
    await run_check(CheckTarget.from_check_suite(event.data), ctx, quiet=True)


@router.register("check_suite", action="rerequested")
async def on_check_suite_rerequested(
    event: Event, gh: GitHubClient, *, ctx: Context
) -> None:
    """Re-run all: check the commit again, in a new run (see `runner._run`)."""
    await run_check(CheckTarget.from_check_suite(event.data), ctx)
