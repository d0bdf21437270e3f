"""State one aiohttp application holds: its keys, its role and its runtime."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from aiohttp import ClientSession, web
from gidgethub.sansio import Event

from bot.queue import RetryPolicy
from bot.server.metrics import Metrics
from bot.settings import Settings
from bot.store import Store

# Processes one delivery. Its dependencies are bound in when it is made (see
# `bot.server.app`), so it takes the event alone.
Handler = Callable[[Event], Awaitable[None]]
# One pass of missed-delivery recovery; returns how many were redelivered.
Recover = Callable[[], Awaitable[int]]

SETTINGS_KEY: Final = web.AppKey("settings", Settings)
STORE_KEY: Final = web.AppKey("store", Store)
SESSION_KEY: Final = web.AppKey("session", ClientSession)

# Consumers per process: at most this many deliveries processed at once, so
# a burst of webhooks does not become hundreds of concurrent GitHub calls.
MAX_CONCURRENT_WORK: Final = 8
# Body bytes held by the deliveries in processing: past this bound consumers
# take no more (one delivery always fits), so memory stays bounded however
# many deliveries wait in the store.
MAX_QUEUED_BYTES: Final = 64 * 1024 * 1024
# A taken delivery stays invisible to other consumers this long, renewed
# every third of it while the work runs: a consumer that dies (SIGKILL, lost
# machine) lets its work go to another within VISIBILITY_S plus one poll.
VISIBILITY_S: Final = 6.0
# How often an idle consumer asks the store for work nobody announced:
# deliveries recorded by another process, released after a backoff, or left
# by a dead consumer.
POLL_S: Final = 1.0
# One delivery's work is cut off after this long (then retried, or completed
# as "could not analyse" on its last attempt).
WORK_TIMEOUT_S: Final = 100.0
# /healthz says `degraded` when more deliveries than this wait unfinished.
MAX_BACKLOG: Final = 1000


class Role(StrEnum):
    """What one process of the App does (several share a Redis or SQLite store)."""

    ALL = "all"  # receive webhooks and process them (the default, one instance)
    WEB = "web"  # receive and record only (`serve --ingress-only`)
    WORKER = "worker"  # process what web instances recorded (`musl-check worker`)


# The whole body of a webhook must arrive within this long of the handler
# starting to read it. GitHub sends it at once and gives up on an answer after
# 10 s (docs/github.md 1.3); a client trickling bytes (slowloris) is cut off
# here instead of holding its connection open for as long as it likes.
BODY_TIMEOUT_S: Final = 10.0


@dataclass(slots=True)
class Runtime:
    """Mutable per-app state: consumers, work in progress, health, metrics."""

    metrics: Metrics
    owner: str
    drain_timeout_s: float
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    consumers: int = MAX_CONCURRENT_WORK
    visibility_s: float = VISIBILITY_S
    poll_s: float = POLL_S
    work_timeout_s: float = WORK_TIMEOUT_S
    max_queued_bytes: int = MAX_QUEUED_BYTES
    max_backlog: int = MAX_BACKLOG
    role: Role = Role.ALL
    body_timeout_s: float = BODY_TIMEOUT_S
    reading_bytes: int = 0  # bytes of webhook bodies being read now
    # Set at start-up when the App's own (built from the store and session).
    handler: Handler | None = None
    recover: Recover | None = None
    recovery_interval_s: float = 300.0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)  # one per delivery
    consumer_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    active: set[str] = field(default_factory=set)  # delivery ids in processing
    queued_bytes: int = 0  # body bytes of the deliveries in `active`
    waiters: list[asyncio.Future[None]] = field(default_factory=list)  # idle
    generation: int = 0  # how many times work was announced
    stopping: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # for `drain`
    # Why this instance is degraded (reason -> detail), for /healthz.
    problems: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def notify(self) -> None:
        """Announce recorded work: wake one idle consumer."""
        self.generation += 1
        while self.waiters:
            waiter = self.waiters.pop()
            if not waiter.done():
                waiter.set_result(None)
                return

    def wake_all(self) -> None:
        """Wake every idle consumer (shutting down, or room freed)."""
        self.generation += 1
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def has_room(self) -> bool:
        """Return whether a consumer may take one more delivery."""
        return not self.active or self.queued_bytes < self.max_queued_bytes

    def idle(self) -> bool:
        """Return whether nothing is in processing and every consumer waits."""
        return not self.active and len(self.waiters) >= len(self.consumer_tasks)


RUNTIME_KEY: Final = web.AppKey("runtime", Runtime)
