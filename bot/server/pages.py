"""The pages every instance serves: /healthz, /metrics and the status page."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from bot import __version__
from bot.page import render_page
from bot.server.state import RUNTIME_KEY, STORE_KEY, Role

logger = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    """Report liveness: `ok`, or `degraded` with the reasons (503 without a store)."""
    rt = request.app[RUNTIME_KEY]
    try:
        depth = await request.app[STORE_KEY].depth()
    except Exception as exc:
        logger.warning("health check: store unavailable", extra={"error": str(exc)})
        return web.json_response(
            {
                "status": "degraded",
                "store": "unavailable",
                "reasons": [f"store unreachable ({type(exc).__name__})"],
            },
            status=503,
        )
    rt.metrics.queue_depth.set(depth)
    reasons = list(rt.problems.values())
    if depth > rt.max_backlog:
        reasons.append(f"backlog of {depth} deliveries (bound {rt.max_backlog})")
    body: dict[str, object] = {
        "status": "degraded" if reasons else "ok",
        "store": "ok",
        "in_flight": len(rt.active),
        "role": rt.role,
        "queue_depth": depth,
    }
    if reasons:
        body["reasons"] = reasons
    return web.json_response(body)


async def metrics(request: web.Request) -> web.Response:
    """Expose this app's metrics in the Prometheus text format."""
    rt = request.app[RUNTIME_KEY]
    try:
        rt.metrics.queue_depth.set(await request.app[STORE_KEY].depth())
    except Exception as exc:  # the scrape still answers; /healthz says why
        logger.warning("metrics: store unavailable", extra={"error": str(exc)})
    body = generate_latest(rt.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


_DOES: Final = {
    Role.ALL: "receives webhooks at <code>/webhook</code>",
    Role.WEB: "records webhooks at <code>/webhook</code> for the workers",
    Role.WORKER: "processes the deliveries web instances record",
}


async def status_page(request: web.Request) -> web.Response:
    """Show this server's own state: role, version, store health and counts.

    Nothing about any repository: the port may be reachable by anyone, and
    the names, verdicts and commits of private repositories are not theirs
    to read (per-repository results belong behind sign-in).
    """
    rt = request.app[RUNTIME_KEY]
    m = rt.metrics
    try:
        await request.app[STORE_KEY].pending(limit=1)
        store = "ok"
    except Exception:
        logger.exception("status page: store unavailable")
        store = "unavailable"
    e = html.escape
    rows = "".join(
        f"<tr><th>{e(name)}</th><td>{e(value)}</td></tr>"
        for name, value in (
            ("Role", str(rt.role)),
            ("Version", __version__),
            ("Store", store),
            ("Up since (UTC)", _when(rt.started)),
            ("Deliveries received", _count(m.received)),
            ("Deliveries refused", _count(m.rejected)),
            ("Redeliveries and replays ignored", _count(m.duplicates, m.replayed)),
            ("Deliveries failed", _count(m.failed)),
            ("Being processed now", str(len(rt.active))),
        )
    )
    body = (
        "<h1>musl-check</h1>"
        f"<p>This server is configured and {_DOES[rt.role]}.</p>"
        f"<table><tbody>{rows}</tbody></table>"
    )
    status = 200 if store == "ok" else 503
    return web.Response(
        text=render_page("musl-check", body), content_type="text/html", status=status
    )


def _count(*metrics: MetricWrapperBase) -> str:
    """Return the total of counters, over all their labels."""
    total = sum(
        sample.value
        for metric in metrics
        for family in metric.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )
    return str(int(total))


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M")
