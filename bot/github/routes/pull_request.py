"""`pull_request` opened/synchronize/reopened: check the head, in the base repo."""

from __future__ import annotations

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github.client import GitHubClient
from bot.github.context import Context
from bot.github.runner import CheckTarget, run_check

router = Router()


@router.register("pull_request", action="opened")
@router.register("pull_request", action="synchronize")
@router.register("pull_request", action="reopened")
async def on_pull_request(event: Event, gh: GitHubClient, *, ctx: Context) -> None:
    """Check a pull request's head commit (fork heads included)."""
    await run_check(CheckTarget.from_pull_request(event.data), ctx, quiet=True)
