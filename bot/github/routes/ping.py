"""`ping`: GitHub says hello when the hook is created."""

from __future__ import annotations

import logging

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github.client import GitHubClient
from bot.github.context import Context

logger = logging.getLogger(__name__)

router = Router()


@router.register("ping")
async def on_ping(event: Event, gh: GitHubClient, *, ctx: Context) -> None:
    """Log the ping; nothing else to do."""
    hook = event.data.get("hook") or {}
    logger.info(
        "ping", extra={"delivery": event.delivery_id, "hook_id": hook.get("id")}
    )
