"""Fake App webhook deliveries: the list (cursor pages, newest first) and redelivery.

`record_delivery(fake, ...)` adds an attempt GitHub made; a test sets
`fake.extra["redeliver"]` to an async callable that re-sends an event to the
App (as GitHub does on `POST .../attempts`) and returns the HTTP status.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .server import error
from .state import FakeGitHub

Redeliver = Callable[[dict[str, Any]], Awaitable[int]]


def deliveries(fake: FakeGitHub) -> list[dict[str, Any]]:
    """Return the App's delivery attempts, oldest first."""
    found: list[dict[str, Any]] = fake.extra.setdefault("hook_deliveries", [])
    return found


def record_delivery(
    fake: FakeGitHub,
    guid: str,
    event: str,
    action: str | None,
    status_code: int,
    *,
    redelivery: bool = False,
    delivered_at: datetime | None = None,
) -> dict[str, Any]:
    """Record one delivery attempt (as the App's webhook log shows it)."""
    when = delivered_at or datetime.now(UTC)
    item = {
        "id": fake.next_id(),
        "guid": guid,
        "delivered_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "redelivery": redelivery,
        "duration": 0.05,
        "status": "OK" if 200 <= status_code < 400 else "failed to connect",
        "status_code": status_code,
        "event": event,
        "action": action,
        "installation_id": None,
        "repository_id": None,
        "throttled_at": None,
    }
    deliveries(fake).append(item)
    return item


def add_routes(routes: web.RouteTableDef, fake: FakeGitHub) -> None:
    """Register the App webhook delivery endpoints."""

    @routes.get("/app/hook/deliveries")
    async def list_deliveries(request: web.Request) -> web.Response:
        per_page = min(int(request.query.get("per_page", "30")), 100)
        newest_first = sorted(
            deliveries(fake), key=lambda d: (d["delivered_at"], d["id"]), reverse=True
        )
        # The cursor is opaque to the client: here, the offset into the list.
        start = int(request.query.get("cursor", "0") or "0")
        page = newest_first[start : start + per_page]
        response = web.json_response(page)
        if start + per_page < len(newest_first):
            url = request.url.update_query(cursor=str(start + per_page))
            response.headers["Link"] = f'<{url}>; rel="next"'
        return response

    @routes.post("/app/hook/deliveries/{delivery_id}/attempts")
    async def redeliver(request: web.Request) -> web.Response:
        wanted = int(request.match_info["delivery_id"])
        for item in deliveries(fake):
            if item["id"] == wanted:
                break
        else:
            return error(404, "Not Found")
        send: Redeliver | None = fake.extra.get("redeliver")
        status = await send(item) if send is not None else 502
        record_delivery(
            fake, item["guid"], item["event"], item["action"], status, redelivery=True
        )
        return web.json_response({}, status=202)
