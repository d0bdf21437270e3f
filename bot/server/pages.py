"""The pages every instance serves: /healthz, /metrics and the status page."""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.page import render_page
from bot.server.state import RUNTIME_KEY, SETTINGS_KEY, STORE_KEY, Role

logger = logging.getLogger(__name__)

RECENT_RESULTS: Final = 200


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
