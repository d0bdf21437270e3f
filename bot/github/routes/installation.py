"""`installation` and `installation_repositories`: bookkeeping in the store."""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github.client import GitHubClient
from bot.github.runner import deps_for

logger = logging.getLogger(__name__)

router = Router()

ACTIVE: Final = {
    "created": True,
    "unsuspend": True,
    "new_permissions_accepted": True,
    "deleted": False,
    "suspend": False,
}


@router.register("installation")
async def on_installation(
    event: Event, gh: GitHubClient, *, app: web.Application
) -> None:
    """Record an installation as active or not; forget tokens of gone ones."""
    active = ACTIVE.get(str(event.data.get("action")))
    if active is None:
        return
    installation = event.data["installation"]
    installation_id = int(installation["id"])
    deps = deps_for(app)
    account = str((installation.get("account") or {}).get("login", ""))
    await deps.store.set_installation(installation_id, account, active)
    if not active:
        # Tokens die with the installation; suspended ones fail until unsuspend.
        deps.clients.forget(installation_id)
    logger.info(
        "installation recorded",
        extra={"installation_id": installation_id, "active": active},
    )


@router.register("installation_repositories")
async def on_installation_repositories(
    event: Event, gh: GitHubClient, *, app: web.Application
) -> None:
    """Record that the installation is active when its repositories change."""
    installation = event.data["installation"]
    account = str((installation.get("account") or {}).get("login", ""))
    await deps_for(app).store.set_installation(int(installation["id"]), account, True)
