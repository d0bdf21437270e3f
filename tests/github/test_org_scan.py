"""The durable scan of a whole organisation (issue 12 item 1), on the fake GitHub.

A generated organisation of 1,000 repositories, every tenth a real Rust
project from tests/corpus and the rest a small Node project, is installed:
every Rust project gets one run with the conclusion the analysis gives, the
others get none, and the scan items ride the delivery queue. `musl-check
rescan` and the periodic rescan queue one item per repository too.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.core.analysis import analyse
from bot.core.render import check_run_output
from bot.core.scope import shows_rust
from bot.github import scan
from bot.github.routes import _rescan_loop
from bot.server.app import CONTEXT_KEY
from bot.store.sqlite import SqliteStore
from tests.fake_github import FakeGitHub, folder_files
from tests.fake_github.git_data import set_branch
from tests.github.conftest import APP_ID, Deliver, corpus_cases, load_payload, settled

ORG_SIZE = 1000
RUST_EVERY = 10
# Requests a repository without Rust may cost on average (issue 12).
NON_RUST_BUDGET = 1.2
NODE = {
    "package.json": b'{"name": "web", "private": true}\n',
    "README.md": b"# web\n",
    ".github/workflows/ci.yml": b"on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n",
}


def organisation(fake: FakeGitHub, count: int) -> dict[str, str]:
    """Add `count` repositories; return each Rust project's expected conclusion."""
    cases = corpus_cases()
    expected: dict[str, str] = {}
    for n in range(count):
        name = f"acme/repo-{n:05d}"
        fake.add_repo(name)
        if n % RUST_EVERY == 0:
            files = folder_files(cases[(n // RUST_EVERY) % len(cases)])
            # A corpus case without any Cargo or toolchain file (a Docker image
            # building for musl) shows no Rust to the triage: no run.
            if any(shows_rust(path) for path in files):
                expected[name] = check_run_output(analyse(files)).conclusion.value
        else:
            files = dict(NODE)
        set_branch(fake, name, "main", fake.add_commit(name, files))
    return expected


def listed(fake: FakeGitHub) -> list[dict[str, Any]]:
    """Return the repositories as an `installation.created` payload lists them."""
    return [
        {"id": r.id, "name": r.name, "full_name": r.full_name, "private": False}
        for r in fake.repos.values()
    ]


def requests_per_repository(fake: FakeGitHub) -> Counter[str]:
    """Count the requests that name each repository."""
    counts: Counter[str] = Counter()
    for r in fake.requests:
        parts = r.path.split("/")
        if r.path.startswith("/repos/") and len(parts) > 3:
            counts[f"{parts[2]}/{parts[3]}"] += 1
    return counts


def app_of(bot: TestClient[Any, Any]) -> web.Application:
    app = bot.server.app
    assert app is not None
    return app


async def test_a_thousand_repositories_each_checked_once(
    fake_github: FakeGitHub, deliver: Deliver, store: SqliteStore
) -> None:
    expected = organisation(fake_github, ORG_SIZE)
    data = load_payload("installation.created")
    data["installation"]["id"] = 1
    data["repositories"] = listed(fake_github)
    resp = await deliver("installation.created", payload=data)
    assert resp.status == 202
    runs = {run["repo"]: run for run in fake_github.check_runs}
    assert len(fake_github.check_runs) == len(runs)  # no repository twice
    assert {name: run["conclusion"] for name, run in runs.items()} == expected
    assert all(run["status"] == "completed" for run in runs.values())
    per_repo = requests_per_repository(fake_github)
    plain = [
        per_repo[r.full_name]
        for r in fake_github.repos.values()
        if r.full_name not in expected
    ]
    assert len(plain) >= ORG_SIZE - ORG_SIZE // RUST_EVERY
    mean = sum(plain) / len(plain)
    assert mean <= NON_RUST_BUDGET, f"{mean:.2f} requests per non-Rust repository"
    assert await store.scan_backlog_size() == 0
    assert fake_github.violations == []


def _env(fake: FakeGitHub, pem: str, store_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_PRIVATE_KEY": pem,
        "GITHUB_WEBHOOK_SECRET": "unused",
        "GITHUB_API_URL": fake.extra["url"],
        "MUSL_CHECK_STORE": store_url,
    }


async def _rescan_cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "rescan",
        *args,
        env=env,
        cwd=env["HOME"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_rescan_command_queues_every_repository(
    fake_github: FakeGitHub,
    rsa_pem: tuple[str, bytes],
    tmp_path: Path,
    bot: TestClient[Any, Any],
    store: SqliteStore,
) -> None:
    expected = organisation(fake_github, 30)
    fake_github.add_repo("other/app", installation_id=2)
    fake_github.add_commit("other/app", dict(NODE))
    db = tmp_path / "store.sqlite3"  # the `store` fixture's file, the bot's store
    env = _env(fake_github, rsa_pem[0], f"sqlite:///{db}", tmp_path)
    code, out, err = await _rescan_cli(env, "--installation", "1")
    assert (code, err) == (0, "")
    assert out == "installation 1: 30 repositories queued\n"
    await settled(app_of(bot))  # the running worker's feeder picks them up
    assert {r["repo"]: r["conclusion"] for r in fake_github.check_runs} == expected
    # Every installation; heads already checked get no second run.
    code, out, err = await _rescan_cli(env)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "installation 1: 30 repositories queued",
        "installation 2: 1 repositories queued",
    ]
    await settled(app_of(bot))
    assert len(fake_github.check_runs) == len(expected)
    assert fake_github.violations == []


async def test_rescan_command_errors_are_one_line(
    fake_github: FakeGitHub, rsa_pem: tuple[str, bytes], tmp_path: Path
) -> None:
    env = _env(fake_github, rsa_pem[0], f"sqlite:///{tmp_path}/s.sqlite3", tmp_path)
    code, out, err = await _rescan_cli(env, "--installation", "77")  # not ours
    assert (code, out) == (1, "")
    assert err.startswith("musl-check: error: rescan failed: ")
    assert "Traceback" not in err
    del env["GITHUB_APP_ID"]
    code, out, err = await _rescan_cli(env)
    assert code == 2
    assert "GITHUB_APP_ID is not set" in err


async def test_periodic_rescan_runs_once_per_interval(
    fake_github: FakeGitHub, bot: TestClient[Any, Any], store: SqliteStore
) -> None:
    app = app_of(bot)
    expected = organisation(fake_github, 20)
    interval_s = 24 * 3600.0
    now = time.time()
    # The first start only marks the time: installations were scanned then.
    assert not await scan.rescan_due(store, interval_s, now)
    assert not await scan.rescan_due(store, interval_s, now + interval_s - 1)
    await store.set_mark(scan.RESCAN_MARK, repr(now - interval_s))  # a day ago
    ctx = app[CONTEXT_KEY]
    object.__setattr__(ctx.settings, "rescan_hours", interval_s / 3600)
    task = asyncio.create_task(_rescan_loop(ctx))
    try:
        await settled(app)  # the loop's first pass queues the rescan at once
        async with asyncio.timeout(60):
            while len(fake_github.check_runs) < len(expected):
                await settled(app)
    finally:
        task.cancel()
    assert {r["repo"]: r["conclusion"] for r in fake_github.check_runs} == expected
    assert len(fake_github.calls("GET", "/app/installations")) == 1
    # Claimed: another instance sharing the store does not rescan again.
    assert not await scan.rescan_due(store, interval_s, time.time())
    await store.set_mark(scan.RESCAN_MARK, "garbled")
    assert not await scan.rescan_due(store, interval_s, time.time())
    assert scan.rescan_trigger(interval_s * 3 + 5, interval_s) == "rescan-3"
    assert fake_github.violations == []
