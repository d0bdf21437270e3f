"""Background work: consumers take deliveries from the store's queue, one path.

Every delivery, fresh from /webhook, recorded by another instance, left by
a consumer that died or sent back after a transient failure, reaches the
handler the same way: a consumer takes it from the store (a lease with a
short visibility timeout, renewed while the work runs), processes it, and
acknowledges it (`finish`) or releases it with a backoff delay. /webhook only
records a delivery and wakes one idle consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import gidgethub
from aiohttp import web
from gidgethub.sansio import Event

from bot.github.client import is_transient
from bot.github.payload import PayloadError
from bot.queue import Attempt, RetryLater, enter_attempt
from bot.server.delivery import LazyEvent, is_json_object
from bot.server.state import RUNTIME_KEY, STORE_KEY, Runtime
from bot.store import Store, StoredDelivery

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S: Final = 25.0
# How often GitHub is asked for deliveries the App missed (docs/github.md 1.4).
RECOVERY_INTERVAL_S: Final = 300.0
# Longest a check run's closing call may take when the work itself was cut off.
CLOSE_TIMEOUT_S: Final = 10.0
STORE_PROBLEM: Final = "store"
AUTH_PROBLEM: Final = "github_auth"


class Failure(StrEnum):
    """Why processing a delivery failed (the `reason` label of the failures)."""

    TIMEOUT = "timeout"
    TRANSIENT = "transient"  # 5xx, rate limit, connection error: retried
    GITHUB = "github"  # another HTTP error from GitHub: final at once
    MALFORMED = "malformed"
    UNREADABLE = "unreadable"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended: an error (None: done), and whether to retry."""

    error: str | None = None
    failure: Failure | None = None
    retry: bool = False


