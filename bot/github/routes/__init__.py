"""Webhook routing: one module per event, combined into one router."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github import payload, scan
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


@contextlib.asynccontextmanager
async def background(*, ctx: Context) -> AsyncIterator[None]:
    """Run the scan feeder and the periodic rescan while a worker runs."""
    tasks = [
        asyncio.create_task(
            scan.feed_loop(ctx.scan_wake, ctx.store, ctx.clients.rates)
        ),
        asyncio.create_task(_rescan_loop(ctx)),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


# How often a worker looks whether the periodic rescan is due.
RESCAN_CHECK_S = 600.0


async def _rescan_loop(ctx: Context) -> None:
    """Enqueue every repository of every installation each MUSL_CHECK_RESCAN_HOURS."""
    interval_s = ctx.settings.rescan_hours * 3600
    if interval_s <= 0:
        return
    while True:
        now = time.time()
        try:
            if await scan.rescan_due(ctx.store, interval_s, now):
                queued = await scan.rescan(
                    ctx.store,
                    ctx.clients.app_client(),
                    ctx.client,
                    scan.rescan_trigger(now, interval_s),
                    wake=ctx.scan_wake,
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
