"""Start-up checks that turn a misconfiguration into one line naming the fix.

Each check runs once, before the server listens, and returns None when all is
well or one sentence for the operator: the cause, then what to do about it.
"""

from __future__ import annotations

import errno
import importlib.util
from typing import Final

from aiohttp import ClientConnectorError, ClientError, ClientSession, ClientTimeout

from bot.github.auth import AppAuth
from bot.github.client import API_VERSION, USER_AGENT
from bot.settings import Settings

CHECK_TIMEOUT: Final = ClientTimeout(total=15, connect=10)


def store_problem(settings: Settings) -> str | None:
    """Return why the configured store cannot be opened by this installation."""
    redis = settings.store_url.startswith(("redis://", "rediss://"))
    if redis and importlib.util.find_spec("redis") is None:
        return (
            "MUSL_CHECK_STORE is a redis:// URL but the redis package is not "
            "installed: pip install 'musl-check[redis]' (or use sqlite:///...)"
        )
    return None


async def github_problem(settings: Settings) -> str | None:
    """Ask GitHub who this App is (GET /app, with the App JWT) and say what failed.

    A wrong App ID or a key of another App gives 401 here, at start-up, rather
    than on the first delivery.
    https://docs.github.com/rest/apps/apps#get-the-authenticated-app
    """
    url = f"{settings.api_url}/app"
    token = AppAuth(settings.app_id, settings.private_key).app_jwt()
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Api-Version": API_VERSION,
    }
    try:
        async with (
            ClientSession(timeout=CHECK_TIMEOUT) as session,
            session.get(url, headers=headers, allow_redirects=False) as resp,
        ):
            status = resp.status
    except ClientConnectorError as exc:
        return _unreachable(settings, exc.os_error.strerror or str(exc.os_error))
    except (ClientError, TimeoutError) as exc:
        return _unreachable(settings, str(exc) or type(exc).__name__)
    if status == 200:
        return None
    if status == 401:
        return (
            f"GitHub refused the App's credentials (HTTP 401 from {url}): "
            "GITHUB_APP_ID and the private key must belong to the same App "
            "(generate a new key on the App's settings page)"
        )
    return (
        f"GitHub answered HTTP {status} to {url}: check GITHUB_API_URL (GitHub "
        "Enterprise Server: https://HOST/api/v3)"
    )


def _unreachable(settings: Settings, why: str) -> str:
    return (
        f"cannot reach the GitHub API at {settings.api_url} ({why}): check the "
        "network or proxy, or GITHUB_API_URL"
    )


def listen_problem(exc: OSError, host: str, port: int) -> str:
    """Return one line for an error binding the listening socket."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use: stop the other server "
            "or choose another port with --port or PORT"
        )
    if exc.errno == errno.EACCES:
        return (
            f"no permission to listen on port {port}: use a port above 1023 "
            "with --port or PORT"
        )
    return f"cannot listen on {host}:{port} ({exc.strerror or exc}): check --host"
