"""`check_run` rerequested: check that run's commit again."""

from __future__ import annotations

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github.client import GitHubClient
from bot.github.context import Context
from bot.github.runner import CheckTarget, run_check

router = Router()


@router.register("check_run", action="rerequested")
async def on_check_run(event: Event, gh: GitHubClient, *, ctx: Context) -> None:
    """Re-run the check for the commit of a re-requested run."""
    await run_check(CheckTarget.from_check_run(event.data), ctx)
