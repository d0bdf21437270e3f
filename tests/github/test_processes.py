"""Deployment as processes: a web instance and a worker sharing one SQLite file."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from bot.core.analysis import analyse
from bot.core.render import check_run_output
from bot.server import sign
from tests.fake_github import FakeGitHub, folder_files
from tests.fixes.index_data import IndexServer
from tests.github.conftest import (
    APP_ID,
    REPO,
    RIPGREP_CASE,
    SECRET,
    adjust,
    load_payload,
)


@asynccontextmanager
async def musl_check(
    args: list[str], env: dict[str, str], port: int
) -> AsyncIterator[str]:
    """Run `musl-check ARGS --port PORT` until the block ends; yield its URL."""
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
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)


async def test_web_instance_records_and_worker_process_checks(
    fake_github: FakeGitHub,
    crates_index: IndexServer,
    rsa_pem: tuple[str, bytes],
    tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_PRIVATE_KEY": rsa_pem[0],
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": fake_github.extra["url"],
        "CRATES_INDEX_URL": crates_index.url,
        "MUSL_CHECK_STORE": f"sqlite:///{tmp_path}/shared.sqlite3",
        "LOG_LEVEL": "WARNING",
    }
    sha = fake_github.add_folder(REPO, RIPGREP_CASE)
    name = "check_suite.requested"
    data = adjust(name, load_payload(name), fake_github, repo=REPO, sha=sha)
    body = json.dumps(data).encode()
    async with (
        musl_check(["serve", "--ingress-only"], env, unused_tcp_port_factory()) as web,
        musl_check(["worker"], env, unused_tcp_port_factory()) as worker,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(f"{worker}/healthz") as resp:
            assert (await resp.json())["role"] == "worker"
        async with session.post(
            f"{web}/webhook",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": "check_suite",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(body, SECRET),
            },
        ) as resp:
            assert resp.status == 202
        async with asyncio.timeout(60):
            for _ in range(600):
                runs = fake_github.runs_for(REPO, sha)
                if runs and runs[0]["status"] == "completed":
                    break
                await asyncio.sleep(0.1)
    (run,) = fake_github.runs_for(REPO, sha)
    want = check_run_output(analyse(folder_files(RIPGREP_CASE)))
    assert (run["conclusion"], run["output"]["title"]) == (want.conclusion, want.title)
    assert fake_github.violations == []
