"""Webhook ingress: requests/s of create_app (verify + persist) vs a bare aiohttp 202.

Both servers run on 127.0.0.1 (random ports) in this process; the same number
of signed real deliveries is posted to each with bounded client concurrency.
The last line is `ingress ratio: N.NN` (budget: >= 0.5).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, TCPConnector, web
from aiohttp.test_utils import TestServer

from bot.server import RUNTIME_KEY, create_app
from bot.settings import Settings
from bot.store.sqlite import SqliteStore

SECRET = "bench-secret"
ROUNDS = 3
PAYLOAD = (
    Path(__file__).resolve().parents[2]
    / "shared/fixtures/webhooks/pull_request/synchronize.json"
)


async def bare_202(request: web.Request) -> web.Response:
    """Answer like the cheapest possible webhook endpoint."""
    await request.read()
    return web.Response(status=202)


async def noop(event: Any, app: web.Application) -> None:
    """Do nothing: measure ingress, not analysis."""


async def blast(url: str, body: bytes, n: int, concurrency: int, tag: str) -> float:
    """Post `n` signed deliveries to `url`; return requests per second."""
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    statuses: dict[int, int] = {}

    async def worker(session: ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            headers = {
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": f"{tag}-{i}",
                "X-Hub-Signature-256": sig,
                "Content-Type": "application/json",
            }
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1

    async with ClientSession(connector=TCPConnector(limit=concurrency)) as session:
        start = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(worker(session) for _ in range(concurrency))), timeout=120
        )
        elapsed = time.perf_counter() - start
    if statuses != {202: n}:
        raise SystemExit(f"{tag}: unexpected statuses {statuses}")
    return n / elapsed


async def main(n: int, concurrency: int, threaded: bool) -> None:
    """Run both servers and print their rates and the ratio."""
    body = PAYLOAD.read_bytes()
    bare = web.Application()
    bare.router.add_post("/webhook", bare_202)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore.open(str(Path(tmp) / "bench.sqlite3"), threaded=threaded)
        settings = Settings(app_id="1", private_key="", webhook_secrets=(SECRET,))
        real = create_app(settings, store=store, handler=noop)
        async with (
            TestServer(bare, host="127.0.0.1") as s1,
            TestServer(real, host="127.0.0.1") as s2,
        ):
            # Warm up both (connection setup, first-call costs), then measure.
            await blast(str(s1.make_url("/webhook")), body, 50, concurrency, "wb")
            await blast(str(s2.make_url("/webhook")), body, 50, concurrency, "wr")
            # Alternate rounds so a load change on the machine hits both alike.
            bases, ourses = [], []
            for r in range(ROUNDS):
                url1, url2 = str(s1.make_url("/webhook")), str(s2.make_url("/webhook"))
                bases.append(await blast(url1, body, n, concurrency, f"b{r}"))
                ourses.append(await blast(url2, body, n, concurrency, f"r{r}"))
            base, ours = statistics.median(bases), statistics.median(ourses)
            rt = real[RUNTIME_KEY]
            while rt.tasks:
                await asyncio.gather(*rt.tasks)
            left = await store.pending()
        await store.close()
    print(
        f"payload: {len(body)} bytes, {ROUNDS} rounds of {n} deliveries,"
        f" concurrency {concurrency} (median of rounds)"
    )
    print(f"store: sqlite ({'worker thread' if threaded else 'on the event loop'})")
    print(f"bare aiohttp 202: {base:.0f} req/s")
    print(f"create_app (verify, parse, persist, background no-op): {ours:.0f} req/s")
    print(f"unfinished deliveries after drain: {len(left)}")
    print(f"ingress ratio: {ours / base:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="deliveries per round")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("--inline", action="store_true", help="sqlite on the loop")
    args = parser.parse_args()
    asyncio.run(main(min(args.n, 20_000), min(args.concurrency, 64), not args.inline))
    sys.exit(0)
