"""Fake App endpoints: the authenticated App, installation access tokens."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from aiohttp import web

from .server import error
from .state import FakeGitHub, example

APP_SLUG = "musl-check"  # the bot login of what the App posts: musl-check[bot]


def add_routes(routes: web.RouteTableDef, fake: FakeGitHub) -> None:
    """Register the App endpoints."""

    @routes.get("/app")
    async def authenticated_app(request: web.Request) -> web.Response:
        body = example("integration")
        # The slug makes the bot login of what the App posts (musl-check[bot]).
        body.update(id=fake.app_id, slug=APP_SLUG, name="musl-check")
        return web.json_response(body)

    @routes.post("/app/installations/{installation_id}/access_tokens")
    async def access_token(request: web.Request) -> web.Response:
        installation_id = int(request.match_info["installation_id"])
        known = {r.installation_id for r in fake.repos.values()}
        if installation_id not in known:
            return error(404, "Not Found")
        # Stateless tokens (2026) are long and contain dots: the App must not
        # assume a length (docs/github.md 2.2).
        tail = f"{secrets.token_urlsafe(200)}.{secrets.token_urlsafe(40)}"
        token = f"ghs_{fake.app_id}_{tail}"
        fake.tokens[token] = installation_id
        body = example("installation-token")
        body.pop("repositories", None)
        body["token"] = token
        expires = datetime.now(UTC) + timedelta(hours=1)
        body["expires_at"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        return web.json_response(body, status=201)

    @routes.get("/repos/{owner}/{repo}/installation")
    async def repo_installation(request: web.Request) -> web.Response:
        name = f"{request.match_info['owner']}/{request.match_info['repo']}"
        repo = fake.repos.get(name)
        if repo is None:
            return error(404, "Not Found")
        body = example("installation")
        body["id"] = repo.installation_id
        body["app_id"] = fake.app_id
        return web.json_response(body)
