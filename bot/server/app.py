"""Assemble the App's aiohttp application and run it."""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

from aiohttp import ClientSession, ClientTimeout, web

from bot.github import routes
from bot.github.context import Context, Options, build_context
from bot.queue import RetryPolicy
from bot.server.dashboard import add_dashboard_routes
from bot.server.ingress import webhook
from bot.server.logs import AccessLog, configure_logging
from bot.server.metrics import Metrics
from bot.server.pages import healthz, metrics, status_page
from bot.server.startup import github_problem, listen_problem, store_problem
from bot.server.state import (
    BODY_TIMEOUT_S,
    MAX_BACKLOG,
    MAX_CONCURRENT_WORK,
    MAX_QUEUED_BYTES,
    POLL_S,
    RUNTIME_KEY,
    SESSION_KEY,
    SETTINGS_KEY,
    STORE_KEY,
    VISIBILITY_S,
    WORK_TIMEOUT_S,
    Handler,
    Recover,
    Role,
    Runtime,
)
from bot.server.work import DRAIN_TIMEOUT_S, RECOVERY_INTERVAL_S, work_ctx
from bot.settings import DEFAULT_PORT, Settings, SettingsError, needs_setup, read_env
from bot.setup import create_setup_app
from bot.store import Store, open_store

HTTP_TIMEOUT: Final = ClientTimeout(total=60, connect=10)
# How aiohttp serves every app of ours (`web.run_app`, and the tests' servers):
# bodies are never inflated (a Content-Encoding is refused, bot/server/ingress),
# a body a handler left unread is not read on to keep the connection alive
# (lingering_time 0: the connection closes), idle keep-alive connections are
# dropped after 75 s (aiohttp's default is an hour), and the access log is
# one short line without the query string.
SERVER_OPTIONS: Final[dict[str, Any]] = {
    "access_log_class": AccessLog,
    "auto_decompress": False,
    "lingering_time": 0.0,
    "keepalive_timeout": 75.0,
}
# Exit statuses of `serve` and `worker` (also in their --help).
EXIT_CANNOT_START: Final = 1
EXIT_SETTINGS: Final = 2
# The GitHub layer's context of a running app, for inspection (tests, tools);
# handlers get it as an argument.
CONTEXT_KEY: Final = web.AppKey("context", Context)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    handler: Handler | None = None,
    options: Options | None = None,
    drain_timeout_s: float = DRAIN_TIMEOUT_S,
    consumers: int = MAX_CONCURRENT_WORK,
    poll_s: float = POLL_S,
    visibility_s: float = VISIBILITY_S,
    retry: RetryPolicy | None = None,
    work_timeout_s: float = WORK_TIMEOUT_S,
    max_queued_bytes: int = MAX_QUEUED_BYTES,
    role: Role = Role.ALL,
    recover: Recover | None = None,
    recovery_interval_s: float = RECOVERY_INTERVAL_S,
    max_backlog: int = MAX_BACKLOG,
    body_timeout_s: float = BODY_TIMEOUT_S,
) -> web.Application:
    """Build the App's aiohttp application (store opened on start-up if not given).

    A `Role.WEB` app records deliveries and leaves them to workers; a
    `Role.WORKER` app has no /webhook and runs only the `consumers`; the
    default does both. `retry` is the backoff of transient failures;
    `recover` asks GitHub for missed deliveries at start-up and every
    `recovery_interval_s` (0: never; the GitHub layer's own when `handler` is
    not given, else none). Without `handler`, the GitHub layer's context is
    built at start-up (with `options`) and bound into its handler.
    """
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS_KEY] = settings
    app[RUNTIME_KEY] = Runtime(
        handler=handler,
        metrics=Metrics.create(),
        owner=f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}",
        drain_timeout_s=drain_timeout_s,
        retry=retry or RetryPolicy(),
        consumers=consumers,
        poll_s=poll_s,
        visibility_s=visibility_s,
        work_timeout_s=work_timeout_s,
        max_queued_bytes=max_queued_bytes,
        role=role,
        recover=recover,
        recovery_interval_s=recovery_interval_s,
        max_backlog=max_backlog,
        body_timeout_s=body_timeout_s,
    )
    app.cleanup_ctx.append(_store_ctx(store))
    app.cleanup_ctx.append(_session_ctx)
    if role is not Role.WEB:
        if handler is None:
            app.cleanup_ctx.append(_github_ctx(options, recover))
        app.cleanup_ctx.append(work_ctx)
    if role is not Role.WORKER:
        app.router.add_post("/webhook", webhook)
        add_dashboard_routes(app, settings)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", status_page)
    return app


