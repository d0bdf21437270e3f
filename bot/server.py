"""The App's HTTP server: /webhook ingress, background work, health, metrics, status."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import importlib
import json
import logging
import os
import re
import secrets
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, cast

import orjson
import simdjson
from aiohttp import ClientSession, ClientTimeout, web
from gidgethub.sansio import Event
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.github.payload import PayloadError
from bot.settings import DEFAULT_PORT, Settings, SettingsError, needs_setup, read_env
from bot.store import Store, StoredDelivery, open_store

logger = logging.getLogger(__name__)

Handler = Callable[[Event, web.Application], Awaitable[None]]

SETTINGS_KEY: Final = web.AppKey("settings", Settings)
STORE_KEY: Final = web.AppKey("store", Store)
SESSION_KEY: Final = web.AppKey("session", ClientSession)

# Background work: at most this many deliveries processed at once, so a burst
# of webhooks does not become hundreds of concurrent GitHub calls.
MAX_CONCURRENT_WORK: Final = 8
# One delivery's work is cut off after WORK_TIMEOUT_S; the lease outlives it so
# no other instance starts the same delivery while this one may still run.
WORK_TIMEOUT_S: Final = 100.0
LEASE_S: Final = 120.0
LEASE_MARGIN_S: Final = 5.0
# How often unfinished deliveries (from a crash or another instance) are resumed.
SWEEP_INTERVAL_S: Final = 60.0
# Deliveries held in memory (queued for or in processing), by count and by
# body bytes. Past either bound a burst is only recorded (unleased) and answered;
# the sweep starts it once the queue has drained to half, so memory stays
# bounded however many deliveries arrive at once.
MAX_QUEUED: Final = 500
MAX_QUEUED_BYTES: Final = 64 * 1024 * 1024
RESUME_PAGE: Final = 100
DRAIN_TIMEOUT_S: Final = 25.0
RECENT_RESULTS: Final = 200
HTTP_TIMEOUT: Final = ClientTimeout(total=60, connect=10)
_EVENT_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DELIVERY_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SIGNATURE_PREFIX: Final = "sha256="


class Rejection(StrEnum):
    """Why a delivery was refused (the `reason` label of the rejected counter)."""

    TOO_LARGE = "too_large"
    MISSING_HEADER = "missing_header"
    BAD_HEADER = "bad_header"
    MISSING_SIGNATURE = "missing_signature"
    SHA1_ONLY = "sha1_only"
    BAD_SIGNATURE = "bad_signature"
    BAD_JSON = "bad_json"
    STORE_ERROR = "store_error"


@dataclass(slots=True)
class Metrics:
    """Prometheus metrics in a registry owned by one app (not the global one)."""

    registry: CollectorRegistry
    received: Counter
    rejected: Counter
    duplicates: Counter
    resumed: Counter
    deferred: Counter
    failed: Counter
    processing: Histogram
    in_flight: Gauge
    # Children by event name: `labels()` takes a lock and builds a key per call.
    _received: dict[str, Counter] = field(default_factory=dict)
    _processing: dict[str, Histogram] = field(default_factory=dict)

    def received_for(self, event: str) -> Counter:
        """Return the received counter of `event`."""
        child = self._received.get(event)
        if child is None:
            child = self._received[event] = self.received.labels(event)
        return child

    def processing_for(self, event: str) -> Histogram:
        """Return the processing-time histogram of `event`."""
        child = self._processing.get(event)
        if child is None:
            child = self._processing[event] = self.processing.labels(event)
        return child

    @classmethod
    def create(cls) -> Metrics:
        """Register the App's metrics in a fresh registry."""
        r = CollectorRegistry(auto_describe=True)
        return cls(
            registry=r,
            received=Counter(
                "musl_check_deliveries_received",
                "Verified webhook deliveries accepted, by event.",
                ["event"],
                registry=r,
            ),
            rejected=Counter(
                "musl_check_deliveries_rejected",
                "Webhook requests refused, by reason.",
                ["reason"],
                registry=r,
            ),
            duplicates=Counter(
                "musl_check_deliveries_duplicate",
                "Deliveries whose id was already recorded (redeliveries).",
                registry=r,
            ),
            resumed=Counter(
                "musl_check_deliveries_resumed",
                "Unfinished deliveries picked up from the store.",
                registry=r,
            ),
            deferred=Counter(
                "musl_check_deliveries_deferred",
                "Deliveries recorded for later: the in-memory queue was full.",
                registry=r,
            ),
            failed=Counter(
                "musl_check_deliveries_failed",
                "Deliveries whose processing raised or timed out, by event.",
                ["event"],
                registry=r,
            ),
            processing=Histogram(
                "musl_check_delivery_processing_seconds",
                "Time spent processing one delivery in the background.",
                ["event"],
                buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
                registry=r,
            ),
            in_flight=Gauge(
                "musl_check_deliveries_in_flight",
                "Deliveries being processed now.",
                registry=r,
            ),
        )


