"""The organisation scan on a fake organisation: requests per repository, wall time.

A 1,000-repository organisation on tests/fake_github (every tenth repository
a real Rust project from tests/corpus, the rest a small Node project), each
request delayed by 50 ms as a round trip to GitHub would be. The
repositories are scanned as the `installation.created` payload names them
(ids and names only), with no cap and no time budget. Prints requests per
repository without Rust (budget 1.2, docs/architecture.md), per Rust project,
the wall time, and whether every Rust project got its run with the
conclusion the analysis gives. The scan decides from the tree alone: a
repository with no Cargo manifest or lockfile, toolchain or cargo config is
not a Rust project to it, even if a Dockerfile there builds for musl.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.analysis import analyse  # noqa: E402
from bot.core.render import check_run_output  # noqa: E402
from bot.core.scope import shows_rust  # noqa: E402
from bot.github.routes.installation import (  # noqa: E402
    ScanRepository,
    scan_repositories,
)
from bot.server import create_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store.sqlite import SqliteStore  # noqa: E402
from tests.fake_github import FakeGitHub, create_fake_app, folder_files  # noqa: E402
from tests.fixes.index_data import IndexServer, index_app  # noqa: E402

CORPUS = ROOT / "tests" / "corpus"
APP_ID = 29310
REPOSITORIES = 1000
RUST_EVERY = 10
LATENCY_S = 0.05
BUDGET = 1.2
NODE = {
    "package.json": b'{"name": "web", "private": true}\n',
    "README.md": b"# web\n",
    ".github/workflows/ci.yml": b"on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n",
}


def pem_pair() -> tuple[str, bytes]:
    """Return a fresh App key (PEM) and its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def organisation(
    fake: FakeGitHub, count: int
) -> tuple[list[ScanRepository], dict[str, str]]:
    """Add the repositories; return them and each Rust project's expected conclusion."""
    cases = sorted(p for p in CORPUS.iterdir() if (p / "expected.json").is_file())
    expected: dict[str, str] = {}
    repos = []
    for n in range(count):
        name = f"acme/repo-{n:05d}"
        repo = fake.add_repo(name)
        if n % RUST_EVERY == 0:
            files = folder_files(cases[(n // RUST_EVERY) % len(cases)])
            # A corpus case with no Cargo or toolchain file at all (a Docker
            # image that builds for musl) shows no Rust to the scan: no run.
            if any(shows_rust(path) for path in files):
                expected[name] = check_run_output(analyse(files)).conclusion.value
        else:
            files = dict(NODE)
        fake.add_commit(name, files)
        repos.append(ScanRepository(repo.id, repo.owner, repo.name))
    return repos, expected


async def main(count: int) -> None:
    private, public = pem_pair()
    fake = FakeGitHub(APP_ID, public)
    repos, expected = organisation(fake, count)
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
            async with TestServer(app):
                fake.extra["latency_s"] = LATENCY_S
                start = time.perf_counter()
                result = await scan_repositories(
                    app, 1, repos, limit=len(repos), budget_s=24 * 3600
                )
                wall = time.perf_counter() - start
            await store.close()
    per_repo: dict[str, int] = {}
    for r in fake.requests:
        parts = r.path.split("/")
        if r.path.startswith("/repos/") and len(parts) > 3:
            per_repo[f"{parts[2]}/{parts[3]}"] = (
                per_repo.get(f"{parts[2]}/{parts[3]}", 0) + 1
            )
    plain = [per_repo.get(r.full_name, 0) for r in repos if r.full_name not in expected]
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
    outcomes = sorted(result.outcomes.items())
    print("outcomes: " + ", ".join(f"{k.value} {v}" for k, v in outcomes))
    print(f"schema violations: {len(fake.violations)}")
    print(f"all requests: {len(fake.requests)}")
    print(f"requests per Rust project: {sum(rust) / len(rust):.2f}")
    print(f"Rust projects with the right run: {right} of {len(expected)}")
    print(f"runs on repositories without Rust: {len(stray)}")
    print(f"wall time: {wall:.1f} s ({wall / count * 1000:.0f} ms per repository)")
    mean = sum(plain) / len(plain)
    verdict = (
        "ok"
        if mean <= BUDGET and right == len(expected) and not stray
        else "OVER BUDGET"
    )
    print(
        f"requests per repository without Rust: {mean:.2f} (budget {BUDGET}): {verdict}"
    )


def _count(argv: list[str]) -> int:
    return int(argv[1]) if len(argv) > 1 else REPOSITORIES


if __name__ == "__main__":
    asyncio.run(main(_count(sys.argv)))
