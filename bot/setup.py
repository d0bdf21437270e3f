"""First-run setup: register the App from app.yaml (manifest flow) and write `.env`."""

from __future__ import annotations

import html
import importlib.resources
import ipaddress
import json
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlsplit

import yaml
from aiohttp import ClientError, ClientSession, ClientTimeout, web

from bot.page import render_page
from bot.settings import CREDENTIAL_VARS, DEFAULT_API_URL

logger = logging.getLogger(__name__)

GITHUB_URL: Final = "https://github.com"
# GitHub's manifest codes expire after one hour.
STATE_TTL_S: Final = 3600.0
MAX_STATES: Final = 100
_ORG: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_CODE: Final = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


@dataclass(slots=True)
class SetupState:
    """What the setup page keeps in memory between the form and the callback."""

    manifest: dict[str, Any]
    env_path: Path
    api_url: str
    github_url: str
    public_url: str | None
    listen_url: str = "http://localhost:3000"
    # The one-time token of the printed link; None once exchanged for a session.
    token: str | None = field(default_factory=lambda: secrets.token_urlsafe(16))
    session: str | None = None  # the cookie value the token was exchanged for
    states: dict[str, float] = field(default_factory=dict)
    done: bool = False


SETUP_KEY: Final = web.AppKey("setup", SetupState)
SETUP_LINK_NAME: Final = ".musl-check-setup-link"
SETUP_SESSION_KEY: Final = web.AppKey("setup_session", ClientSession)
SESSION_COOKIE: Final = "musl_check_setup"
ENV_VALUE_FORBIDDEN: Final = ("\n", "\r", "\0", '"')
# What the page and the console say when GitHub could not deliver to the
# webhook URL: Probot's setup suggests a smee.io channel for the same case
# (https://probot.github.io/docs/development/#configuring-a-github-app).
TUNNEL_ADVICE: Final = (
    "GitHub cannot deliver webhooks to {url}: it is {why}. Set PUBLIC_URL to an"
    " https address that reaches this server (a reverse proxy, or a tunnel such"
    " as https://smee.io or `cloudflared tunnel`) and restart before"
    " registering the App."
)


def default_manifest_path() -> Traversable:
    """Return the App manifest shipped inside the package, whatever the cwd."""
    # Package data, so an installed wheel has it too (pyproject package-data).
    # https://docs.python.org/3/library/importlib.resources.html
    return importlib.resources.files("bot") / "app.yaml"


