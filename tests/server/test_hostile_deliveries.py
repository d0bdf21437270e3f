"""Hostile deliveries against a running server (a real socket).

Compressed (gzip bombs), slow (trickled), oversized, replayed, malformed and
mis-signed requests; peak memory is measured while they run and must stay
within a few body caps, whatever the bodies would inflate to; a signed delivery
sent during the attack is still answered and processed. bench/attack.py
measures how fast it is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tracemalloc
import uuid
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from bot.server import RUNTIME_KEY, create_app
from bot.server.app import SERVER_OPTIONS
from bot.settings import Settings
from bot.store import Store
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from tests.server.serverkit import Recorder, distinct, headers, payload, settle

BODY = payload("pull_request", "synchronize")
CAP = 1024 * 1024  # the body cap of the server under attack
INFLATED = 64 * CAP  # what each bomb inflates to
BOMBS = 6
TRICKLERS = 40


def gzip_bomb(size: int) -> bytes:
    """Return gzip data that inflates to `size` zero bytes (built in pieces)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(CAP)
    parts = [z.compress(block) for _ in range(size // CAP)]
    return b"".join([*parts, z.flush()])


BOMB = gzip_bomb(INFLATED)


async def raw_request(
    port: int, head: dict[str, str], body: bytes = b"", *, send_body: bool = True
) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request on a fresh socket; return (status, answer).

    Status 0: the connection was reset before an answer arrived (a server
    closing with unread bytes in its buffer makes the kernel send a reset,
    which may overtake the answer). With `send_body=False` only the headers
    go out: the answer then shows the body was not needed for it.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = {"Content-Length": str(len(body)), **head}
    lines = ["POST /webhook HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in head.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    if send_body:
        writer.write(body)
    answer = b""
    # Until the server closes; aiohttp's own 400 for an encoding it cannot
    # decode leaves the connection open, hence the guard against a hang.
    with contextlib.suppress(ConnectionError, TimeoutError):
        async with asyncio.timeout(5):
            await writer.drain()
            while chunk := await reader.read(65536):
                answer += chunk
    writer.close()
    status = int(answer.split(b" ", 2)[1]) if answer else 0
    return status, answer


async def trickle(port: int, delivery: str) -> tuple[int, bool]:
    """Send headers, then the body one byte at a time; return (status, closed)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    h = headers(BODY, delivery=delivery)
    h["Content-Length"] = str(len(BODY))
    head = "\r\n".join(
        [
            "POST /webhook HTTP/1.1",
            "Host: 127.0.0.1",
            *(f"{k}: {v}" for k, v in h.items()),
        ]
    )
    writer.write((head + "\r\n\r\n").encode())
    answer = b""
    for byte in BODY:
        if reader.at_eof():
            break
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            break
        try:
            async with asyncio.timeout(0.2):
                answer += await reader.read(4096)
        except TimeoutError:
            continue
        if answer:
            break
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(4096):  # until the server closes
            answer += chunk
    closed = True  # read() returned: end of stream or reset
    writer.close()
    return (int(answer.split(b" ", 2)[1]) if answer else 0), closed


@pytest.fixture
async def small(settings: Settings) -> Settings:
    return dataclasses.replace(settings, max_body_bytes=CAP)


async def serve(
    settings: Settings, store: Store, handler: Recorder, options: dict[str, Any]
) -> TestServer:
    app = create_app(settings, store=store, handler=handler, body_timeout_s=1.0)
    server = TestServer(app)
    await server.start_server(**options)
    return server


@pytest.fixture(params=["served", "aiohttp-defaults"])
async def server(
    request: pytest.FixtureRequest,
    small: Settings,
    store: SqliteStore,
    recorder: Recorder,
) -> AsyncIterator[TestServer]:
    """The App as `musl-check serve` runs it, and under aiohttp's defaults.

    Under the defaults aiohttp would inflate gzip bodies and read unread ones
    on; the handler alone must still keep memory bounded.
    """
    options = SERVER_OPTIONS if request.param == "served" else {}
    server = await serve(small, store, recorder, options)
    server.served = options is SERVER_OPTIONS  # type: ignore[attr-defined]
    yield server
    await server.close()


async def signed_delivery(server: TestServer, n: int) -> int:
    body = distinct(BODY, n)
    async with ClientSession() as session:
        resp = await session.post(
            server.make_url("/webhook"), data=body, headers=headers(body)
        )
        return resp.status


async def test_attack_keeps_memory_bounded_and_signed_deliveries_answered(
    server: TestServer, recorder: Recorder
) -> None:
    port = server.port
    assert port is not None
    bomb_head = {**headers(BOMB), "Content-Encoding": "gzip"}
    bomb_head["Content-Length"] = str(len(BOMB))
    oversized = b"{" + b" " * (3 * CAP) + b"}"
    tracemalloc.start()
    try:
        attack = [
            *(raw_request(port, bomb_head, BOMB) for _ in range(BOMBS)),
            *(trickle(port, f"slow-{i}") for i in range(TRICKLERS)),
            raw_request(port, headers(oversized), oversized),
        ]
        running = [asyncio.ensure_future(a) for a in attack]
        await asyncio.sleep(0.1)  # the attack is under way
        # A signed delivery sent meanwhile is answered and processed.
        assert await signed_delivery(server, 1) == 202
        results = await asyncio.gather(*running)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    bombs, slow, big = results[:BOMBS], results[BOMBS:-1], results[-1]
    # Each bomb got its 415 (or a reset that overtook it): never anything else.
    assert {status for status, _ in bombs} <= {415, 0}
    assert all(status == 408 and closed for status, closed in slow)
    assert big[0] in (413, 0)
    # Bounded by the body cap (and the read budget of a few caps), never by
    # what the bombs inflate to (6 x 64 MiB).
    assert peak < 8 * CAP, f"peak {peak / CAP:.1f} MiB"
    await settle(server.app)
    assert len(recorder.events) == 1
    metrics = server.app[RUNTIME_KEY].metrics
    assert metrics.rejected.labels("encoded")._value.get() == BOMBS
    assert metrics.rejected.labels("slow_body")._value.get() == TRICKLERS


async def test_encodings_refused_before_the_body(server: TestServer) -> None:
    port = server.port
    assert port is not None
    for encoding in ("gzip", "deflate", "br", "x-gzip", "identity, gzip"):
        h = {
            **headers(BOMB),
            "Content-Encoding": encoding,
            "Content-Length": str(len(BOMB)),
        }
        status, answer = await raw_request(port, h, BOMB)
        # Under aiohttp's defaults its parser refuses an encoding it cannot
        # decode (br without the brotli package) itself, with a 400.
        if status == 415:
            assert b"Connection: close" in answer
        else:
            assert not server.served, encoding
            assert status == 400, encoding
    # Identity is no encoding at all: accepted.
    body = distinct(BODY, 2)
    h = {
        **headers(body),
        "Content-Encoding": "identity",
        "Content-Length": str(len(body)),
    }
    assert (await raw_request(port, h, body))[0] == 202


async def test_malformed_and_mis_signed_refused(
    server: TestServer, recorder: Recorder
) -> None:
    port = server.port
    assert port is not None

    def sized(h: dict[str, str], body: bytes) -> dict[str, str]:
        return {**h, "Connection": "close"}

    bad_json = b'{"action": "opened", '
    cases: list[tuple[dict[str, str], bytes, int]] = [
        (headers(BODY, secret="wrong"), BODY, 401),
        ({**headers(BODY), "X-Hub-Signature-256": "sha256=zz"}, BODY, 401),
        (
            {k: v for k, v in headers(BODY).items() if k != "X-Hub-Signature-256"},
            BODY,
            401,
        ),
        ({k: v for k, v in headers(BODY).items() if k != "X-GitHub-Event"}, BODY, 400),
        ({**headers(BODY), "X-GitHub-Event": "../etc"}, BODY, 400),
        (headers(bad_json), bad_json, 400),
        (headers(b"[1]"), b"[1]", 400),
        (headers(b"\xef\xbb\xbf{}"), b"\xef\xbb\xbf{}", 400),
    ]
    for h, body, status in cases:
        assert (await raw_request(port, sized(h, body), body))[0] == status
    await settle(server.app)
    assert recorder.events == []


async def test_replay_under_new_delivery_id_not_processed(
    server: TestServer, recorder: Recorder
) -> None:
    port = server.port
    assert port is not None
    first = headers(BODY, delivery="original")
    sized = {**first, "Connection": "close"}
    assert (await raw_request(port, sized, BODY))[0] == 202
    # The same signed body under fresh ids, the signature respelled too.
    sig = first["X-Hub-Signature-256"]
    for n, signature in enumerate((sig, sig.upper().replace("SHA256", "sha256"))):
        replay = {
            **sized,
            "X-GitHub-Delivery": f"replay-{n}",
            "X-Hub-Signature-256": signature,
        }
        status, answer = await raw_request(port, replay, BODY)
        assert status == 200
        assert b'"duplicate"' in answer
    # GitHub's own redelivery keeps the id: a duplicate as well.
    assert (await raw_request(port, sized, BODY))[0] == 200
    await settle(server.app)
    assert [e.delivery_id for e in recorder.events] == ["original"]
    assert server.app[RUNTIME_KEY].metrics.replayed._value.get() == 2


async def test_distinct_bodies_of_one_commit_both_processed(
    small: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    # A user re-running a check twice sends two bodies (the run changed in
    # between): both are processed, even within the replay window.
    server = await serve(small, store, recorder, SERVER_OPTIONS)
    try:
        assert await signed_delivery(server, 1) == 202
        assert await signed_delivery(server, 2) == 202
        await settle(server.app)
    finally:
        await server.close()
    assert len(recorder.events) == 2


async def shared_stores(kind: str, tmp_path: Path) -> tuple[Store, Store]:
    if kind == "sqlite":
        path = str(tmp_path / "shared.sqlite3")
        return SqliteStore.open(path), SqliteStore.open(path)
    prefix = f"musl-check-test:{uuid.uuid4()}:"
    return (
        RedisStore(Redis.from_url("redis://127.0.0.1:6379/0"), prefix=prefix),
        RedisStore(Redis.from_url("redis://127.0.0.1:6379/0"), prefix=prefix),
    )


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_replay_to_another_instance_not_processed(
    kind: str, small: Settings, tmp_path: Path
) -> None:
    one_store, two_store = await shared_stores(kind, tmp_path)
    one_rec, two_rec = Recorder(), Recorder()
    one = await serve(small, one_store, one_rec, SERVER_OPTIONS)
    two = await serve(small, two_store, two_rec, SERVER_OPTIONS)
    try:
        async with ClientSession() as session:
            first = await session.post(
                one.make_url("/webhook"), data=BODY, headers=headers(BODY, delivery="a")
            )
            again = await session.post(
                two.make_url("/webhook"), data=BODY, headers=headers(BODY, delivery="b")
            )
        assert (first.status, again.status) == (202, 200)
        await settle(one.app)
        await settle(two.app)
    finally:
        await one.close()
        await two.close()
        await one_store.close()
        await two_store.close()
    # Either instance's consumers may take "a" from the shared queue; the
    # replay "b" is processed by neither.
    done = [e.delivery_id for e in one_rec.events + two_rec.events]
    assert done == ["a"]


async def test_bodies_read_at_once_share_a_budget(
    settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    # Cap 1000 bytes: bodies being read may hold 4000 together. Five clients
    # each send 900 of 1000 bytes and stall; the fifth passes the budget.
    tiny = dataclasses.replace(settings, max_body_bytes=1000)
    server = await serve(tiny, store, recorder, SERVER_OPTIONS)
    port = server.port
    assert port is not None
    body = b"{" + b" " * 998 + b"}"
    conns = []
    try:
        for i in range(5):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            h = {**headers(body, delivery=f"stall-{i}"), "Content-Length": "1000"}
            head = ["POST /webhook HTTP/1.1", "Host: 127.0.0.1"]
            head += [f"{k}: {v}" for k, v in h.items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body[:900])
            await writer.drain()
            conns.append((reader, writer))
            held = 900 * (i + 1) if i < 4 else 0
            # Until the server holds those bytes (a counter: nothing to await).
            while server.app[RUNTIME_KEY].reading_bytes < held:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        answers = [await reader.read() for reader, _ in conns]
    finally:
        for _, writer in conns:
            writer.close()
        await server.close()
    statuses = [int(a.split(b" ", 2)[1]) for a in answers]
    assert statuses == [408, 408, 408, 408, 503]
    assert recorder.events == []
