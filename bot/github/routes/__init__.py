"""Webhook routing: one module per event, combined into one router."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiohttp import web
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github import payload
from bot.github.recovery import recover_missed
from bot.github.routes import (
    check_run,
    check_suite,
    installation,
    issue_comment,
    ping,
    pull_request,
    push,
    requested_action,
)
from bot.github.runner import deps_for

logger = logging.getLogger(__name__)

router = Router(
    check_suite.router,
    check_run.router,
    pull_request.router,
    push.router,
    installation.router,
    ping.router,
    issue_comment.router,
    requested_action.router,
)


def is_foreign_check_run(event: Event, app_id: str) -> bool:
    """Return whether a check_run event concerns another App's run."""
    if event.event != "check_run":
        return False
    return str(payload.optional(event.data, "check_run.app.id")) != app_id


async def handle(event: Event, app: web.Application) -> None:
    """Dispatch one verified delivery to the routes registered for it."""
    deps = deps_for(app)
    # Other CI (Actions...) floods check_run created/completed: drop it early.
    if is_foreign_check_run(event, deps.settings.app_id):
        return
    action = event.data.get("action")
    if action is not None and not isinstance(action, str):
        raise payload.PayloadError("action", "is not a string")
    installation_id = payload.optional(event.data, "installation.id")
    if type(installation_id) is int:
        gh = deps.client(installation_id)
    else:
        gh = deps.clients.app_client()
    logger.debug(
        "dispatch",
        extra={"delivery": event.delivery_id, "event": event.event},
    )
    await router.dispatch(event, gh, app=app)


async def recover(app: web.Application) -> int:
    """Ask GitHub to redeliver what the App missed; return how many (one pass)."""
    deps = deps_for(app)
    done = await recover_missed(
        deps.clients.app_client(), deps.store, now=datetime.now(UTC)
    )
    return done.redelivered
