"""The organisation readiness dashboard, `GET /orgs/{login}`, behind GitHub sign-in.

Sign-in is the App's user authorization (bot/github/oauth.py): `/auth/login`
sends the browser to GitHub with a random `state` kept in a short-lived signed
cookie (CSRF: the callback must bring the same state back), `/auth/callback`
exchanges the code, asks GitHub which installations the user can see and keeps
only that in a signed session cookie (HttpOnly, SameSite=Lax, Secure behind
https); the user's token is not kept. `POST /auth/logout` drops the session.
A page for an organisation the user cannot see answers 404, as for one the App
is not installed on, so the page tells nobody which organisations use it.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.github.oauth import (
    OAuthApp,
    OAuthError,
    authorize_url,
    exchange_code,
    signed_in_user,
)
from bot.orgview import (
    UNCHECKED,
    VERDICT_ORDER,
    OrgTable,
    fix_pull_url,
    load_table,
    render_csv,
    render_json,
    verdict_rank,
    when,
)
from bot.server.state import SESSION_KEY, SETTINGS_KEY, STORE_KEY
from bot.settings import Settings

logger = logging.getLogger(__name__)

SESSION_COOKIE: Final = "musl_check_session"
SIGN_IN_COOKIE: Final = "musl_check_sign_in"
SESSION_MAX_AGE_S: Final = 8 * 3600
SIGN_IN_MAX_AGE_S: Final = 600  # the round trip through GitHub's consent page
# A GitHub login: letters, digits and single hyphens, at most 39 characters.
LOGIN_RE: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
VERDICT_COLOURS: Final = {
    "at-risk": "#cf222e",
    "old-libc": "#bf8700",
    "musl-libc-ok": "#1a7f37",
    "clean": "#2da44e",
    "unchecked": "#afb8c1",
}


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Per-app sign-in state: the cookie signer and the OAuth credentials."""

    signer: URLSafeTimedSerializer
    oauth: OAuthApp | None  # None: GITHUB_CLIENT_ID/SECRET not set

    @classmethod
    def create(cls, settings: Settings) -> Dashboard:
        """Return the dashboard state for the settings.

        Without MUSL_CHECK_SESSION_SECRET a random key is used: sessions then
        last as long as the process.
        """
        secret = settings.session_secret or secrets.token_urlsafe(32)
        oauth = None
        if settings.client_id and settings.client_secret:
            oauth = OAuthApp(
                settings.client_id,
                settings.client_secret,
                settings.web_url,
                settings.api_url,
            )
        return cls(URLSafeTimedSerializer(secret, salt="musl-check-dashboard"), oauth)


DASHBOARD_KEY: Final = web.AppKey("dashboard", Dashboard)


def add_dashboard_routes(app: web.Application, settings: Settings) -> None:
    """Register the dashboard and its sign-in routes on the app."""
    app[DASHBOARD_KEY] = Dashboard.create(settings)
    app.router.add_get("/orgs/{login}", org_page)
    app.router.add_get("/auth/login", sign_in)
    app.router.add_get("/auth/callback", callback)
    app.router.add_post("/auth/logout", sign_out)


def _base_url(request: web.Request) -> str:
    public = request.app[SETTINGS_KEY].public_url
    return public or f"{request.scheme}://{request.host}"


def _secure(request: web.Request) -> bool:
    # Behind a TLS-terminating proxy the request itself is plain http.
    forwarded = request.headers.get("X-Forwarded-Proto", "").lower() == "https"
    return forwarded or _base_url(request).startswith("https://")


def _set_cookie(
    request: web.Request, resp: web.StreamResponse, name: str, value: str, age: int
) -> None:
    resp.set_cookie(
        name,
        value,
        max_age=age,
        path="/",
        httponly=True,
        secure=_secure(request),
        samesite="Lax",
    )


def _load(request: web.Request, name: str, max_age: int) -> dict[str, Any] | None:
    raw = request.cookies.get(name)
    if not raw or len(raw) > 8192:
        return None
    try:
        value = request.app[DASHBOARD_KEY].signer.loads(raw, max_age=max_age, salt=name)
    except BadSignature:
        return None
    return value if isinstance(value, dict) else None


def _dump(request: web.Request, name: str, value: Mapping[str, Any]) -> str:
    return str(request.app[DASHBOARD_KEY].signer.dumps(dict(value), salt=name))


