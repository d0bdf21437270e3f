"""The fake GitHub aiohttp app: auth, fault injection, recording, schema checks."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

import jwt
from aiohttp import web

from . import schema
from .oauth import is_plain
from .state import FakeGitHub, Recorded

FAKE_KEY: Final = web.AppKey("fake_github", FakeGitHub)
API_VERSION: Final = "2022-11-28"
# Route modules, each exposing add_routes(routes, fake); optional ones are
# loaded when their file exists (written by other engineers).
ROUTE_MODULES: Final = (
    "apps",
    "repos",
    "checks",
    "pulls",
    "git_data",
    "hooks",
    "oauth",
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, message: str) -> web.Response:
    """Return a GitHub-style JSON error."""
    return web.json_response(
        {"message": message, "documentation_url": "https://docs.github.com/rest"},
        status=status,
    )


def _check_auth(fake: FakeGitHub, request: web.Request) -> web.Response | None:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if request.path == "/app" or request.path.startswith(("/app/", "/app-")):
        if scheme.lower() != "bearer":
            return error(401, "A JSON web token could not be decoded")
        try:
            claims = jwt.decode(
                credential,
                fake.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.PyJWTError as exc:
            return error(401, f"JWT invalid: {exc}")
        if str(claims["iss"]) != str(fake.app_id):
            return error(401, "JWT issuer is not this App")
        if claims["exp"] - claims["iat"] > 600:
            fake.violations.append("JWT lives longer than 10 minutes")
            return error(401, "Expiration time claim is too far in the future")
        return None
    if request.path.endswith("/installation"):  # JWT-only endpoint
        return None if scheme.lower() == "bearer" else error(401, "JWT required")
    if scheme.lower() != "token" or credential not in fake.tokens:
        return error(401, "Bad credentials")
    return None


def _middleware(fake: FakeGitHub) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()
        body: Any = None
        if is_plain(request.path):  # sign-in and user routes: see oauth.py
            fake.requests.append(
                Recorded(request.method, request.path, dict(request.query), raw, {})
            )
            fault = fake.take_fault(request.method, request.path)
            if fault is not None:
                return error(fault.status, "injected failure")
            return await handler(request)
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                fake.violations.append(
                    f"{request.method} {request.path}: body is not JSON"
                )
        fake.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                body,
                {k.lower(): v for k, v in request.headers.items()},
            )
        )
        where = f"{request.method} {request.path}"
        if request.headers.get("x-github-api-version") != API_VERSION:
            fake.violations.append(f"{where}: no X-GitHub-Api-Version {API_VERSION}")
        op = schema.find_operation(request.method, request.path)
        if op is None:
            fake.violations.append(f"{where}: not an operation of the schema")
        else:
            known = op.parameters("query")
            for name in request.query:
                if name not in known:
                    fake.violations.append(f"{where}: unknown query parameter {name}")
            for problem in schema.request_errors(op, body, bool(raw)):
                fake.violations.append(f"{where} request: {problem}")
        denied = _check_auth(fake, request)
        if denied is not None:
            return denied
        latency = fake.extra.get("latency_s")  # a slow GitHub: work stays in flight
        if latency:
            await asyncio.sleep(latency)
        flaky = fake.extra.get("flaky")  # (random.Random, share of 502 answers)
        if flaky is not None and flaky[0].random() < flaky[1]:
            response = error(502, "injected flakiness")
            response.headers["x-github-request-id"] = "FAKE:0502"
            return response
        fault = fake.take_fault(request.method, request.path)
        if fault is not None:
            response = error(fault.status, "injected failure")
            response.headers.update(fault.headers)
            response.headers["x-github-request-id"] = "FAKE:0001"
            return response
        response = await handler(request)
        if op is not None and isinstance(response, web.Response):
            ctype = response.content_type
            if ctype == "application/json" and response.body is not None:
                assert isinstance(response.body, bytes)
                value = json.loads(response.body)
                for problem in schema.response_errors(op, response.status, value):
                    fake.violations.append(f"{where} response: {problem}")
        return response

    return middleware


def create_fake_app(fake: FakeGitHub) -> web.Application:
    """Build the fake GitHub API server for `fake`."""
    app = web.Application(middlewares=[_middleware(fake)])
    app[FAKE_KEY] = fake
    routes = web.RouteTableDef()
    for name in ROUTE_MODULES:
        module_name = f"{__package__}.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).add_routes(routes, fake)
    app.add_routes(routes)
    return app