def _store_ctx(
    given: Store | None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        store = given if given is not None else open_store(app[SETTINGS_KEY].store_url)
        app[STORE_KEY] = store
        yield
        if given is None:  # a store passed in belongs to the caller
            await store.close()

    return ctx


async def _session_ctx(app: web.Application) -> AsyncIterator[None]:
    async with ClientSession(timeout=HTTP_TIMEOUT) as session:
        app[SESSION_KEY] = session
        yield


def _github_ctx(
    options: Options | None, recover: Recover | None
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Build the GitHub layer's context once the store and session exist."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        context = build_context(
            app[SETTINGS_KEY], app[STORE_KEY], app[SESSION_KEY], options
        )
        app[CONTEXT_KEY] = context
        rt = app[RUNTIME_KEY]
        rt.handler = functools.partial(routes.handle, ctx=context)
        rt.recover = recover or functools.partial(routes.recover, ctx=context)
        # The repository scan's feeder and periodic rescan (bot/github/scan.py).
        async with routes.background(ctx=context):
            yield

    return ctx


def serve(
    host: str,
    port: int | None,
    role: Role = Role.ALL,
    *,
    consumers: int = MAX_CONCURRENT_WORK,
) -> int:
    """Run the App (or the first-run setup page) until interrupted; return exit code."""
    env = read_env(os.environ)
    return run(env, host, port, role, consumers=consumers)


def run(
    env: Mapping[str, str],
    host: str,
    port: int | None,
    role: Role = Role.ALL,
    *,
    consumers: int = MAX_CONCURRENT_WORK,
) -> int:
    """Build the right application for `env` and serve it (see `serve`)."""
    if needs_setup(env) and role is not Role.WORKER:
        configure_logging("INFO", env.get("LOG_FORMAT", "text"))
        port = port or _env_port(env)
        app = create_setup_app(env, listen_url=listen_url(host, port))
        return _run_app(app, host, port, announce=False)
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        print(
            f"{exc} (fix in the environment or .env; see .env.example)", file=sys.stderr
        )
        return EXIT_SETTINGS
    problem = store_problem(settings) or asyncio.run(github_problem(settings))
    if problem is not None:
        _say(problem)
        return EXIT_CANNOT_START
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, role=role, consumers=consumers)
    return _run_app(app, host, port or settings.port)


def listen_url(host: str, port: int) -> str:
    """Return the http URL of a server listening on `host`:`port`.

    An unspecified address (all interfaces) is shown as localhost, which a
    browser on the same machine can open.
    """
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - compared, not bound
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _run_app(
    app: web.Application, host: str, port: int, *, announce: bool = True
) -> int:
    # aiohttp calls `print` once, after every socket is bound: one line for the
    # operator instead of its banner.
    def listening(_banner: str) -> None:
        _say(f"listening on http://{host}:{port}")

    try:
        web.run_app(
            app,
            host=host,
            port=port,
            print=listening if announce else None,
            **SERVER_OPTIONS,
        )
    except OSError as exc:  # binding the socket: busy port, no permission
        _say(listen_problem(exc, host, port))
        return EXIT_CANNOT_START
    if announce:
        _say("stopped")
    return 0


def _say(text: str) -> None:
    print(f"musl-check: {text}", file=sys.stderr, flush=True)


def _env_port(env: Mapping[str, str]) -> int:
    try:
        return int(env.get("PORT", ""))
    except ValueError:
        return DEFAULT_PORT
