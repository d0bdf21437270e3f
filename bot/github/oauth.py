"""Dashboard sign-in: the App's user authorization (OAuth web flow) and who the user is.

The authorize and access-token endpoints live on the web host
(`GITHUB_WEB_URL`), the rest on the API host. With the user's token the App
asks which of its installations the user can see (`GET /user/installations`:
"installations of your GitHub App that the authenticated user has explicit
permission to access"), which is what the dashboard lets them read. See
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
and https://docs.github.com/en/rest/apps/installations#list-app-installations-accessible-to-the-user-access-token
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

import aiohttp
import gidgethub

from bot.github.client import GitHubClient

# A user sees at most this many installations of one App; more pages are not read.
MAX_INSTALLATIONS: Final = 1000
MAX_TOKEN_RESPONSE: Final = 64 * 1024
TIMEOUT_S: Final = 20.0


class OAuthError(Exception):
    """Sign-in failed; the message is safe to show (it holds no secret)."""


@dataclass(frozen=True, slots=True)
class OAuthApp:
    """The App's user-authorization credentials and the hosts to use them on."""

    client_id: str
    client_secret: str
    web_url: str
    api_url: str


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """Who signed in and which installations of the App they can see."""

    login: str
    installations: frozenset[int]


def authorize_url(app: OAuthApp, redirect_uri: str, state: str) -> str:
    """Return the page on the web host that asks the user to authorize the App."""
    query = urlencode(
        {"client_id": app.client_id, "redirect_uri": redirect_uri, "state": state}
    )
    return f"{app.web_url}/login/oauth/authorize?{query}"


async def exchange_code(
    session: aiohttp.ClientSession, app: OAuthApp, code: str, redirect_uri: str
) -> str:
    """Return the user access token GitHub gives for an authorization code."""
    try:
        async with asyncio.timeout(TIMEOUT_S):
            async with session.post(
                f"{app.web_url}/login/oauth/access_token",
                data={
                    "client_id": app.client_id,
                    "client_secret": app.client_secret,
                    "code": code,
                    "redirect_uri": redirect_uri,
                },
                headers={"accept": "application/json"},
            ) as resp:
                raw = await resp.content.read(MAX_TOKEN_RESPONSE + 1)
                status = resp.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise OAuthError("GitHub could not be reached") from exc
    if status != 200 or len(raw) > MAX_TOKEN_RESPONSE:
        raise OAuthError(f"GitHub answered HTTP {status} to the code exchange")
    try:
        data = _json_object(raw)
    except ValueError as exc:
        raise OAuthError("GitHub's token answer is not JSON") from exc
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        # GitHub answers 200 with {"error": "bad_verification_code", ...}.
        error = data.get("error")
        reason = error if isinstance(error, str) and error.isidentifier() else "none"
        raise OAuthError(f"GitHub gave no token (error: {reason})")
    return token


def _json_object(raw: bytes) -> dict[str, object]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


async def signed_in_user(
    session: aiohttp.ClientSession, app: OAuthApp, token: str
) -> SignedInUser:
    """Return the token's user and the App installations they can see."""

    async def auth() -> str:
        return f"token {token}"

    gh = GitHubClient(session, base_url=app.api_url, auth=auth)
    try:
        async with asyncio.timeout(TIMEOUT_S):
            user = await gh.getitem("/user")
            seen: set[int] = set()
            async for item in gh.getiter(
                "/user/installations?per_page=100", iterable_key="installations"
            ):
                if isinstance(item, dict) and type(item.get("id")) is int:
                    seen.add(item["id"])
                if len(seen) >= MAX_INSTALLATIONS:
                    break
    except (gidgethub.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
        raise OAuthError("GitHub would not say who signed in") from exc
    login = user.get("login") if isinstance(user, dict) else None
    if not isinstance(login, str) or not login:
        raise OAuthError("GitHub's user answer has no login")
    return SignedInUser(login, frozenset(seen))
