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

from bot.server.metrics import Metrics
from bot.settings import Settings
from bot.store import Store

Handler = Callable[[Event, web.Application], Awaitable[None]]

SETTINGS_KEY: Final = web.AppKey("settings", Settings)
STORE_KEY: Final = web.AppKey("store", Store)
SESSION_KEY: Final = web.AppKey("session", ClientSession)

# Background work: at most this many deliveries processed at once, so a burst
# of webhooks does not become hundreds of concurrent GitHub calls.
MAX_CONCURRENT_WORK: Final = 8
# Deliveries held in memory (queued for or in processing), by count and by
# body bytes. Past either bound a burst is only recorded (unleased) and answered;
# the sweep starts it once the queue has drained to half, so memory stays
# bounded however many deliveries arrive at once.
MAX_QUEUED: Final = 500
MAX_QUEUED_BYTES: Final = 64 * 1024 * 1024


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

# How often a worker looks for recorded work: web instances cannot wake it.
WORKER_POLL_S: Final = 1.0


@dataclass(slots=True)
class Runtime:
    """Mutable per-app state: background tasks, concurrency gate, metrics."""

    handler: Handler
    metrics: Metrics
    owner: str
    drain_timeout_s: float
    sweep_interval_s: float
    semaphore: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_WORK)
    )
    max_queued: int = MAX_QUEUED
    max_queued_bytes: int = MAX_QUEUED_BYTES
    role: Role = Role.ALL
    body_timeout_s: float = BODY_TIMEOUT_S
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    active: set[str] = field(default_factory=set)  # delivery ids queued or running
    queued_bytes: int = 0  # body bytes of the deliveries in `active`
    reading_bytes: int = 0  # bytes of webhook bodies being read now
    backlog: bool = False  # deliveries were left in the store for the sweep
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # sweep now
    started: float = field(default_factory=time.time)

    def has_room(self, size: int) -> bool:
        """Return whether one more delivery of `size` body bytes may be queued."""
        if not self.active:  # one delivery always fits, however big
            return True
        return (
            len(self.active) < self.max_queued
            and self.queued_bytes + size <= self.max_queued_bytes
        )


RUNTIME_KEY: Final = web.AppKey("runtime", Runtime)
