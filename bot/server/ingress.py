"""POST /webhook: verify, record and acknowledge one delivery before any work."""

from __future__ import annotations

import asyncio
import logging
import re
from enum import StrEnum
from typing import Final

import orjson
from aiohttp import web

from bot.server.delivery import is_json_object, signature_digest, verify_signature
from bot.server.state import RUNTIME_KEY, SETTINGS_KEY, STORE_KEY

logger = logging.getLogger(__name__)

_EVENT_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DELIVERY_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# Bodies being read at once may hold at most this many times the body cap in
# memory together; a read that would pass it is refused (503) at once. Counted
# in bytes received, not claimed: a Content-Length costs nothing until sent.
READ_BUDGET_BODIES: Final = 4
# A body seen again under another delivery id within this window is a replay
# (see `_replayed`).
REPLAY_WINDOW_S: Final = 600.0
# GitHub does not compress webhook bodies; "identity" (or no header) is all
# we accept (RFC 9110 8.4.1: identity means no encoding).
_IDENTITY: Final = ("", "identity")


class Rejection(StrEnum):
    """Why a delivery was refused (the `reason` label of the rejected counter)."""

    TOO_LARGE = "too_large"
    ENCODED = "encoded"
    SLOW_BODY = "slow_body"
    BUSY = "busy"
    MISSING_HEADER = "missing_header"
    BAD_HEADER = "bad_header"
    MISSING_SIGNATURE = "missing_signature"
    SHA1_ONLY = "sha1_only"
    BAD_SIGNATURE = "bad_signature"
    BAD_JSON = "bad_json"
    STORE_ERROR = "store_error"


def _reject(
    app: web.Application, reason: Rejection, status: int, message: str
) -> web.Response:
    app[RUNTIME_KEY].metrics.rejected.labels(reason.value).inc()
    logger.info("webhook rejected", extra={"reason": reason.value, "status": status})
    return web.json_response({"error": message}, status=status)


async def _reject_unread(
    request: web.Request, reason: Rejection, status: int, message: str
) -> web.StreamResponse:
    """Refuse with the body (partly) unread, then close the connection.

    Left open, aiohttp would go on reading the rest of the body for up to its
    `lingering_time` to keep the connection alive, inflating a compressed one.
    """
    resp = _reject(request.app, reason, status, message)
    resp.force_close()
    await resp.prepare(request)
    await resp.write_eof()
    request.protocol.force_close()
    return resp


class _TooLarge(Exception):
    pass


class _Busy(Exception):
    pass


async def _read_body(request: web.Request, limit: int) -> bytes:
    """Read the raw body: at most `limit` bytes within the body timeout.

    Raises _TooLarge, _Busy (the read budget of this instance is spent) or
    TimeoutError.
    """
    rt = request.app[RUNTIME_KEY]
    budget = READ_BUDGET_BODIES * limit
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(rt.body_timeout_s):
            while chunk := await request.content.readany():
                size += len(chunk)
                rt.reading_bytes += len(chunk)
                if size > limit:
                    raise _TooLarge
                if rt.reading_bytes > budget:
                    raise _Busy
                chunks.append(chunk)
    finally:
        rt.reading_bytes -= size
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def webhook(request: web.Request) -> web.StreamResponse:
    """Verify, record and acknowledge one delivery; a consumer does the work."""
    app = request.app
    settings = app[SETTINGS_KEY]
    rt = app[RUNTIME_KEY]
    limit = settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return await _reject_unread(
            request, Rejection.TOO_LARGE, 413, "payload too large"
        )
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in _IDENTITY:
        # Refused before a byte of the body is read: a gzip bomb is never
        # inflated, and the signature is checked over the bytes as sent.
        return await _reject_unread(
            request, Rejection.ENCODED, 415, "Content-Encoding must be identity"
        )
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
        body = await _read_body(request, limit)
    except _TooLarge:
        return await _reject_unread(
            request, Rejection.TOO_LARGE, 413, "payload too large"
        )
    except _Busy:
        return await _reject_unread(
            request, Rejection.BUSY, 503, "too many webhook bodies being read"
        )
    except TimeoutError:
        return await _reject_unread(
            request, Rejection.SLOW_BODY, 408, "body not received in time"
        )
    if not verify_signature(body, signature, settings.webhook_secrets):
        return _reject(app, Rejection.BAD_SIGNATURE, 401, "signature does not match")
    if not is_json_object(body):
        return _reject(app, Rejection.BAD_JSON, 400, "body is not a JSON object")
    try:
        replay_of = await _replayed(app, signature, delivery_id)
    except Exception:
        logger.exception(
            "could not check for a replay", extra={"delivery_id": delivery_id}
        )
        return _reject(app, Rejection.STORE_ERROR, 503, "could not record delivery")
    if replay_of is not None:
        rt.metrics.replayed.inc()
        logger.info(
            "replayed body ignored",
            extra={
                "delivery_id": delivery_id,
                "event": event_name,
                "replay_of": replay_of,
            },
        )
        return _json({"status": "duplicate", "delivery": delivery_id}, 200)
    # Recorded before the 202; a consumer takes it from the store (one path
    # for all work, bot/server/work.py).
    try:
        added = await app[STORE_KEY].add_delivery(delivery_id, event_name, body)
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
    rt.notify()  # a web-only instance has no consumers: nothing to wake
    return _json({"status": "accepted", "delivery": delivery_id}, 202)


async def _replayed(
    app: web.Application, signature: str, delivery_id: str
) -> str | None:
    """Return the delivery id whose body this one replays, or None.

    Anyone who once saw a signed delivery (a proxy log, a misconfigured hook)
    can post it again under a fresh X-GitHub-Delivery: the HMAC covers the
    body, not the headers. Such a replay is recognised by the body itself,
    through its verified HMAC (free: already computed, and unforgeable). A
    body is a more precise identity than a tuple of fields such as event,
    action, head sha, installation, repository and comment id: two
    deliveries share it only if every one of those fields agrees, and also
    the sender and the state of the check run or pull request they describe.
    So a user who re-runs a check twice gets two bodies (the run changed in
    between), while a replay is byte for byte the same. The window is short
    anyway (REPLAY_WINDOW_S): two genuinely distinct identical bodies could
    only come from the same click twice on an unchanged object, and one
    attacker-held body costs at most one run per window. GitHub's own
    redelivery keeps its delivery id (docs/github.md 1.1), so it owns the
    digest and goes on to the delivery-id dedupe (or is recorded, if the
    first attempt failed before that).
    """
    owner = await app[STORE_KEY].claim_payload(
        signature_digest(signature), delivery_id, REPLAY_WINDOW_S
    )
    return None if owner == delivery_id else owner


def _json(payload: dict[str, str], status: int) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type="application/json"
    )