async def work_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the consumers while the app runs; stop them and drain on shutdown."""
    rt = app[RUNTIME_KEY]
    if rt.handler is None:
        raise RuntimeError("no handler: the app was started without one")
    rt.consumer_tasks = [
        asyncio.create_task(_consume(app)) for _ in range(max(1, rt.consumers))
    ]
    recovery = asyncio.create_task(_recover_loop(app))
    yield
    recovery.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await recovery
    await stop(app, rt.drain_timeout_s)


async def _recover_loop(app: web.Application) -> None:
    """Ask GitHub for missed deliveries at start-up, then every few minutes."""
    rt = app[RUNTIME_KEY]
    if rt.recover is None or rt.recovery_interval_s <= 0:
        return
    while True:
        attempt = Attempt()
        enter_attempt(attempt)
        try:
            rt.metrics.redeliveries.inc(await rt.recover())
        except Exception as exc:
            rt.metrics.failures.labels("recovery").inc()
            logger.warning(
                "could not recover missed deliveries",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )
        if attempt.github_unauthorized:
            rt.problems[AUTH_PROBLEM] = "GitHub authentication failed (HTTP 401)"
        await asyncio.sleep(rt.recovery_interval_s)


async def drain(app: web.Application, timeout_s: float) -> None:
    """Wait up to `timeout_s` until the queue has nothing this app can take now.

    Idle means every consumer waits for work after finding none, and nothing
    is in processing (deliveries released with a delay do not count).
    """
    rt = app[RUNTIME_KEY]
    async with asyncio.timeout(timeout_s):
        while not rt.idle() or rt.tasks:
            rt.changed.clear()
            await rt.changed.wait()


async def stop(app: web.Application, timeout_s: float) -> None:
    """Stop taking work, give running work `timeout_s`, then cancel it.

    Cancelled deliveries are released at once (their check runs stay in
    progress), so the next consumer, here after a restart or in another
    process, resumes them.
    """
    rt = app[RUNTIME_KEY]
    rt.stopping = True
    rt.wake_all()
    tasks = set(rt.tasks)
    if tasks:
        _, left = await asyncio.wait(tasks, timeout=timeout_s)
        for task in left:
            task.cancel()
        if left:
            logger.warning(
                "shutdown handed unfinished work back", extra={"tasks": len(left)}
            )
            await asyncio.wait(left)
    for consumer in rt.consumer_tasks:
        consumer.cancel()
    for consumer in rt.consumer_tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
    rt.consumer_tasks = []


async def _wait_for_work(rt: Runtime, generation: int) -> None:
    if rt.generation != generation or rt.stopping:
        return  # work was announced while we looked: look again
    waiter = asyncio.get_running_loop().create_future()
    rt.waiters.append(waiter)
    rt.changed.set()
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(rt.poll_s):
                await waiter
    finally:
        if waiter in rt.waiters:
            rt.waiters.remove(waiter)


async def _consume(app: web.Application) -> None:
    rt = app[RUNTIME_KEY]
    store = app[STORE_KEY]
    while not rt.stopping:
        generation = rt.generation
        if not rt.has_room():
            await _wait_for_work(rt, generation)  # woken when work finishes
            continue
        try:
            delivery = await store.take(rt.owner, rt.visibility_s)
        except Exception as exc:
            _store_failed(rt, exc)
            await _wait_for_work(rt, generation)
            continue
        rt.problems.pop(STORE_PROBLEM, None)
        if delivery is None:
            await _wait_for_work(rt, generation)
            continue
        if rt.stopping:  # taken while shutting down: straight back
            await store.release(delivery.delivery_id, rt.owner, 0.0)
            return
        task = asyncio.create_task(_process(app, delivery))
        rt.tasks.add(task)
        task.add_done_callback(rt.tasks.discard)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)


def _store_failed(rt: Runtime, exc: Exception) -> None:
    first = STORE_PROBLEM not in rt.problems
    rt.problems[STORE_PROBLEM] = f"store unreachable ({type(exc).__name__})"
    rt.metrics.failures.labels("store").inc()
    if first:  # one warning per outage, not one per poll
        logger.warning("store unreachable", extra={"error": str(exc)})


def _event_from_stored(delivery: StoredDelivery) -> Event | None:
    if not is_json_object(delivery.body):
        return None
    return LazyEvent(
        delivery.body, event=delivery.event, delivery_id=delivery.delivery_id
    )


async def _process(app: web.Application, delivery: StoredDelivery) -> None:
    """Process one taken delivery, renewing its lease, and end the lease."""
    rt = app[RUNTIME_KEY]
    store = app[STORE_KEY]
    delivery_id = delivery.delivery_id
    size = len(delivery.body)
    log_extra = {
        "delivery_id": delivery_id,
        "event": delivery.event,
        "attempt": delivery.attempts,
    }
    rt.active.add(delivery_id)
    rt.queued_bytes += size
    if delivery.attempts > 1:
        rt.metrics.resumed.inc()
    if delivery.taken_over:
        rt.metrics.takeovers.inc()
        logger.info("took over a delivery whose consumer died", extra=log_extra)
    try:
        event = _event_from_stored(delivery)
        if event is None:
            rt.metrics.failures.labels(Failure.UNREADABLE).inc()
            await store.finish(delivery_id, "unreadable body")
            return
        attempt = Attempt(
            number=max(1, delivery.attempts),
            final=rt.retry.is_final(delivery.attempts),
        )
        enter_attempt(attempt)  # seen by the handler's task, created next
        outcome = await _attempt(app, event, attempt, log_extra)
        if attempt.github_unauthorized:
            rt.problems[AUTH_PROBLEM] = "GitHub authentication failed (HTTP 401)"
        elif outcome is not None and outcome.error is None:
            rt.problems.pop(AUTH_PROBLEM, None)
        if outcome is None:
            return  # lease lost, or handed back on shutdown
        if outcome.failure is not None:
            rt.metrics.failures.labels(outcome.failure).inc()
        if outcome.retry:
            delay = rt.retry.delay(attempt.number)
            await _close_runs(attempt, outcome.error or "", retrying=True)
            rt.metrics.retried.inc()
            logger.warning(
                "delivery failed transiently, retrying later",
                extra={**log_extra, "reason": outcome.error, "delay_s": delay},
            )
            await store.release(delivery_id, rt.owner, delay)
            return
        if outcome.error is not None:
            rt.metrics.failed.labels(delivery.event).inc()
            await _close_runs(attempt, outcome.error, retrying=False)
        await store.finish(delivery_id, outcome.error)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        _store_failed(rt, exc)
        logger.warning(
            "delivery bookkeeping failed", extra={**log_extra, "error": str(exc)}
        )
    finally:
        rt.active.discard(delivery_id)
        rt.queued_bytes -= size
        rt.changed.set()
        rt.notify()  # room for one more


async def _attempt(
    app: web.Application, event: Event, attempt: Attempt, log_extra: dict[str, object]
) -> Outcome | None:
    """Run the handler under a renewed lease and a timeout; None if not ours now."""
    rt = app[RUNTIME_KEY]
    store = app[STORE_KEY]
    delivery_id: str = event.delivery_id
    handler = rt.handler
    if handler is None:  # work_ctx refuses to start without one
        raise RuntimeError("no handler")
    work: asyncio.Future[None] = asyncio.ensure_future(handler(event))
    lost = asyncio.Event()
    beat = asyncio.create_task(_heartbeat(rt, store, delivery_id, work, lost))
    rt.metrics.in_flight.inc()
    start = time.perf_counter()
    try:
        async with asyncio.timeout(rt.work_timeout_s):
            await work
        return Outcome()
    except asyncio.CancelledError:
        if lost.is_set():
            logger.warning("delivery taken over by another consumer", extra=log_extra)
            return None
        # Shutting down: hand the delivery over to whoever takes it next.
        await asyncio.shield(store.release(delivery_id, rt.owner, 0.0))
        raise
    except TimeoutError:
        reason = f"the work timed out after {rt.work_timeout_s:g} s"
        return Outcome(reason, Failure.TIMEOUT, retry=not attempt.final)
    except RetryLater as exc:
        return Outcome(exc.reason, Failure.TRANSIENT, retry=not attempt.final)
    except PayloadError as exc:
        logger.warning(
            "delivery has a malformed payload", extra={**log_extra, "problem": str(exc)}
        )
        return Outcome(f"malformed payload: {exc}", Failure.MALFORMED)
    except gidgethub.HTTPException as exc:
        # The client logged the failed request (status, request id): no traceback.
        reason = f"GitHub answered HTTP {exc.status_code}"
        if is_transient(exc):
            return Outcome(reason, Failure.TRANSIENT, retry=not attempt.final)
        return Outcome(reason, Failure.GITHUB)
    except Exception as exc:
        if is_transient(exc):
            reason = f"GitHub unreachable ({type(exc).__name__})"
            return Outcome(reason, Failure.TRANSIENT, retry=not attempt.final)
        logger.exception("delivery processing failed", extra=log_extra)
        return Outcome(type(exc).__name__, Failure.INTERNAL)
    finally:
        beat.cancel()
        rt.metrics.in_flight.dec()
        rt.metrics.processing_for(event.event).observe(time.perf_counter() - start)


async def _heartbeat(
    rt: Runtime,
    store: Store,
    delivery_id: str,
    work: asyncio.Future[None],
    lost: asyncio.Event,
) -> None:
    """Renew the lease every third of the visibility timeout; cancel if lost."""
    while True:
        await asyncio.sleep(rt.visibility_s / 3)
        try:
            ours = await store.renew(delivery_id, rt.owner, rt.visibility_s)
        except Exception as exc:
            _store_failed(rt, exc)
            continue
        if not ours:
            lost.set()
            work.cancel()
            return


async def _close_runs(attempt: Attempt, reason: str, *, retrying: bool) -> None:
    """Say "retrying" on, or complete, the check runs the attempt left open."""
    for key, close in list(attempt.open_runs.items()):
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await close(reason, retrying)
        except Exception as exc:
            logger.warning(
                "could not update a check run left open",
                extra={"repo_id": key[0], "sha": key[1], "error": str(exc)},
            )
        else:
            if not retrying:
                attempt.open_runs.pop(key, None)