def load_manifest(path: Traversable) -> dict[str, Any]:
    """Read the App manifest from YAML."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    return data


def create_setup_app(
    env: Mapping[str, str],
    *,
    env_path: Path = Path(".env"),
    manifest_path: Traversable | None = None,
    github_url: str = GITHUB_URL,
    listen_url: str = "http://localhost:3000",
) -> web.Application:
    """Build the first-run application that registers the App and writes `.env`.

    `listen_url` is where this server listens (scheme, host and port), for the
    printed setup link when PUBLIC_URL is not set.
    """
    public = env.get("PUBLIC_URL", "").strip().rstrip("/") or None
    app = web.Application()
    app[SETUP_KEY] = SetupState(
        manifest=load_manifest(manifest_path or default_manifest_path()),
        env_path=env_path,
        api_url=(env.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL).rstrip("/"),
        github_url=github_url.rstrip("/"),
        public_url=public,
        listen_url=listen_url.rstrip("/"),
    )
    app.cleanup_ctx.append(_session_ctx)
    app.on_startup.append(_announce)
    app.router.add_get("/", setup_page)
    app.router.add_get("/setup/callback", callback)
    app.router.add_get("/healthz", _healthz)
    app.router.add_post("/webhook", _not_configured)
    return app


async def _session_ctx(app: web.Application) -> AsyncIterator[None]:
    async with ClientSession(timeout=ClientTimeout(total=30)) as session:
        app[SETUP_SESSION_KEY] = session
        yield


async def _announce(app: web.Application) -> None:
    # The token keeps strangers who can reach the port from registering their
    # own App into our .env. It never goes through logging (logs are shipped
    # elsewhere): it is printed on the console, terminal or not, and written,
    # mode 0600, beside .env; it works once (exchanged for a session cookie).
    state = app[SETUP_KEY]
    base = state.public_url or state.listen_url
    url = f"{base}/?token={state.token}"
    link = state.env_path.with_name(SETUP_LINK_NAME)
    write_private_file(link, url + "\n")
    print(f"musl-check setup: open {url}", file=sys.stderr)
    print(f"  (the link is also in {link}; it works once)", file=sys.stderr)
    problem = webhook_problem(base)
    if problem is not None:
        print(
            "  " + TUNNEL_ADVICE.format(url=f"{base}/webhook", why=problem),
            file=sys.stderr,
        )
    logger.warning(
        "musl-check is not configured: open the setup link",
        extra={"setup_link_file": str(link)},
    )


def webhook_problem(base: str) -> str | None:
    """Return why GitHub could not (safely) deliver to `base`, or None if it can."""
    parts = urlsplit(base)
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "a loopback address"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and (address.is_loopback or address.is_unspecified):
        return "a loopback address"
    if parts.scheme != "https":
        return "plain http (GitHub would send the signed payloads unencrypted)"
    return None


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` as a new 0600 file renamed into place.

    Never opens an existing file: a symlink planted at `path` is replaced, not
    followed, and an older file's wider mode is not kept.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "setup"})


async def _not_configured(request: web.Request) -> web.Response:
    return web.json_response(
        {"error": "musl-check is not configured yet; finish setup and restart"},
        status=503,
    )


def _base_url(request: web.Request) -> str:
    state = request.app[SETUP_KEY]
    return state.public_url or f"{request.scheme}://{request.host}"


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(
        text=render_page(title, body), content_type="text/html", status=status
    )


def _new_state(state: SetupState) -> str:
    now = time.monotonic()
    for key, created in list(state.states.items()):
        if now - created > STATE_TTL_S:
            del state.states[key]
    while len(state.states) >= MAX_STATES:
        del state.states[next(iter(state.states))]
    value = secrets.token_urlsafe(24)
    state.states[value] = now
    return value


async def setup_page(request: web.Request) -> web.Response:
    """Show the form that posts the App manifest to GitHub."""
    state = request.app[SETUP_KEY]
    e = html.escape
    if state.done:
        return _page(
            "musl-check", "<h1>musl-check</h1><p>Setup is done: restart musl-check.</p>"
        )
    token = request.query.get("token")
    if token is not None:
        return _exchange(request, state, token)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if state.session is None or not secrets.compare_digest(
        cookie.encode(), state.session.encode()
    ):
        return _forbidden()
    org = request.query.get("org", "").strip()
    if org and not _ORG.match(org):
        return _page(
            "musl-check setup", "<p>That is not an organization name.</p>", 400
        )
    base = _base_url(request)
    manifest = dict(state.manifest)
    manifest["hook_attributes"] = {
        **manifest.get("hook_attributes", {}),
        "url": f"{base}/webhook",
    }
    manifest["redirect_url"] = f"{base}/setup/callback"
    target = (
        f"{state.github_url}/organizations/{quote(org)}/settings/apps/new"
        if org
        else f"{state.github_url}/settings/apps/new"
    )
    owner = f"organization <b>{e(org)}</b>" if org else "your personal account"
    problem = webhook_problem(base)
    warning = (
        f'<p class="warning"><b>Warning:</b> '
        f"{e(TUNNEL_ADVICE.format(url=f'{base}/webhook', why=problem))}</p>"
        if problem is not None
        else ""
    )
    body = f"""<h1>Set up musl-check</h1>
