"""Hostile deliveries: how fast a signed delivery is answered during an attack.

The App runs as `musl-check serve` runs it (bot.server.app.SERVER_OPTIONS,
its real SQLite store, a no-op event handler) on 127.0.0.1. A separate
process (this file with `--attack`) keeps up, for the whole measurement:
gzip bombs (each ~250 KB inflating to 256 MiB), connections trickling a body
one byte at a time (slowloris), bodies over the 25 MB cap, and mis-signed
deliveries. Meanwhile this process posts signed deliveries one after another
and measures each answer; the same is measured first with no attack.

Printed: the median and slowest answer with and without the attack, the
attack's request counts by status, and the server process's peak RSS growth
(ru_maxrss), which stays near the body cap whatever the bombs inflate to.
GitHub gives up on an answer after 10 s (docs/github.md 1.3).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import resource
import statistics
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from bot.server import create_app
from bot.server.app import SERVER_OPTIONS
from bot.settings import Settings
from bot.store.sqlite import SqliteStore

SECRET = "bench-secret"
PAYLOAD = (
    Path(__file__).resolve().parents[1]
    / "tests/fixtures/webhooks/pull_request/synchronize.json"
)
SIGNED = 30
BOMBS = 6
TRICKLERS = 300
MIB = 1024 * 1024


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def _head(port: int, body_len: int, extra: dict[str, str], delivery: str) -> bytes:
    lines = [
        "POST /webhook HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "X-GitHub-Event: pull_request",
        f"X-GitHub-Delivery: {delivery}",
        f"Content-Length: {body_len}",
        *(f"{k}: {v}" for k, v in extra.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _send(port: int, data: bytes, counts: Counter[str]) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        counts["connect failed"] += 1
        return
    answer = b""
    with contextlib.suppress(ConnectionError):
        writer.write(data)
        await writer.drain()
        while chunk := await reader.read(65536):
            answer += chunk
    writer.close()
    counts[answer.split(b" ", 2)[1].decode() if answer else "reset"] += 1


async def _trickle(port: int, body: bytes, n: int, counts: Counter[str]) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        counts["connect failed"] += 1
        return
    head = _head(port, len(body), {"X-Hub-Signature-256": _sign(body)}, f"slow-{n}")
    writer.write(head)
    answer = b""
    with contextlib.suppress(ConnectionError):
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    answer = await reader.read(65536)
            if answer or reader.at_eof():
                break
    writer.close()
    counts[answer.split(b" ", 2)[1].decode() if answer else "closed"] += 1


async def _attack(port: int, seconds: float) -> None:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MIB)
    bomb = b"".join([*(z.compress(zeros) for _ in range(256)), z.flush()])
    body = PAYLOAD.read_bytes()
    counts: Counter[str] = Counter()
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        sig = {"X-Hub-Signature-256": _sign(bomb), "Content-Encoding": "gzip"}
        big = {"X-Hub-Signature-256": _sign(body)}
        bad = {"X-Hub-Signature-256": _sign(body + b" ")}
        wave = [
            *(
                _send(port, _head(port, len(bomb), sig, f"bomb-{n}-{i}") + bomb, counts)
                for i in range(BOMBS)
            ),
            *(_trickle(port, body, i, counts) for i in range(TRICKLERS)),
            _send(port, _head(port, 30 * MIB, big, f"big-{n}"), counts),
            *(
                _send(port, _head(port, len(body), bad, f"bad-{n}-{i}") + body, counts)
                for i in range(20)
            ),
        ]
        await asyncio.gather(*wave)
    print(" ".join(f"{k}:{v}" for k, v in sorted(counts.items())), flush=True)


async def _signed(port: int, session: ClientSession, tag: str) -> list[float]:
    base = PAYLOAD.read_bytes().rstrip()[:-1]
    times = []
    for i in range(SIGNED):
        # Distinct bodies (whitespace): the same body twice would be a replay.
        body = base + b" " * (i + 1 + (SIGNED + 1) * (tag == "attack")) + b"}"
        headers = {
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": f"{tag}-{i}",
            "X-Hub-Signature-256": _sign(body),
            "Content-Type": "application/json",
        }
        start = time.perf_counter()
        async with session.post(
            f"http://127.0.0.1:{port}/webhook", data=body, headers=headers
        ) as resp:
            await resp.read()
            assert resp.status == 202, resp.status
        times.append(time.perf_counter() - start)
        await asyncio.sleep(0.1)
    return times


async def noop(event: Any, app: web.Application) -> None:
    """Do nothing: measure ingress, not analysis."""


def _line(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"{label}: median {statistics.median(ms):.1f} ms, slowest {ms[-1]:.1f} ms"


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(app_id="1", private_key="", webhook_secrets=(SECRET,))
        store = SqliteStore.open(str(Path(tmp) / "bench.sqlite3"))
        app = create_app(settings, store=store, handler=noop)
        options = {k: v for k, v in SERVER_OPTIONS.items() if k != "access_log_class"}
        runner = web.AppRunner(app, access_log=None, **options)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        async with ClientSession() as session:
            idle = await _signed(port, session, "idle")
            attacker = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--attack",
                str(port),
                "--seconds",
                "12",
                stdout=asyncio.subprocess.PIPE,
            )
            await asyncio.sleep(1.0)  # the attack is under way
            attacked = await _signed(port, session, "attack")
            out, _ = await attacker.communicate()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        await runner.cleanup()
        await store.close()
    print(f"attack requests by answer: {out.decode().strip()}")
    print(f"server peak RSS growth under attack: {(rss1 - rss0) / 1024:.1f} MiB")
    print(_line("signed delivery, no attack", idle))
    print(_line("signed delivery under attack", attacked))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--attack", type=int)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.attack:
        asyncio.run(_attack(args.attack, args.seconds))
    else:
        asyncio.run(main())
