"""Webhook ingress: requests/s of create_app (verify + persist) vs a bare aiohttp 202.

Design, so the ratio measures the servers and not the bench:

- Both servers run in this process, on one event loop, on 127.0.0.1 (random
  ports); they are idle while the other is measured.
- The load comes from a separate process (this file with `--load`), the same
  for both servers, started afresh for each round. It is a raw HTTP/1.1
  keep-alive client on asyncio streams: requests are built before the clock
  starts, each round opens its connections before the clock starts, and a
  response is read only as far as its status line and Content-Length. So the
  client's own cost is small, constant per request, and lives on the other
  core, not inside the servers' event loop (with an aiohttp client in the same
  process, client work was ~half of every measured request and hid the gap).
- Every request carries the same real 28 KB `pull_request` payload with a
  valid signature and a fresh X-GitHub-Delivery id (no request is a
  duplicate). The bare handler reads the whole body too (`await
  request.read()`): aiohttp must receive those bytes whatever the handler
  does, so a bare handler that skipped them would only measure the parser.
- `create_app` runs with its real SQLite store (WAL, file in a temp dir) and a
  no-op event handler: every accepted delivery is persisted before its 202,
  then taken from the store's queue by the in-process consumers and
  finished, inside the measured window (it is part of what a delivery
  costs). The bench checks that every request got 202 and that no delivery
  is left unfinished.
- Rounds alternate bare/ours so a load change on the machine hits both alike;
  the median of the rounds is printed.

On a 2-core machine the servers and the client share the CPU, so the ratio is
close to the ratio of CPU spent per request. The bare handler spends ~50-90 us
(aiohttp parsing a 28 KB request, answering); ours adds HMAC-SHA256 over the
body and a JSON check of it with simdjson (both required before the 202; the
handler parses the body later, and the no-op handler here never does), one
append of the delivery to the store's
journal (writev of ~28 KB into the page cache, plus a dedupe lookup), the
consumer taking it, finishing it (a small journal record) and moving the
journaled rows into SQLite in batches (bodies only for unfinished deliveries).

For reference a third server, the bare handler plus the signature and JSON
checks and nothing else, is measured in the same rounds: it shows how much of
the budget the two checks every webhook needs take by themselves.

The last line is `ingress ratio: N.NN` (budget: >= 0.2).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.server import create_app, drain, is_json_object, verify_signature
from bot.settings import Settings
from bot.store.sqlite import SqliteStore

SECRET = "bench-secret"
ROUNDS = 5
PAYLOAD = (
    Path(__file__).resolve().parents[1]
    / "tests/fixtures/webhooks/pull_request/synchronize.json"
)


async def bare_202(request: web.Request) -> web.Response:
    """Answer like the cheapest possible webhook endpoint (it reads the body)."""
    await request.read()
    return web.Response(status=202)


async def checked_202(request: web.Request) -> web.Response:
    """Answer like bare_202 after the two checks every webhook needs (no store).

    Printed for reference only: it shows what the signature and JSON checks
    alone cost, apart from recording and processing the delivery.
    """
    body = await request.read()
    signature = request.headers.get("X-Hub-Signature-256", "")
    if not verify_signature(body, signature, (SECRET,)) or not is_json_object(body):
        return web.Response(status=400)
    return web.Response(status=202)


async def noop(event: Any) -> None:
    """Do nothing: measure ingress, not analysis."""


# ---- load generator (runs in its own process) ------------------------------


def _variant(body: bytes, tag: str, i: int) -> bytes:
    """Return `body` made unique by 52 bytes of JSON whitespace (one length).

    The same signed body under a new delivery id is a replay, which the App
    answers without recording; GitHub's bodies differ, and so do these.
    """
    n = zlib.crc32(tag.encode()) << 20 | i  # i < 2**20 per round
    marks = format(n, "052b").replace("0", " ").replace("1", "\t")
    return body.rstrip()[:-1] + marks.encode() + b"}"


def _requests(port: int, body: bytes, n: int, tag: str) -> list[bytes]:
    out = []
    for i in range(n):
        unique = _variant(body, tag, i)
        sig = "sha256=" + hmac.new(SECRET.encode(), unique, hashlib.sha256).hexdigest()
        out.append(
            (
                f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "User-Agent: GitHub-Hookshot/bench\r\n"
                "Content-Type: application/json\r\n"
                f"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {tag}-{i}\r\n"
                f"X-Hub-Signature-256: {sig}\r\nContent-Length: {len(unique)}\r\n\r\n"
            ).encode("ascii")
            + unique
        )
    return out


async def _load(port: int, n: int, concurrency: int, tag: str) -> dict[str, Any]:
    """Post `n` signed deliveries over `concurrency` keep-alive connections."""
    todo = _requests(port, PAYLOAD.read_bytes(), n, tag)
    todo.reverse()
    statuses: dict[int, int] = {}
    conns = [
        await asyncio.open_connection("127.0.0.1", port) for _ in range(concurrency)
    ]

    async def worker(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while todo:
            w.write(todo.pop())
            head = await r.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            statuses[status] = statuses.get(status, 0) + 1
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await r.readexactly(length)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(r, w) for r, w in conns))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    for _, w in conns:
        w.close()
    return {"rate": n / elapsed, "busy": cpu / elapsed, "statuses": statuses}


def load_main(port: int, n: int, concurrency: int, tag: str) -> None:
    """Run one round of load and print its result as one JSON line."""
    print(json.dumps(asyncio.run(_load(port, n, concurrency, tag))))


# ---- servers (this process) --------------------------------------------------


async def blast(port: int, n: int, concurrency: int, tag: str) -> tuple[float, float]:
    """Run a load-generator process against `port`; return (req/s, client busy)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--load",
        str(port),
        "-n",
        str(n),
        "-c",
        str(concurrency),
        "--tag",
        tag,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    if proc.returncode != 0:
        raise SystemExit(f"{tag}: load generator failed ({proc.returncode})")
    result = json.loads(out)
    if result["statuses"] != {"202": n}:
        raise SystemExit(f"{tag}: unexpected statuses {result['statuses']}")
    return float(result["rate"]), float(result["busy"])