class Role(StrEnum):
    """What one process of the App does (several share a Redis or SQLite store)."""

    ALL = "all"  # receive webhooks and process them (the default, one instance)
    WEB = "web"  # receive and record only (`serve --ingress-only`)
    WORKER = "worker"  # process what web instances recorded (`musl-check worker`)


# How often a worker looks for recorded work: web instances cannot wake it.
WORKER_POLL_S: Final = 1.0


@dataclass(slots=True)
class Runtime:
    """Mutable per-app state: background tasks, concurrency gate, metrics."""

    handler: Handler
    metrics: Metrics
    owner: str
    drain_timeout_s: float
    sweep_interval_s: float
    semaphore: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_WORK)
    )
    max_queued: int = MAX_QUEUED
    max_queued_bytes: int = MAX_QUEUED_BYTES
    role: Role = Role.ALL
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    active: set[str] = field(default_factory=set)  # delivery ids queued or running
    queued_bytes: int = 0  # body bytes of the deliveries in `active`
    backlog: bool = False  # deliveries were left in the store for the sweep
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # sweep now
    started: float = field(default_factory=time.time)

    def has_room(self, size: int) -> bool:
        """Return whether one more delivery of `size` body bytes may be queued."""
        if not self.active:  # one delivery always fits, however big
            return True
        return (
            len(self.active) < self.max_queued
            and self.queued_bytes + size <= self.max_queued_bytes
        )


RUNTIME_KEY: Final = web.AppKey("runtime", Runtime)


def verify_signature(body: bytes, signature: str, secrets_: Sequence[str]) -> bool:
    """Return True if `signature` is `sha256=` + HMAC of `body` with any secret."""
    if not signature.startswith(SIGNATURE_PREFIX):
        return False
    try:
        given = bytes.fromhex(signature[len(SIGNATURE_PREFIX) :])
    except ValueError:  # not hex: no secret can match
        return False
    ok = False
    for secret in secrets_:
        digest = hmac.digest(secret.encode("utf-8"), body, "sha256")
        # Check every secret (no early exit) so timing does not reveal which matched.
        ok |= hmac.compare_digest(digest, given)
    return ok


