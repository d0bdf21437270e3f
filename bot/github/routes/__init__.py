"""Webhook routing: one module per event, combined into one router."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github import payload, scan
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


async def scan_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the scan feeder and the periodic rescan while a worker runs."""
    deps = deps_for(app)
    tasks = [
        asyncio.create_task(scan.feed_loop(app, deps.store, deps.clients.rates)),
        asyncio.create_task(_rescan_loop(app)),
    ]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


# How often a worker looks whether the periodic rescan is due.
RESCAN_CHECK_S = 600.0


async def _rescan_loop(app: web.Application) -> None:
    """Enqueue every repository of every installation each MUSL_CHECK_RESCAN_HOURS."""
    deps = deps_for(app)
    interval_s = deps.settings.rescan_hours * 3600
    if interval_s <= 0:
        return
    while True:
        now = time.time()
        try:
            if await scan.rescan_due(deps.store, interval_s, now):
                queued = await scan.rescan(
                    deps.store,
                    deps.clients.app_client(),
                    deps.client,
                    scan.rescan_trigger(now, interval_s),
                    app=app,
                )
                logger.info(
                    "periodic rescan queued",
                    extra={"installations": len(queued), "items": sum(queued.values())},
                )
        except Exception as exc:
            logger.warning(
                "periodic rescan failed",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )
        await asyncio.sleep(min(RESCAN_CHECK_S, interval_s))
