"""Fake GitHub web sign-in (OAuth web flow) and the user endpoints it leads to.

Not in the OpenAPI subset: the authorize and access-token endpoints live on
GitHub's web host, and `/user`, `/user/installations` answer a user's token,
so these routes skip the schema checks and are written plainly after GitHub's
documentation:
https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
Tests set `oauth_state(fake).signed_in` to the login the browser is signed in
to GitHub as, and `users[login]` to the installations that user can see.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlencode

from aiohttp import web

from .state import FakeGitHub

CLIENT_ID: Final = "Iv1.fakeclientid"
CLIENT_SECRET: Final = "fake-client-secret"
# Paths answered without the schema and installation-token checks.
PLAIN_PREFIXES: Final = ("/login/oauth/", "/user")


@dataclass
class OAuthState:
    """The fake's users, codes and user tokens."""

    signed_in: str | None = None
    users: dict[str, set[int]] = field(default_factory=dict)
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # login, uri
    tokens: dict[str, str] = field(default_factory=dict)  # token -> login


def oauth_state(fake: FakeGitHub) -> OAuthState:
    """Return the fake's sign-in state (created on first use)."""
    state = fake.extra.get("oauth")
    if not isinstance(state, OAuthState):
        state = fake.extra["oauth"] = OAuthState()
    return state


def is_plain(path: str) -> bool:
    """Return whether a path is one of these routes (no schema, no App token)."""
    return path.startswith(PLAIN_PREFIXES)


def _user(fake: FakeGitHub, request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "token":
        return None
    return oauth_state(fake).tokens.get(token)


def add_routes(routes: web.RouteTableDef, fake: FakeGitHub) -> None:
    """Register the sign-in and user endpoints."""

    @routes.get("/login/oauth/authorize")
    async def authorize(request: web.Request) -> web.Response:
        state = oauth_state(fake)
        if request.query.get("client_id") != CLIENT_ID:
            return web.Response(status=404, text="unknown client_id")
        if state.signed_in is None:
            return web.Response(status=403, text="not signed in to GitHub")
        code = secrets.token_hex(10)
        uri = request.query.get("redirect_uri", "")
        state.codes[code] = (state.signed_in, uri)
        query = urlencode({"code": code, "state": request.query.get("state", "")})
        raise web.HTTPFound(f"{uri}?{query}")

    @routes.post("/login/oauth/access_token")
    async def access_token(request: web.Request) -> web.Response:
        state = oauth_state(fake)
        form = await request.post()
        if (form.get("client_id"), form.get("client_secret")) != (
            CLIENT_ID,
            CLIENT_SECRET,
        ):
            return web.json_response({"error": "incorrect_client_credentials"})
        found = state.codes.pop(str(form.get("code", "")), None)
        if found is None or found[1] != form.get("redirect_uri"):
            # GitHub answers 200 with an error for a bad or reused code.
            return web.json_response({"error": "bad_verification_code"})
        token = "ghu_" + secrets.token_hex(18)
        state.tokens[token] = found[0]
        return web.json_response(
            {"access_token": token, "token_type": "bearer", "scope": ""}
        )

    @routes.get("/user")
    async def user(request: web.Request) -> web.Response:
        login = _user(fake, request)
        if login is None:
            return web.json_response({"message": "Bad credentials"}, status=401)
        return web.json_response({"login": login, "id": 1, "type": "User"})

    @routes.get("/user/installations")
    async def installations(request: web.Request) -> web.Response:
        login = _user(fake, request)
        if login is None:
            return web.json_response({"message": "Bad credentials"}, status=401)
        ids = sorted(oauth_state(fake).users.get(login, set()))
        return web.json_response(
            {
                "total_count": len(ids),
                "installations": [{"id": i, "app_id": fake.app_id} for i in ids],
            }
        )