def sign(body: bytes, secret: str) -> str:
    """Return the X-Hub-Signature-256 value GitHub would send for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    handler: Handler | None = None,
    drain_timeout_s: float = DRAIN_TIMEOUT_S,
    sweep_interval_s: float = SWEEP_INTERVAL_S,
    max_queued: int = MAX_QUEUED,
    max_queued_bytes: int = MAX_QUEUED_BYTES,
    role: Role = Role.ALL,
) -> web.Application:
    """Build the App's aiohttp application (store opened on start-up if not given).

    A `Role.WEB` app records deliveries and leaves them to workers; a
    `Role.WORKER` app has no /webhook and processes what the store holds.
    """
    if handler is None:
        # Imported here so the server module loads without the GitHub layer.
        routes = importlib.import_module("bot.github.routes")
        handler = cast(Handler, routes.handle)
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS_KEY] = settings
    app[RUNTIME_KEY] = Runtime(
        handler=handler,
        metrics=Metrics.create(),
        owner=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}",
        drain_timeout_s=drain_timeout_s,
        sweep_interval_s=sweep_interval_s,
        max_queued=max_queued,
        max_queued_bytes=max_queued_bytes,
        role=role,
    )
    app.cleanup_ctx.append(_store_ctx(store))
    app.cleanup_ctx.append(_session_ctx)
    if role is not Role.WEB:
        app.cleanup_ctx.append(_work_ctx)
    if role is not Role.WORKER:
        app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", status_page)
    return app


def _store_ctx(
    given: Store | None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        store = given if given is not None else open_store(app[SETTINGS_KEY].store_url)
        app[STORE_KEY] = store
        yield
        if given is None:  # a store passed in belongs to the caller
            await store.close()

    return ctx


async def _session_ctx(app: web.Application) -> AsyncIterator[None]:
    async with ClientSession(timeout=HTTP_TIMEOUT) as session:
        app[SESSION_KEY] = session
        yield


async def _work_ctx(app: web.Application) -> AsyncIterator[None]:
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
        _spawn(app, event, size=len(delivery.body))
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


# The JSON check before the 202 builds no Python objects: simdjson checks
# structure, UTF-8, escapes and numbers, with the same nesting limit as orjson
# (1024), in ~6 us for a 28 KB payload, where orjson.loads took ~27 us and
# freeing its tree as much again. The handler parses the body later, in the
# background (LazyEvent). Only the event loop's thread uses this parser.
_JSON_CHECK: Final = simdjson.Parser()
_BOM: Final = b"\xef\xbb\xbf"


def is_json_object(body: bytes) -> bool:
    """Return True if `body` is one JSON object that orjson will also accept."""
    if body.startswith(_BOM):  # simdjson skips a BOM; orjson (rightly) does not
        return False
    try:
        # The parsed document is dropped at once: the parser may then be reused.
        return type(_JSON_CHECK.parse(body)) is simdjson.Object
    except (ValueError, RuntimeError):
        # ValueError: malformed JSON or UTF-8; RuntimeError: nested too deep,
        # or an integer beyond 64 bits (GitHub sends none: refused as well).
        return False


class LazyEvent(Event):
    """A gidgethub Event whose body is parsed (orjson) when `data` is first read.

    The body was checked by `is_json_object` before the delivery was accepted.
    """

    def __init__(self, body: bytes, *, event: str, delivery_id: str) -> None:
        """Hold `body` unparsed; the Event fields are those of gidgethub."""
        self.event = event
        self.delivery_id = delivery_id
        self._body: bytes | None = body
        self._data: Any = None

    @property
    def data(self) -> Any:
        """The payload, parsed on first use."""
        if self._body is not None:
            self._data = orjson.loads(self._body)
            self._body = None
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data, self._body = value, None


def _spawn(
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


def _reject(
    app: web.Application, reason: Rejection, status: int, message: str
) -> web.Response:
    app[RUNTIME_KEY].metrics.rejected.labels(reason.value).inc()
    logger.info("webhook rejected", extra={"reason": reason.value, "status": status})
    return web.json_response({"error": message}, status=status)


async def webhook(request: web.Request) -> web.StreamResponse:
    """Verify, record and acknowledge one delivery; the work runs in the background."""
    app = request.app
    settings = app[SETTINGS_KEY]
    rt = app[RUNTIME_KEY]
    limit = settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _reject(app, Rejection.TOO_LARGE, 413, "payload too large")
    headers = request.headers
    event_name = headers.get("X-GitHub-Event")
    delivery_id = headers.get("X-GitHub-Delivery")
    if not event_name or not delivery_id:
        return _reject(
            app,
            Rejection.MISSING_HEADER,
            400,
            "X-GitHub-Event and X-GitHub-Delivery are required",
        )
    if not _EVENT_NAME.match(event_name) or not _DELIVERY_ID.match(delivery_id):
        return _reject(app, Rejection.BAD_HEADER, 400, "malformed GitHub headers")
    signature = headers.get("X-Hub-Signature-256")
    if signature is None:
        # gidgethub would accept the legacy SHA-1 header alone; we do not.
        if "X-Hub-Signature" in headers:
            return _reject(
                app, Rejection.SHA1_ONLY, 401, "X-Hub-Signature-256 is required"
            )
        return _reject(app, Rejection.MISSING_SIGNATURE, 401, "signature missing")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _reject(app, Rejection.TOO_LARGE, 413, "payload too large")
    if not verify_signature(body, signature, settings.webhook_secrets):
        return _reject(app, Rejection.BAD_SIGNATURE, 401, "signature does not match")
    if not is_json_object(body):
        return _reject(app, Rejection.BAD_JSON, 400, "body is not a JSON object")
    # Recorded and leased to this instance in one store write, before the 202:
    # the background work then needs no separate claim. With no room in memory
    # it is recorded unleased and left to the sweep (see MAX_QUEUED).
    here = rt.role is Role.ALL  # a web-only instance leaves all work to workers
    room = here and rt.has_room(len(body))
    leased_until = time.monotonic() + LEASE_S
    try:
        added = await app[STORE_KEY].add_delivery(
            delivery_id,
            event_name,
            body,
            owner=rt.owner if room else None,
            lease_s=LEASE_S if room else 0.0,
        )
    except Exception:
        logger.exception(
            "could not record delivery",
            extra={"delivery_id": delivery_id, "event": event_name},
        )
        # 5xx: GitHub marks the delivery failed, so it can be redelivered.
        return _reject(app, Rejection.STORE_ERROR, 503, "could not record delivery")
    if not added:
        rt.metrics.duplicates.inc()
        logger.info(
            "duplicate delivery ignored",
            extra={"delivery_id": delivery_id, "event": event_name},
        )
        return _json({"status": "duplicate", "delivery": delivery_id}, 200)
    rt.metrics.received_for(event_name).inc()
    # Per-delivery success is DEBUG: at INFO a burst would spend its time
    # formatting log lines (the received counter and access log keep count).
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "delivery accepted",
            extra={"delivery_id": delivery_id, "event": event_name},
        )
    if not room:
        if here:
            rt.metrics.deferred.inc()
            rt.backlog = True
        return _json({"status": "accepted", "delivery": delivery_id}, 202)
    event = LazyEvent(body, event=event_name, delivery_id=delivery_id)
    _spawn(app, event, leased_until, size=len(body))
    return _json({"status": "accepted", "delivery": delivery_id}, 202)


def _json(payload: dict[str, str], status: int) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type="application/json"
    )


async def healthz(request: web.Request) -> web.Response:
    """Report liveness and whether the store answers."""
    rt = request.app[RUNTIME_KEY]
    try:
        await request.app[STORE_KEY].pending(limit=1)
    except Exception:
        logger.exception("health check: store unavailable")
        return web.json_response(
            {"status": "error", "store": "unavailable"}, status=503
        )
    return web.json_response(
        {"status": "ok", "store": "ok", "in_flight": len(rt.active), "role": rt.role}
    )


async def metrics(request: web.Request) -> web.Response:
    """Expose this app's metrics in the Prometheus text format."""
    body = generate_latest(request.app[RUNTIME_KEY].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


_DOES: Final = {
    Role.ALL: "receives webhooks at <code>/webhook</code>",
    Role.WEB: "records webhooks at <code>/webhook</code> for the workers",
    Role.WORKER: "processes the deliveries web instances record",
}


async def status_page(request: web.Request) -> web.Response:
    """Show that the App is configured and the latest verdict per repository."""
    settings = request.app[SETTINGS_KEY]
    rt = request.app[RUNTIME_KEY]
    results = await request.app[STORE_KEY].results(limit=RECENT_RESULTS)
    e = html.escape
    rows = "\n".join(
        "<tr>"
        f'<td>{e(r.repo)}</td><td class="v-{e(r.verdict)}">{e(r.verdict)}</td>'
        f"<td><code>{e(r.head_sha[:12])}</code></td><td>{e(r.title)}</td>"
        f"<td>{e(_when(r.updated_at))}</td>"
        "</tr>"
        for r in results
    )
    table = (
        "<table><thead><tr><th>Repository</th><th>Verdict</th><th>Commit</th>"
        f"<th>Title</th><th>Checked (UTC)</th></tr></thead><tbody>{rows}</tbody>"
        "</table>"
        if results
        else "<p>No repository checked yet.</p>"
    )
    body = (
        "<h1>musl-check</h1>"
        f"<p>The App is configured (App ID <code>{e(settings.app_id)}</code>,"
        f" GitHub API <code>{e(settings.api_url)}</code>) and {_DOES[rt.role]}.</p>"
        f"<h2>Latest results ({len(results)} repositories)</h2>{table}"
    )
    return web.Response(text=render_page("musl-check", body), content_type="text/html")


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M")


PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2328; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #d0d7de; }}
.v-at-risk {{ color: #cf222e; font-weight: 600; }}
.v-old-libc {{ color: #9a6700; }}
.v-musl-libc-ok, .v-clean {{ color: #1a7f37; }}
button {{ font-size: 1rem; padding: .4rem 1rem; }}
</style></head><body>
{body}
</body></html>
"""


def render_page(title: str, body_html: str) -> str:
    """Wrap already-escaped `body_html` in the house page layout."""
    return PAGE.format(title=html.escape(title), body=body_html)


STANDARD_RECORD_ATTRS: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object per line, with its `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in STANDARD_RECORD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """Format records as text, appending `extra=` fields as key=value."""

    def __init__(self) -> None:
        """Use a timestamp, level and logger name prefix."""
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line (plus a traceback, if any)."""
        text = super().format(record)
        extras = " ".join(
            f"{k}={v}"
            for k, v in record.__dict__.items()
            if k not in STANDARD_RECORD_ATTRS and not k.startswith("_")
        )
        if not extras:
            return text
        first, sep, rest = text.partition("\n")
        return f"{first} [{extras}]{sep}{rest}"


def configure_logging(level: str, fmt: str) -> None:
    """Send logs to stderr at `level`, as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def serve(host: str, port: int | None, role: Role = Role.ALL) -> int:
    """Run the App (or the first-run setup page) until interrupted; return exit code."""
    env = read_env(os.environ)
    return run(env, host, port, role)


def run(
    env: Mapping[str, str], host: str, port: int | None, role: Role = Role.ALL
) -> int:
    """Build the right application for `env` and serve it (see `serve`)."""
    if needs_setup(env) and role is not Role.WORKER:
        from bot.setup import create_setup_app

        configure_logging("INFO", env.get("LOG_FORMAT", "text"))
        app = create_setup_app(env)
        web.run_app(app, host=host, port=port or _env_port(env), print=None)
        return 0
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    sweep = WORKER_POLL_S if role is Role.WORKER else SWEEP_INTERVAL_S
    app = create_app(settings, role=role, sweep_interval_s=sweep)
    web.run_app(app, host=host, port=port or settings.port, print=None)
    return 0


def _env_port(env: Mapping[str, str]) -> int:
    try:
        return int(env.get("PORT", ""))
    except ValueError:
        return DEFAULT_PORT
