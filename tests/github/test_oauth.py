"""The OAuth code exchange against odd answers: each ends in a clear OAuthError."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.github.oauth import (
    MAX_TOKEN_RESPONSE,
    OAuthApp,
    OAuthError,
    exchange_code,
    signed_in_user,
)


def app_answering(status: int, body: bytes) -> web.Application:
    """Return a web host whose token endpoint and /user answer `body`."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/login/oauth/access_token", answer)
    app.router.add_get("/user", answer)
    app.router.add_get("/user/installations", answer)
    return app


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, b"{}", "GitHub answered HTTP 500 to the code exchange"),
        (200, b"x" * (MAX_TOKEN_RESPONSE + 1), "HTTP 200 to the code exchange"),
        (200, b"<html>", "GitHub's token answer is not JSON"),
        (200, b"[1]", "GitHub's token answer is not JSON"),
        (200, b'{"error": "bad_verification_code"}', "bad_verification_code"),
        (200, b'{"error": "<script>"}', "(error: none)"),
    ],
)
async def test_code_exchange_failures(
    status: int,
    body: bytes,
    reason: str,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    server = await aiohttp_server(app_answering(status, body))
    url = str(server.make_url("")).rstrip("/")
    app = OAuthApp("id", "secret", url, url)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(
            OAuthError, match=reason.replace("(", r"\(").replace(")", r"\)")
        ):
            await exchange_code(session, app, "code", "http://x/cb")


async def test_unreachable_web_host(unused_tcp_port: int) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(OAuthError, match="could not be reached"):
            await exchange_code(session, OAuthApp("i", "s", url, url), "c", "u")


async def test_user_without_login(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> None:
    server = await aiohttp_server(app_answering(200, b'{"installations": []}'))
    url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(OAuthError, match="no login"):
            await signed_in_user(session, OAuthApp("i", "s", url, url), "t")
