"""Recovery times after SIGKILL: the only instance restarted, one worker of two lost.

Runs real `musl-check` processes against tests/fake_github (in this process)
and a real Redis (MUSL_CHECK_TEST_REDIS_URL, default redis://127.0.0.1:6379/0,
keys under a fresh prefix that is deleted afterwards). The fake answers every
request 0.1 s late, so deliveries are in flight when a process is killed.

- restart (SQLite and Redis): `serve` gets 5 deliveries and is SIGKILLed
  once it has opened a check run; a new `serve` starts at once. Printed: the
  seconds from the kill until every check run the dead process left in
  progress is completed (goal: 10 s), and until all 5 are.
- takeover (Redis): `serve --ingress-only` and two `worker` processes get 100
  deliveries; one worker is SIGKILLed after 30 runs complete. Printed: the
  seconds from the kill until the survivor takes over the dead worker's
  first delivery (goal: 30 s), and until all 100 are complete.

Each scenario also checks exactly one completed run per commit.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import redis
from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import APP_ID  # noqa: E402
from tests.fake_github import FakeGitHub, create_fake_app  # noqa: E402
from tests.fixes.index_data import IndexServer, index_app  # noqa: E402
from tests.github.conftest import adjust, load_payload  # noqa: E402
from tests.keys import app_key_pair  # noqa: E402
from tests.server.serverkit import headers  # noqa: E402

CASE = ROOT / "tests" / "corpus" / "BurntSushi__ripgrep@a7f1276021"
SECRET = "bench-secret"
REPO = "acme/app"
LATENCY_S = 0.1


class Process:
    """One `musl-check` process on a free port."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args, self.env = args, env
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self, session: aiohttp.ClientSession) -> Process:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *self.args,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            env=self.env,
            stdout=asyncio.subprocess.DEVNULL,  # "listening on ..." / "stopped"
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(300):
            try:
                async with session.get(f"{self.url}/healthz") as resp:
                    if resp.status == 200:
                        return self
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.args} did not start")

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        await self.proc.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _post(
    session: aiohttp.ClientSession, url: str, fake: FakeGitHub, shas: list[str]
) -> None:
    name = "check_suite.requested"
    for sha in shas:
        body = json.dumps(
            adjust(name, load_payload(name), fake, repo=REPO, sha=sha)
        ).encode()
        signed = headers(body, "check_suite", secret=SECRET)
        async with session.post(f"{url}/webhook", data=body, headers=signed) as r:
            assert r.status == 202, r.status


def _runs(fake: FakeGitHub, shas: list[str]) -> list[dict[str, Any]]:
    wanted = set(shas)
    return [r for r in fake.check_runs if r["head_sha"] in wanted]


def _done(fake: FakeGitHub, shas: list[str]) -> int:
    return sum(1 for r in _runs(fake, shas) if r["status"] == "completed")


async def _until(predicate: Callable[[], bool], timeout_s: float = 180) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            raise RuntimeError("not reached in time")
        await asyncio.sleep(0.02)
    return time.monotonic()


def _check(fake: FakeGitHub, shas: list[str]) -> None:
    for sha in shas:
        runs = [r for r in fake.check_runs if r["head_sha"] == sha]
        assert len(runs) == 1, (sha, runs)
        assert runs[0]["status"] == "completed", (sha, runs)


async def _taken_over(session: aiohttp.ClientSession, url: str) -> float:
    async with session.get(f"{url}/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith("musl_check_deliveries_taken_over_total"):
                return float(line.split()[-1])
    return 0.0


async def restart(
    fake: FakeGitHub, env: dict[str, str], session: aiohttp.ClientSession
) -> tuple[float, float]:
    shas = [fake.add_folder(REPO, CASE) for _ in range(5)]
    fake.extra["latency_s"] = LATENCY_S
    first = await Process(["serve"], env).start(session)
    await _post(session, first.url, fake, shas)
    await _until(lambda: bool(_runs(fake, shas)))
    await first.stop(signal.SIGKILL)
    killed = time.monotonic()
    left = [r for r in _runs(fake, shas) if r["status"] != "completed"]
    second = await Process(["serve"], env).start(session)
    resumed = await _until(lambda: all(r["status"] == "completed" for r in left))
    finished = await _until(lambda: _done(fake, shas) == len(shas))
    await second.stop()
    _check(fake, shas)
    return resumed - killed, finished - killed


async def takeover(
    fake: FakeGitHub, env: dict[str, str], session: aiohttp.ClientSession
) -> tuple[float, float]:
    shas = [fake.add_folder(REPO, CASE) for _ in range(100)]
    fake.extra["latency_s"] = LATENCY_S
    web = await Process(["serve", "--ingress-only"], env).start(session)
    survivor = await Process(["worker"], env).start(session)
    victim = await Process(["worker"], env).start(session)
    await _post(session, web.url, fake, shas)
    await _until(lambda: _done(fake, shas) >= 30)
    await victim.stop(signal.SIGKILL)
    killed = time.monotonic()
    # The survivor counts what it takes over from the dead worker.
    while await _taken_over(session, survivor.url) == 0:
        if time.monotonic() - killed > 180:
            raise RuntimeError("no takeover")
        await asyncio.sleep(0.05)
    taken = time.monotonic()
    finished = await _until(lambda: _done(fake, shas) == len(shas))
    await survivor.stop()
    await web.stop()
    _check(fake, shas)
    return taken - killed, finished - killed


async def main() -> None:
    pem, public = app_key_pair()
    redis_url = os.environ.get("MUSL_CHECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"musl-check-bench:{uuid.uuid4().hex}:"
    index = IndexServer()
    fake = FakeGitHub(APP_ID, public)
    try:
        async with (
            TestServer(create_fake_app(fake)) as gh_server,
            TestServer(index_app(index)) as index_server,
            aiohttp.ClientSession() as session,
        ):
            with tempfile.TemporaryDirectory() as tmp:
                base = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "HOME": tmp,
                    "GITHUB_APP_ID": str(APP_ID),
                    "GITHUB_PRIVATE_KEY": pem,
                    "GITHUB_WEBHOOK_SECRET": SECRET,
                    "GITHUB_API_URL": str(gh_server.make_url("")).rstrip("/"),
                    "CRATES_INDEX_URL": str(index_server.make_url("")).rstrip("/"),
                    "LOG_LEVEL": "ERROR",
                }
                sqlite = {**base, "MUSL_CHECK_STORE": f"sqlite:///{tmp}/b.sqlite3"}
                on_redis = {**base, "MUSL_CHECK_STORE": f"{redis_url}?prefix={prefix}"}
                resumed, done = await restart(fake, sqlite, session)
                print(
                    f"restart, sqlite: resumed {resumed:.1f} s, all done {done:.1f} s"
                )
                resumed, done = await restart(fake, on_redis, session)
                print(f"restart, redis: resumed {resumed:.1f} s, all done {done:.1f} s")
                taken, done = await takeover(fake, on_redis, session)
                print(
                    f"takeover, redis: taken over {taken:.1f} s, all done {done:.1f} s"
                )
        assert fake.violations == [], fake.violations
        print("goals: resumed within 10 s of a restart, taken over within 30 s")
    finally:
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
        client.close()


if __name__ == "__main__":
    asyncio.run(main())
