"""`push` to the default branch: check the pushed head commit."""

from __future__ import annotations

from aiohttp import web
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github.client import GitHubClient
from bot.github.runner import NULL_SHA, CheckTarget, run_check

router = Router()


@router.register("push")
async def on_push(event: Event, gh: GitHubClient, *, app: web.Application) -> None:
    """Check the default branch's new head; ignore other refs and deletions."""
    data = event.data
    default = (data.get("repository") or {}).get("default_branch")
    if data.get("ref") != f"refs/heads/{default}":
        return
    if data.get("deleted") or data.get("after") in (None, NULL_SHA):
        return
    await run_check(CheckTarget.from_push(data), app)
