"""Deployment as processes: web instances and workers on SQLite or a real Redis.

The kill tests end processes with SIGKILL (no shutdown code runs) and check
that the work completes anyway, with exactly one completed check run per
commit; how fast is measured in bench/recovery.py, not asserted here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.core.analysis import analyse
from bot.core.render import check_run_output
from tests.conftest import APP_ID
from tests.fake_github import FakeGitHub, folder_files
from tests.fixes.index_data import IndexServer
from tests.github.conftest import (
    REPO,
    RIPGREP_CASE,
    SECRET,
    adjust,
    load_payload,
)
from tests.github.test_org_scan import listed, organisation
from tests.server.serverkit import headers


@asynccontextmanager
async def musl_check(
    args: list[str], env: dict[str, str], port: int, *, kill: bool = False
) -> AsyncIterator[str]:
    """Run `musl-check ARGS --port PORT` until the block ends; yield its URL.

    The process is stopped with SIGTERM, or with SIGKILL if `kill`.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"{url}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert proc.returncode is None, f"{args} exited"
                await asyncio.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)


async def test_web_instance_records_and_worker_process_checks(
    fake_github: FakeGitHub,
    make_env: Callable[[str], dict[str, str]],
    tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    env = make_env(f"sqlite:///{tmp_path}/shared.sqlite3")
    sha = fake_github.add_folder(REPO, RIPGREP_CASE)
    async with (
        musl_check(["serve", "--ingress-only"], env, unused_tcp_port_factory()) as web,
        musl_check(["worker"], env, unused_tcp_port_factory()) as worker,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"{worker}/healthz") as resp:
            assert (await resp.json())["role"] == "worker"
        await _post_check_suites(session, web, fake_github, [sha])
        await _until(lambda: _completed(fake_github, [sha]) == 1, 60)
    (run,) = fake_github.runs_for(REPO, sha)
    want = check_run_output(analyse(folder_files(RIPGREP_CASE)))
    assert (run["conclusion"], run["output"]["title"]) == (want.conclusion, want.title)
    assert fake_github.violations == []


TAKEN_OVER = "musl_check_deliveries_taken_over_total"
IN_FLIGHT = "musl_check_deliveries_in_flight"


async def _gauge(session: aiohttp.ClientSession, url: str, name: str) -> float:
    """Return one metric of a running process (0 if it has not counted any)."""
    async with session.get(f"{url}/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    return 0.0


@pytest.fixture
def make_env(
    fake_github: FakeGitHub,
    crates_index: IndexServer,
    rsa_pem: tuple[str, bytes],
    tmp_path: Path,
) -> Callable[[str], dict[str, str]]:
    """Return a maker of the environment of a musl-check process on `store`."""

    def make(store: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "GITHUB_APP_ID": str(APP_ID),
            "GITHUB_PRIVATE_KEY": rsa_pem[0],
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "GITHUB_API_URL": fake_github.extra["url"],
            "CRATES_INDEX_URL": crates_index.url,
            "MUSL_CHECK_STORE": store,
            "LOG_LEVEL": "WARNING",
        }

    return make


def _store_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/kill.sqlite3"
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    return f"{url}?prefix={prefix}"


async def _post_check_suites(
    session: aiohttp.ClientSession, web: str, fake: FakeGitHub, shas: list[str]
) -> None:
    name = "check_suite.requested"
    for sha in shas:
        data = adjust(name, load_payload(name), fake, repo=REPO, sha=sha)
        await _post_webhook(session, web, "check_suite", data)


async def _post_webhook(
    session: aiohttp.ClientSession, url: str, event: str, data: dict[str, Any]
) -> None:
    """Deliver `data` as a signed `event` to the process at `url`; expect 202."""
    body = json.dumps(data).encode()
    async with session.post(
        f"{url}/webhook", data=body, headers=headers(body, event)
    ) as resp:
        assert resp.status == 202


def _completed(fake: FakeGitHub, shas: list[str]) -> int:
    return sum(
        1
        for sha in shas
        if any(r["status"] == "completed" for r in fake.runs_for(REPO, sha))
    )


async def _until(predicate: Callable[[], bool], timeout_s: float) -> None:
    """Wait for the state of another process (polled: it cannot notify us)."""
    for _ in range(int(timeout_s / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached within {timeout_s} s")


def _assert_one_completed_run_each(fake: FakeGitHub, shas: list[str]) -> None:
    want = check_run_output(analyse(folder_files(RIPGREP_CASE)))
    for sha in shas:
        runs = fake.runs_for(REPO, sha)
        assert len(runs) == 1, (sha, runs)  # never duplicated
        (run,) = runs
        assert run["status"] == "completed"  # never left in progress
        assert (run["conclusion"], run["output"]["title"]) == (
            want.conclusion,
            want.title,
        )
    assert fake.violations == []


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_only_instance_killed_resumes_after_restart(
    kind: str,
    request: pytest.FixtureRequest,
    fake_github: FakeGitHub,
    make_env: Callable[[str], dict[str, str]],
    tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    env = make_env(_store_url(kind, tmp_path, request))
    shas = [fake_github.add_folder(REPO, RIPGREP_CASE) for _ in range(5)]
    fake_github.extra["latency_s"] = 0.1  # slow enough to be killed mid-work
    async with aiohttp.ClientSession() as session:
        async with musl_check(
            ["serve"], env, unused_tcp_port_factory(), kill=True
        ) as first:
            await _post_check_suites(session, first, fake_github, shas)
            # Killed once it is reading the commits, before finishing them all
            # (a run is only created once its result is known).
            await _until(lambda: bool(fake_github.calls("GET", "/git/trees/")), 60)
        assert _completed(fake_github, shas) < len(shas)
        fake_github.extra["latency_s"] = 0.0
        async with musl_check(["serve"], env, unused_tcp_port_factory()):
            await _until(lambda: _completed(fake_github, shas) == len(shas), 90)
    _assert_one_completed_run_each(fake_github, shas)


async def test_worker_killed_others_take_over_on_redis(
    redis_url: str,
    redis_prefix: str,
    fake_github: FakeGitHub,
    make_env: Callable[[str], dict[str, str]],
    tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    env = make_env(f"{redis_url}?prefix={redis_prefix}")
    shas = [fake_github.add_folder(REPO, RIPGREP_CASE) for _ in range(200)]
    # Slow enough that the work outlasts the workers' start-up.
    fake_github.extra["latency_s"] = 0.05
    async with (
        aiohttp.ClientSession() as session,
        musl_check(["serve", "--ingress-only"], env, unused_tcp_port_factory()) as web,
        contextlib.AsyncExitStack() as victim_stack,
    ):
        await _post_check_suites(session, web, fake_github, shas)  # all queued
        victim = await victim_stack.enter_async_context(
            musl_check(["worker"], env, unused_tcp_port_factory(), kill=True)
        )
        async with musl_check(["worker"], env, unused_tcp_port_factory()) as survivor:
            # Killed part-way, while it holds deliveries.
            for _ in range(2400):
                if _completed(fake_github, shas) >= 60 and (
                    await _gauge(session, victim, IN_FLIGHT) > 0
                ):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the victim never held work past 60 runs")
            await victim_stack.aclose()  # SIGKILL
            # The survivor takes over what the dead worker held.
            await _until(lambda: _completed(fake_github, shas) == len(shas), 120)
            # A delivery whose run the victim completed but never acknowledged
            # is taken over once its visibility timeout runs out, then acked.
            for _ in range(600):
                async with session.get(f"{web}/healthz") as resp:
                    if (await resp.json())["queue_depth"] == 0:
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("deliveries left on the queue")
            assert await _gauge(session, survivor, TAKEN_OVER) >= 1
    _assert_one_completed_run_each(fake_github, shas)


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
async def test_organisation_scan_killed_part_way_finishes_after_restart(
    kind: str,
    request: pytest.FixtureRequest,
    fake_github: FakeGitHub,
    make_env: Callable[[str], dict[str, str]],
    tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    env = make_env(_store_url(kind, tmp_path, request))
    expected = organisation(fake_github, 120)
    data = load_payload("installation.created")
    data["installation"]["id"] = 1
    data["repositories"] = listed(fake_github)
    fake_github.extra["latency_s"] = 0.05  # slow enough to be killed mid-scan
    async with aiohttp.ClientSession() as session:
        async with musl_check(
            ["serve"], env, unused_tcp_port_factory(), kill=True
        ) as first:
            await _post_webhook(session, first, "installation", data)
            # Killed once a few Rust projects have their run, not all of them.
            await _until(lambda: len(fake_github.check_runs) >= 3, 60)
        assert len(fake_github.check_runs) < len(expected)
        fake_github.extra["latency_s"] = 0.0
        async with musl_check(["serve"], env, unused_tcp_port_factory()):
            await _until(lambda: len(fake_github.check_runs) >= len(expected), 120)
            # And the rest of the repositories are looked at too.
            await _until(lambda: _triaged(fake_github) == len(fake_github.repos), 120)
    runs = Counter(run["repo"] for run in fake_github.check_runs)
    assert max(runs.values()) == 1  # no repository checked twice
    assert {r["repo"]: r["conclusion"] for r in fake_github.check_runs} == expected
    assert all(r["status"] == "completed" for r in fake_github.check_runs)
    assert fake_github.violations == []


def _triaged(fake: FakeGitHub) -> int:
    """Return how many repositories had their tree read."""
    return len({r.path.split("/")[3] for r in fake.requests if "/git/trees/" in r.path})
