"""The organisation scan on a fake organisation: requests per repository, wall time.

A 1,000-repository organisation on tests/fake_github (every tenth repository
a real Rust project from tests/corpus, the rest a small Node project), each
request delayed by 50 ms as a round trip to GitHub would be. The
repositories are queued as the `installation.created` payload names them
(ids and names only): one scan item each on the server's own queue, fed by
its feeder and taken by its consumers, as in production. Prints requests per
repository without Rust (budget 1.2, docs/architecture.md), per Rust project,
the wall time, and whether every Rust project got its run with the
conclusion the analysis gives. The scan decides from the tree alone: a
repository with no Cargo manifest or lockfile, toolchain or cargo config is
not a Rust project to it, even if a Dockerfile there builds for musl.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.github import scan  # noqa: E402
from bot.server import create_app, drain  # noqa: E402
from bot.server.app import CONTEXT_KEY  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store.sqlite import SqliteStore  # noqa: E402
from tests.conftest import APP_ID  # noqa: E402
from tests.fake_github import FakeGitHub, create_fake_app  # noqa: E402
from tests.fixes.index_data import IndexServer, index_app  # noqa: E402
from tests.github.test_org_scan import (  # noqa: E402
    NON_RUST_BUDGET,
    listed,
    organisation,
    requests_per_repository,
)
from tests.keys import app_key_pair  # noqa: E402

REPOSITORIES = 1000
LATENCY_S = 0.05


class Outcomes(logging.Handler):
    """Count the outcome of each scan item from the App's own log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "scan item done":
            self.counts[str(getattr(record, "outcome", ""))] += 1


async def finished(app: web.Application, store: SqliteStore) -> None:
    """Wait until the scan backlog and the queue are empty and idle."""
    while True:
        await drain(app, 3600)
        if not await store.scan_backlog_size() and not await store.depth():
            return
        await asyncio.sleep(0.05)


async def main(count: int) -> None:
    private, public = app_key_pair()
    fake = FakeGitHub(APP_ID, public)
    expected = organisation(fake, count)
    repos = listed(fake)
    index = IndexServer()
    async with (
        TestServer(create_fake_app(fake)) as gh_server,
        TestServer(index_app(index)) as index_server,
    ):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                app_id=str(APP_ID),
                private_key=private,
                webhook_secrets=("bench",),
                api_url=str(gh_server.make_url("")).rstrip("/"),
                crates_index_url=str(index_server.make_url("")).rstrip("/"),
            )
            store = SqliteStore.open(str(Path(tmp) / "bench.sqlite3"))
            app = create_app(settings, store=store)
            outcomes = Outcomes()
            logging.getLogger("bot").addHandler(outcomes)
            logging.getLogger("bot").setLevel(logging.INFO)
            async with TestServer(app):
                fake.extra["latency_s"] = LATENCY_S
                start = time.perf_counter()
                await scan.enqueue(
                    store, 1, repos, "bench", wake=app[CONTEXT_KEY].scan_wake
                )
                await finished(app, store)
                wall = time.perf_counter() - start
            await store.close()
    per_repo = requests_per_repository(fake)
    names = [str(r["full_name"]) for r in repos]
    plain = [per_repo.get(n, 0) for n in names if n not in expected]
    rust = [per_repo.get(name, 0) for name in expected]
    runs = {run["repo"]: run for run in fake.check_runs}
    right = sum(
        1
        for name, conclusion in expected.items()
        if name in runs and runs[name]["conclusion"] == conclusion
    )
    stray = [name for name in runs if name not in expected]
    ms = LATENCY_S * 1000
    print(f"repositories: {count} ({len(expected)} Rust), latency {ms:.0f} ms")
    counted = sorted(outcomes.counts.items())
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in counted))
    print(f"schema violations: {len(fake.violations)}")
    print(f"all requests: {len(fake.requests)}")
    print(f"requests per Rust project: {sum(rust) / len(rust):.2f}")
    print(f"Rust projects with the right run: {right} of {len(expected)}")
    print(f"runs on repositories without Rust: {len(stray)}")
    print(f"wall time: {wall:.1f} s ({wall / count * 1000:.0f} ms per repository)")
    mean = sum(plain) / len(plain)
    verdict = (
        "ok"
        if mean <= NON_RUST_BUDGET and right == len(expected) and not stray
        else "OVER BUDGET"
    )
    budget = f"(budget {NON_RUST_BUDGET})"
    print(f"requests per repository without Rust: {mean:.2f} {budget}: {verdict}")


def _count(argv: list[str]) -> int:
    return int(argv[1]) if len(argv) > 1 else REPOSITORIES


if __name__ == "__main__":
    asyncio.run(main(_count(sys.argv)))