<p>This registers a new GitHub App for {owner} from <code>app.yaml</code>.
GitHub will send webhooks to <code>{e(base)}/webhook</code>.</p>{warning}
<form action="{e(target)}" method="post">
<input type="hidden" name="manifest" value="{e(json.dumps(manifest))}">
<input type="hidden" name="state" value="{e(_new_state(state))}">
<button type="submit">Create the GitHub App</button>
</form>
<form action="/" method="get"><p>
<label>Register it for an organization instead:
<input name="org" value="{e(org)}" placeholder="organization"></label>
<button type="submit">Use organization</button></p></form>"""
    return _page("musl-check setup", body)


def _forbidden() -> web.Response:
    return _page(
        "musl-check setup",
        "<h1>musl-check setup</h1><p>Open the setup link (it carries a"
        " one-time token): musl-check printed it on its console (stderr) when"
        " it started, and keeps it in <code>.musl-check-setup-link</code> beside"
        " <code>.env</code>. It works once, in one browser; restart musl-check"
        " for a new one.</p>",
        status=403,
    )


def _exchange(request: web.Request, state: SetupState, token: str) -> web.Response:
    """Trade the one-time token for a session cookie, then drop it from the URL."""
    if state.token is None or not secrets.compare_digest(
        token.encode(), state.token.encode()
    ):
        return _forbidden()
    state.token = None  # used: the printed link stops working
    state.session = secrets.token_urlsafe(32)
    resp = web.Response(status=303, headers={"Location": "/"})
    resp.set_cookie(
        SESSION_COOKIE,
        state.session,
        path="/",
        max_age=int(STATE_TTL_S) * 24,
        httponly=True,
        samesite="Strict",
        secure=_base_url(request).startswith("https://"),
    )
    return resp


async def callback(request: web.Request) -> web.Response:
    """Exchange GitHub's code for the App credentials and write them to `.env`."""
    state = request.app[SETUP_KEY]
    e = html.escape
    if state.done:
        return _page(
            "musl-check", "<p>Setup is already done: restart musl-check.</p>", 409
        )
    # No session cookie here: GitHub's redirect is a cross-site navigation, on
    # which browsers do not send SameSite=Strict cookies. The state, made by a
    # page only the session holder saw and good once, stands in for it.
    given = request.query.get("state", "")
    created = state.states.pop(given, None)
    if created is None or time.monotonic() - created > STATE_TTL_S:
        return _page(
            "musl-check setup",
            "<p>Unknown or expired setup state; start again.</p>",
            400,
        )
    code = request.query.get("code", "")
    if not _CODE.match(code):
        return _page("musl-check setup", "<p>GitHub sent no valid code.</p>", 400)
    url = f"{state.api_url}/app-manifests/{code}/conversions"
    session = request.app[SETUP_SESSION_KEY]
    try:
        async with session.post(
            url,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "musl-check-setup",
            },
        ) as resp:
            status = resp.status
            data = await resp.json(content_type=None) if status == 201 else None
    except (ClientError, TimeoutError, ValueError) as exc:
        # Only the error's type: its text may hold the URL, which holds the code.
        logger.error("manifest conversion failed", extra={"error": type(exc).__name__})
        return _page(
            "musl-check setup", "<p>Could not reach GitHub; try again.</p>", 502
        )
    if status != 201 or not isinstance(data, dict):
        logger.error("manifest conversion refused", extra={"status": status})
        return _page(
            "musl-check setup",
            f"<p>GitHub refused the code (HTTP {status}); codes expire after an"
            " hour: start again.</p>",
            502,
        )
    app_id, pem, secret = data.get("id"), data.get("pem"), data.get("webhook_secret")
    if not isinstance(app_id, int) or not isinstance(pem, str) or not secret:
        return _page(
            "musl-check setup",
            "<p>GitHub's answer lacks the App id, key or webhook secret.</p>",
            502,
        )
    values = {
        "GITHUB_APP_ID": str(app_id),
        "GITHUB_PRIVATE_KEY": pem.strip().replace("\n", "\\n"),
        "GITHUB_WEBHOOK_SECRET": str(secret),
    }
    # The App's user authorization (dashboard sign-in) and the key that signs
    # its session cookies, made here once.
    client_id, client_secret = data.get("client_id"), data.get("client_secret")
    if isinstance(client_id, str) and isinstance(client_secret, str):
        values["GITHUB_CLIENT_ID"] = client_id
        values["GITHUB_CLIENT_SECRET"] = client_secret
    values["MUSL_CHECK_SESSION_SECRET"] = secrets.token_urlsafe(32)
    try:
        write_env_file(state.env_path, values)
    except ValueError as exc:
        logger.error("GitHub's answer cannot go into .env", extra={"problem": str(exc)})
        return _page("musl-check setup", f"<p>{e(str(exc))}; start again.</p>", 502)
    state.done = True
    logger.warning("App registered; restart musl-check", extra={"app_id": app_id})
    name = str(data.get("name", "musl-check"))
    html_url = str(data.get("html_url", ""))
    install = (
        f' Then <a href="{e(html_url)}/installations/new">install it</a>'
        " on your repositories."
        if html_url.startswith("https://")
        else ""
    )
    return _page(
        "musl-check is registered",
        f"<h1>Registered {e(name)}</h1><p>App ID <code>{app_id}</code>; its"
        f" credentials are in <code>{e(str(state.env_path))}</code> (mode 0600).</p>"
        f"<p><b>Restart musl-check</b> to start checking.{install}</p>",
    )


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Write `values` into the `.env` at `path` (mode 0600), keeping other lines.

    Values are written in double quotes; one holding a newline, NUL or double
    quote is refused (ValueError naming the key): it would end the line or the
    quotes and let the rest be read as another setting.
    """
    for key, value in values.items():
        if any(ch in value for ch in ENV_VALUE_FORBIDDEN):
            raise ValueError(f"the value of {key} holds a newline or a quote")
    kept: list[str] = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
            if key not in values and key not in CREDENTIAL_VARS:
                kept.append(line)
    lines = [*kept, *(f'{k}="{v}"' for k, v in values.items())]
    write_private_file(path, "\n".join(lines) + "\n")
