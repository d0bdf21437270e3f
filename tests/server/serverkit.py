"""Helpers for the server tests: real payloads, signed headers, a recording handler."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.server import drain, sign
from tests.paths import FIXTURES

WEBHOOKS = FIXTURES / "webhooks"
SECRET = "It's a Secret to Everybody"
ROTATED = "the-new-secret"


def payload(event: str, action: str) -> bytes:
    """Return the raw bytes of a real webhook example payload."""
    return (WEBHOOKS / event / f"{action}.json").read_bytes()


def headers(
    body: bytes,
    event: str = "pull_request",
    delivery: str | None = None,
    secret: str = SECRET,
) -> dict[str, str]:
    """Return the headers GitHub sends with a signed delivery."""
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/test",
    }


@dataclass
class Recorder:
    """A handler that records the events it gets; optionally waits or raises."""

    events: list[Any] = field(default_factory=list)
    gate: asyncio.Event | None = None
    error: Exception | None = None
    called: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, event: Any) -> None:
        self.events.append(event)
        self.called.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error


async def settle(app: web.Application) -> None:
    """Wait until the app's consumers have taken and processed all they can."""
    await drain(app, 30)


async def calls(recorder: Recorder, n: int) -> None:
    """Wait until `recorder` has been called `n` times (by any consumer)."""
    async with asyncio.timeout(30):
        while len(recorder.events) < n:
            recorder.called.clear()
            await recorder.called.wait()


def distinct(body: bytes, n: int) -> bytes:
    """Return `body` made unique by `n` in 16 bytes of JSON whitespace.

    The same signed body twice is a replay (ignored); tests that mean several
    deliveries send bodies that differ, all of one length, as GitHub's do.
    """
    marks = format(n, "016b").replace("0", " ").replace("1", "\t")
    return body.rstrip()[:-1] + marks.encode() + b"}"
