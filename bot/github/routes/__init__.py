"""Webhook routing: one module per event, combined into one router."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github import payload
from bot.github.context import Context
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


async def handle(event: Event, *, ctx: Context) -> None:
    """Dispatch one verified delivery to the routes registered for it."""
    # Other CI (Actions...) floods check_run created/completed: drop it early.
    if is_foreign_check_run(event, ctx.settings.app_id):
        return
    action = event.data.get("action")
    if action is not None and not isinstance(action, str):
        raise payload.PayloadError("action", "is not a string")
    installation_id = payload.optional(event.data, "installation.id")
    if type(installation_id) is int:
        gh = ctx.client(installation_id)
    else:
        gh = ctx.clients.app_client()
    logger.debug(
        "dispatch",
        extra={"delivery": event.delivery_id, "event": event.event},
    )
    await router.dispatch(event, gh, ctx=ctx)


async def recover(*, ctx: Context) -> int:
    """Ask GitHub to redeliver what the App missed; return how many (one pass)."""
    done = await recover_missed(
        ctx.clients.app_client(), ctx.store, now=datetime.now(UTC)
    )
    return done.redelivered