async def main(n: int, concurrency: int, threaded: bool) -> None:
    """Run both servers and print their rates and the ratio."""
    body = PAYLOAD.read_bytes()
    bare = web.Application()
    bare.router.add_post("/webhook", bare_202)
    checked = web.Application()
    checked.router.add_post("/webhook", checked_202)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore.open(str(Path(tmp) / "bench.sqlite3"), threaded=threaded)
        settings = Settings(app_id="1", private_key="", webhook_secrets=(SECRET,))
        real = create_app(settings, store=store, handler=noop)
        async with (
            TestServer(bare, host="127.0.0.1") as s1,
            TestServer(real, host="127.0.0.1") as s2,
            TestServer(checked, host="127.0.0.1") as s3,
        ):
            p1, p2, p3 = s1.port, s2.port, s3.port
            assert p1 is not None
            assert p2 is not None
            assert p3 is not None
            # Warm up all three (first-call costs, page cache), then measure.
            await blast(p1, 200, concurrency, "wb")
            await blast(p2, 200, concurrency, "wr")
            await blast(p3, 200, concurrency, "wc")
            bases, ourses, checks, busy = [], [], [], []
            for r in range(ROUNDS):
                rate, client = await blast(p1, n, concurrency, f"b{r}")
                bases.append(rate)
                busy.append(client)
                checks.append((await blast(p3, n, concurrency, f"c{r}"))[0])
                ourses.append((await blast(p2, n, concurrency, f"r{r}"))[0])
            base, ours = statistics.median(bases), statistics.median(ourses)
            check = statistics.median(checks)
            await drain(real, 120)  # the consumers take and finish the rest
            left = await store.pending()
        await store.close()
    print(
        f"payload: {len(body)} bytes, {ROUNDS} rounds of {n} deliveries,"
        f" concurrency {concurrency} (median of rounds; load from another process)"
    )
    print(f"store: sqlite ({'worker thread' if threaded else 'on the event loop'})")
    print(f"bare aiohttp 202: {base:.0f} req/s  (rounds: {_fmt(bases)})")
    # Well below 1.0: the client is not what limits the bare server.
    print(
        f"  load generator CPU busy during bare rounds: {statistics.median(busy):.0%}"
    )
    print(
        f"bare + signature and JSON checks, nothing recorded: {check:.0f} req/s"
        f" ({check / base:.2f} of bare; ours is {ours / check:.2f} of it)"
    )
    print(f"create_app (verify, parse, persist, background no-op): {ours:.0f} req/s")
    print(f"  (rounds: {_fmt(ourses)})")
    print(f"unfinished deliveries after drain: {len(left)}")
    if left:
        raise SystemExit("deliveries left unfinished")
    print(f"ingress ratio: {ours / base:.2f}")


def _fmt(rates: list[float]) -> str:
    return " ".join(f"{x:.0f}" for x in rates)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="deliveries per round")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("--inline", action="store_true", help="sqlite on the loop")
    parser.add_argument("--load", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="x", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n, c = min(args.n, 20_000), min(args.concurrency, 64)
    if args.load is not None:
        load_main(args.load, n, c, args.tag)
    else:
        asyncio.run(main(n, c, not args.inline))
    sys.exit(0)