def _safe_next(value: str | None) -> str:
    """Return a local path to go back to (never another site)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


def _not_found() -> web.Response:
    return web.Response(status=404, text="404: Not Found")


async def org_page(request: web.Request) -> web.StreamResponse:
    """Show (or export) the organisation's table to a signed-in member."""
    login = request.match_info["login"]
    if not LOGIN_RE.fullmatch(login):
        return _not_found()
    session = _load(request, SESSION_COOKIE, SESSION_MAX_AGE_S)
    if session is None:
        if request.app[DASHBOARD_KEY].oauth is None:
            return web.Response(
                status=503,
                text="Sign-in is not configured (GITHUB_CLIENT_ID, "
                "GITHUB_CLIENT_SECRET).",
            )
        back = quote(request.rel_url.path_qs, safe="")
        raise web.HTTPFound(f"/auth/login?next={back}")
    store = request.app[STORE_KEY]
    installation_id = await store.installation_of(login)
    allowed = session.get("installations")
    if (
        installation_id is None
        or not isinstance(allowed, list)
        or installation_id not in allowed
    ):
        return _not_found()
    table = await load_table(store, installation_id)
    web_url = request.app[SETTINGS_KEY].web_url
    fmt = request.query.get("format", "html")
    if fmt == "csv":
        return web.Response(
            text=render_csv(table, web_url),
            content_type="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{login}-musl-check.csv"',
                "Cache-Control": "no-store",
            },
        )
    if fmt == "json":
        return web.Response(
            text=render_json(table, web_url),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )
    if fmt != "html":
        return web.Response(status=400, text="format must be html, csv or json")
    nonce = secrets.token_urlsafe(16)
    body = render_dashboard(login, str(session.get("login", "")), table, web_url, nonce)
    return web.Response(
        text=body,
        content_type="text/html",
        headers={
            # Only this page's own inline script and style run; nothing loads
            # from elsewhere (no CDN).
            "Content-Security-Policy": (
                f"default-src 'none'; script-src 'nonce-{nonce}'; "
                f"style-src 'nonce-{nonce}'; img-src 'self'; form-action 'self'; "
                "frame-ancestors 'none'; base-uri 'none'"
            ),
            "Cache-Control": "no-store",
            "Referrer-Policy": "same-origin",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def sign_in(request: web.Request) -> web.StreamResponse:
    """Send the browser to GitHub's authorize page with a fresh CSRF state."""
    oauth = request.app[DASHBOARD_KEY].oauth
    if oauth is None:
        return web.Response(status=503, text="Sign-in is not configured.")
    state = secrets.token_urlsafe(32)
    nxt = _safe_next(request.query.get("next"))
    resp = web.HTTPFound(
        authorize_url(oauth, f"{_base_url(request)}/auth/callback", state)
    )
    cookie = _dump(request, SIGN_IN_COOKIE, {"state": state, "next": nxt})
    _set_cookie(request, resp, SIGN_IN_COOKIE, cookie, SIGN_IN_MAX_AGE_S)
    raise resp


async def callback(request: web.Request) -> web.StreamResponse:
    """Finish sign-in: check the state, exchange the code, open the session."""
    oauth = request.app[DASHBOARD_KEY].oauth
    if oauth is None:
        return web.Response(status=503, text="Sign-in is not configured.")
    pending = _load(request, SIGN_IN_COOKIE, SIGN_IN_MAX_AGE_S) or {}
    state = request.query.get("state", "")
    code = request.query.get("code", "")
    expected = pending.get("state")
    if (
        not isinstance(expected, str)
        or not secrets.compare_digest(expected.encode(), state.encode())
        or not code
        or len(code) > 256
    ):
        return web.Response(
            status=400, text="Sign-in expired or was not started here; try again."
        )
    session = request.app[SESSION_KEY]
    try:
        token = await exchange_code(
            session, oauth, code, f"{_base_url(request)}/auth/callback"
        )
        user = await signed_in_user(session, oauth, token)
    except OAuthError as exc:
        logger.warning("dashboard sign-in failed", extra={"reason": str(exc)})
        return web.Response(status=502, text=f"Sign-in failed: {exc}.")
    logger.info("dashboard sign-in", extra={"user": user.login})
    resp = web.HTTPFound(_safe_next(str(pending.get("next", "/"))))
    cookie = _dump(
        request,
        SESSION_COOKIE,
        {"login": user.login, "installations": sorted(user.installations)},
    )
    _set_cookie(request, resp, SESSION_COOKIE, cookie, SESSION_MAX_AGE_S)
    resp.del_cookie(SIGN_IN_COOKIE, path="/")
    raise resp


async def sign_out(request: web.Request) -> web.StreamResponse:
    """Drop the session (a POST: SameSite=Lax keeps other sites from sending it)."""
    resp = web.HTTPFound("/")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp


def readiness_chart(counts: Mapping[str, int], unchecked: int) -> str:
    """Return an SVG bar: one segment per verdict, widths by share, with a legend."""
    e = html.escape
    parts = [*((v, counts.get(v, 0)) for v in VERDICT_ORDER), ("unchecked", unchecked)]
    total = sum(n for _, n in parts) or 1
    width, x = 600.0, 0.0
    rects, legend = [], []
    for i, (verdict, n) in enumerate(parts):
        w = width * n / total
        colour = VERDICT_COLOURS[verdict]
        if n:
            rects.append(
                f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="28" '
                f'fill="{colour}"><title>{e(verdict)}: {n}</title></rect>'
            )
        x += w
        lx = i * 120
        legend.append(
            f'<rect x="{lx}" y="40" width="12" height="12" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="51" font-size="12">{e(verdict)} {n}</text>'
        )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="readiness chart" viewBox="0 0 {int(width)} 60" '
        f'width="{int(width)}" height="60">{"".join(rects)}{"".join(legend)}</svg>'
    )


def _link(url: str, text: str) -> str:
    if not url.startswith(("https://", "http://")):
        return ""
    return f'<a href="{html.escape(url)}">{html.escape(text)}</a>'


def render_dashboard(
    org: str, user: str, table: OrgTable, web_url: str, nonce: str
) -> str:
    """Return the dashboard page; every repository string is HTML-escaped."""
    e = html.escape
    counts = table.counts
    unchecked = table.known - table.checked
    cards = "".join(
        f'<li class="card"><b>{n}</b> {e(v)}</li>' for v, n in counts.items()
    )
    rows = []
    for r in table.rows:
        rows.append(
            f'<tr data-verdict="{e(r.verdict)}" data-rank="{verdict_rank(r.verdict)}"'
            f' data-checked="{r.checked_at:.0f}">'
            f"<td>{e(r.repo)}</td>"
            f'<td class="v-{e(r.verdict)}">{e(r.verdict)}</td>'
            f"<td>{e(' '.join(r.libc))}</td>"
            f"<td>{e(' '.join(r.targets))}</td>"
            f"<td>{e(when(r.checked_at))}</td>"
            f"<td>{_link(r.check_run_url, r.head_sha[:7] or 'run')}</td>"
            f"<td>{_link(fix_pull_url(r, web_url), f'#{r.fix_pull}')}</td>"
            "</tr>"
        )
    options = "".join(
        f'<option value="{e(v)}">{e(v)}</option>' for v in (*counts, UNCHECKED)
    )
    body = f"""<header><h1>musl readiness: {e(org)}</h1>
<form method="post" action="/auth/logout">signed in as <b>{e(user)}</b>
<button type="submit">Sign out</button></form></header>
<p id="progress"><b>{table.checked} of {table.known}</b> repositories checked</p>
<ul class="cards">{cards}</ul>
{readiness_chart(counts, unchecked)}
<p>Export: <a href="?format=csv">CSV</a> · <a href="?format=json">JSON</a></p>
<p><label>Filter <input id="filter" type="search"
 placeholder="repository, libc, target"></label>
<label>Verdict <select id="verdict"><option value="">all</option>
{options}</select></label></p>
<table id="repos"><thead><tr>
<th data-sort="text">Repository</th><th data-sort="rank">Verdict</th>
<th data-sort="text">libc</th><th data-sort="text">musl targets</th>
<th data-sort="checked">Last checked (UTC)</th><th>Check run</th><th>Fix PR</th>
</tr></thead><tbody>{"".join(rows)}</tbody></table>
<script nonce="{nonce}">{_SCRIPT}</script>"""
    return _PAGE.format(title=f"musl-check: {e(org)}", nonce=nonce, body=body)


# Filter by text and verdict; sort by clicking a header (again: reversed).
_SCRIPT: Final = """
(() => {
  const body = document.querySelector('#repos tbody');
  const text = document.getElementById('filter');
  const verdict = document.getElementById('verdict');
  const apply = () => {
    const q = text.value.trim().toLowerCase();
    const v = verdict.value;
    for (const row of body.rows) {
      const hit = (!q || row.textContent.toLowerCase().includes(q)) &&
                  (!v || row.dataset.verdict === v);
      row.hidden = !hit;
    }
  };
  text.addEventListener('input', apply);
  verdict.addEventListener('change', apply);
  document.querySelectorAll('#repos th[data-sort]').forEach((th, col) => {
    th.tabIndex = 0;
    th.addEventListener('click', () => {
      const dir = th.dataset.dir === 'asc' ? -1 : 1;
      th.dataset.dir = dir === 1 ? 'asc' : 'desc';
      const key = (row) => {
        if (th.dataset.sort === 'rank') return Number(row.dataset.rank);
        if (th.dataset.sort === 'checked') return Number(row.dataset.checked);
        return row.cells[col].textContent.toLowerCase();
      };
      const rows = Array.from(body.rows);
      rows.sort((a, b) => (key(a) > key(b) ? 1 : key(a) < key(b) ? -1 : 0) * dir);
      rows.forEach((row) => body.appendChild(row));
    });
  });
})();
"""

_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style nonce="{nonce}">
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 72rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2328; }}
header {{ display: flex; justify-content: space-between; align-items: center; }}
.cards {{ display: flex; gap: 1rem; list-style: none; padding: 0; }}
.card {{ border: 1px solid #d0d7de; border-radius: 6px; padding: .5rem 1rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #d0d7de; }}
th[data-sort] {{ cursor: pointer; }}
.v-at-risk {{ color: #cf222e; font-weight: 600; }}
.v-old-libc {{ color: #9a6700; }}
.v-musl-libc-ok, .v-clean {{ color: #1a7f37; }}
</style></head><body>
{body}
</body></html>
"""
