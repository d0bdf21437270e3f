"""POST /webhook: verify, record and acknowledge one delivery before any work."""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from typing import Final

import orjson
from aiohttp import web

from bot.server.delivery import is_json_object, verify_signature
from bot.server.state import RUNTIME_KEY, SETTINGS_KEY, STORE_KEY

logger = logging.getLogger(__name__)

_EVENT_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DELIVERY_ID: Final = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


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


def _reject(
    app: web.Application, reason: Rejection, status: int, message: str
) -> web.Response:
    app[RUNTIME_KEY].metrics.rejected.labels(reason.value).inc()
    logger.info("webhook rejected", extra={"reason": reason.value, "status": status})
    return web.json_response({"error": message}, status=status)


async def webhook(request: web.Request) -> web.StreamResponse:
    """Verify, record and acknowledge one delivery; a consumer does the work."""
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


def _json(payload: dict[str, str], status: int) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, content_type="application/json"
    )
