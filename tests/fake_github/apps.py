"""Fake App endpoints: the App, its installations, tokens, installation repositories."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

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

    @routes.get("/app/installations")
    async def installations(request: web.Request) -> web.Response:
        ids = sorted({r.installation_id for r in fake.repos.values()})
        items = []
        for installation_id in ids:
            body = example("installation")
            body["id"] = installation_id
            body["app_id"] = fake.app_id
            # This operation's schema joins the user and enterprise shapes of
            # `account` with allOf (the single-installation one uses anyOf):
            # give the account the enterprise's required keys too.
            account = body["account"]
            account.setdefault("name", account.get("login"))
            account.setdefault("slug", account.get("login"))
            account.setdefault("created_at", body["created_at"])
            account.setdefault("updated_at", body["updated_at"])
            items.append(body)
        page, links = _page(request, items)
        return web.json_response(page, headers=links)

    @routes.get("/installation/repositories")
    async def installation_repositories(request: web.Request) -> web.Response:
        credential = request.headers.get("authorization", "").partition(" ")[2]
        installation_id = fake.tokens.get(credential)
        template = example("installation-token")["repositories"][0]
        items = []
        for repo in sorted(fake.repos.values(), key=lambda r: r.id):
            if repo.installation_id != installation_id:
                continue
            item = dict(template)
            item.update(id=repo.id, name=repo.name, full_name=repo.full_name)
            item["owner"] = {**template["owner"], "login": repo.owner}
            item["default_branch"] = repo.default_branch
            item["archived"] = repo.full_name in fake.extra.get("archived", ())
            item["disabled"] = False
            items.append(item)
        page, links = _page(request, items)
        body = {
            "total_count": len(items),
            "repositories": page,
            "repository_selection": "all",
        }
        return web.json_response(body, headers=links)


def _page(request: web.Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """Return one page of `items` and its Link header, as GitHub paginates."""
    per_page = min(100, int(request.query.get("per_page", "30")))
    page = int(request.query.get("page", "1"))
    start = (page - 1) * per_page
    links = {}
    if start + per_page < len(items):
        url = request.url.update_query(page=str(page + 1))
        links["Link"] = f'<{url}>; rel="next"'
    return items[start : start + per_page], links
