"""Background work: process recorded deliveries, resume unfinished ones, drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web
from gidgethub.sansio import Event

from bot.github.payload import PayloadError
from bot.server.delivery import LazyEvent, is_json_object
from bot.server.state import RUNTIME_KEY, STORE_KEY
from bot.store import StoredDelivery

logger = logging.getLogger(__name__)

# One delivery's work is cut off after WORK_TIMEOUT_S; the lease outlives it so
# no other instance starts the same delivery while this one may still run.
WORK_TIMEOUT_S: Final = 100.0
LEASE_S: Final = 120.0
LEASE_MARGIN_S: Final = 5.0
# How often unfinished deliveries (from a crash or another instance) are resumed.
SWEEP_INTERVAL_S: Final = 60.0
RESUME_PAGE: Final = 100
DRAIN_TIMEOUT_S: Final = 25.0


async def work_ctx(app: web.Application) -> AsyncIterator[None]:
    rt = app[RUNTIME_KEY]
    sweeper = asyncio.create_task(_sweep(app))
    yield
    sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper
    await drain(app, rt.drain_timeout_s)


async def drain(app: web.Application, timeout_s: float) -> None:
    """Wait up to `timeout_s` for background work, then cancel what is left.

    Cancelled deliveries stay unfinished in the store and resume on next start.
    """
    rt = app[RUNTIME_KEY]
    tasks = set(rt.tasks)
    if not tasks:
        return
    _, left = await asyncio.wait(tasks, timeout=timeout_s)
    for task in left:
        task.cancel()
    if left:
        logger.warning("shutdown cancelled unfinished work", extra={"tasks": len(left)})
        await asyncio.wait(left)


async def _sweep(app: web.Application) -> None:
    rt = app[RUNTIME_KEY]
    while True:
        rt.wake.clear()
        try:
            await resume_pending(app)
        except Exception:
            logger.exception("could not resume pending deliveries")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(rt.sweep_interval_s):
                await rt.wake.wait()


async def resume_pending(app: web.Application) -> int:
    """Start work for recorded but unfinished deliveries; return how many.

    Takes as many as the in-memory queue has room for; while some are left
    (`backlog`), finishing work wakes the sweep again.
    """
    rt = app[RUNTIME_KEY]
    store = app[STORE_KEY]
    count = 0
    # A page of rows (bodies included, so not too many at once); a full page
    # may mean more are waiting.
    page = min(rt.max_queued, RESUME_PAGE)
    rt.backlog = False  # set again by a delivery deferred meanwhile
    rows = await store.pending(limit=page)
    if len(rows) >= page:
        rt.backlog = True
    for delivery in rows:
        if delivery.delivery_id in rt.active:
            continue
        if not rt.has_room(len(delivery.body)):
            rt.backlog = True
            break
        event = _event_from_stored(delivery)
        if event is None:
            await store.finish(delivery.delivery_id, "unreadable body")
            continue
        rt.metrics.resumed.inc()
        spawn(app, event, size=len(delivery.body))
        count += 1
    if count:
        logger.info("resumed deliveries", extra={"deliveries": count})
    return count


def _event_from_stored(delivery: StoredDelivery) -> Event | None:
    if not is_json_object(delivery.body):
        return None
    return LazyEvent(
        delivery.body, event=delivery.event, delivery_id=delivery.delivery_id
    )


def spawn(
    app: web.Application, event: Event, leased_until: float = 0.0, *, size: int
) -> None:
    """Process `event` (`size` body bytes) in the background.

    `leased_until` is a monotonic deadline of the lease this instance holds.
    """
    rt = app[RUNTIME_KEY]
    rt.active.add(event.delivery_id)
    rt.queued_bytes += size
    task = asyncio.create_task(_process(app, event, leased_until, size))
    rt.tasks.add(task)
    task.add_done_callback(rt.tasks.discard)


async def _process(
    app: web.Application, event: Event, leased_until: float, size: int
) -> None:
    rt = app[RUNTIME_KEY]
    store = app[STORE_KEY]
    delivery_id: str = event.delivery_id
    log_extra = {"delivery_id": delivery_id, "event": event.event}
    try:
        async with rt.semaphore:
            # A fresh delivery was leased to us when it was recorded; claim (or
            # renew) only if that lease could run out before the work times out.
            short = leased_until - time.monotonic() < WORK_TIMEOUT_S + LEASE_MARGIN_S
            if short and not await store.claim(delivery_id, rt.owner, LEASE_S):
                logger.info("delivery is leased elsewhere", extra=log_extra)
                return
            rt.metrics.in_flight.inc()
            start = time.perf_counter()
            error: str | None = None
            try:
                async with asyncio.timeout(WORK_TIMEOUT_S):
                    await rt.handler(event, app)
            except asyncio.CancelledError:
                # Shutting down: give the lease back so the next start resumes it.
                await asyncio.shield(store.claim(delivery_id, rt.owner, 0.0))
                raise
            except TimeoutError:
                error = "timed out"
                logger.error("delivery processing timed out", extra=log_extra)
            except PayloadError as exc:
                # A clear reason, no traceback: the payload, not the App, is odd.
                error = f"malformed payload: {exc}"
                logger.warning(
                    "delivery has a malformed payload",
                    extra={**log_extra, "problem": str(exc)},
                )
            except Exception as exc:
                error = type(exc).__name__
                logger.exception("delivery processing failed", extra=log_extra)
            finally:
                rt.metrics.in_flight.dec()
                rt.metrics.processing_for(event.event).observe(
                    time.perf_counter() - start
                )
            if error is not None:
                rt.metrics.failed.labels(event.event).inc()
            await store.finish(delivery_id, error)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("delivery bookkeeping failed", extra=log_extra)
    finally:
        rt.active.discard(delivery_id)
        rt.queued_bytes -= size
        if rt.backlog and len(rt.active) <= rt.max_queued // 2:
            rt.wake.set()
