"""`musl-check serve` as an operator meets it: the real CLI in a subprocess.

A configured server says where it listens and when it stops; each way it can
fail to start (busy port, unreadable key, GitHub refusing the App, GitHub out
of reach) is one line naming the cause and the fix, a non-zero exit and no
traceback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from bot.server.app import run
from bot.server.startup import github_problem, listen_problem, store_problem
from bot.settings import Settings
from tests.conftest import APP_ID
from tests.fake_github import FakeGitHub, create_fake_app
from tests.github.conftest import SECRET
from tests.keys import app_key_pair
from tests.threadserver import serve_in_thread


def _env(fake: FakeGitHub, pem: str, tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_PRIVATE_KEY": pem,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "GITHUB_API_URL": fake.extra["url"],
        "MUSL_CHECK_STORE": f"sqlite:///{tmp_path}/store.sqlite3",
        "LOG_LEVEL": "WARNING",
    }


async def _serve(
    env: dict[str, str], port: int, cwd: Path
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        cwd=cwd,
        stderr=asyncio.subprocess.PIPE,
    )


async def _fails(env: dict[str, str], port: int, cwd: Path) -> str:
    """Run serve, expect it to stop by itself with status 1; return its stderr."""
    proc = await _serve(env, port, cwd)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    text = err.decode()
    assert proc.returncode == 1, text
    assert "Traceback" not in text
    [line] = text.splitlines()
    return line


async def test_listening_and_stopped_lines(
    fake_github: FakeGitHub,
    rsa_pem: tuple[str, bytes],
    tmp_path: Path,
    unused_tcp_port: int,
) -> None:
    proc = await _serve(
        _env(fake_github, rsa_pem[0], tmp_path), unused_tcp_port, tmp_path
    )
    assert proc.stderr is not None
    first = await asyncio.wait_for(proc.stderr.readline(), 60)
    assert (
        first.decode()
        == f"musl-check: listening on http://127.0.0.1:{unused_tcp_port}\n"
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{unused_tcp_port}/healthz") as resp,
    ):
        assert resp.status == 200
    proc.send_signal(signal.SIGTERM)
    _, rest = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    assert rest.decode() == "musl-check: stopped\n"


async def test_busy_port(
    fake_github: FakeGitHub, rsa_pem: tuple[str, bytes], tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = await _fails(_env(fake_github, rsa_pem[0], tmp_path), port, tmp_path)
    assert line == (
        f"musl-check: port {port} on 127.0.0.1 is already in use: stop the other "
        "server or choose another port with --port or PORT"
    )


async def test_unreadable_key(
    fake_github: FakeGitHub,
    rsa_pem: tuple[str, bytes],
    tmp_path: Path,
    unused_tcp_port: int,
) -> None:
    env = _env(fake_github, rsa_pem[0], tmp_path)
    del env["GITHUB_PRIVATE_KEY"]
    env["GITHUB_PRIVATE_KEY_PATH"] = str(tmp_path / "missing.pem")
    proc = await _serve(env, unused_tcp_port, tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert err.decode().splitlines() == [
        "musl-check cannot start: GITHUB_PRIVATE_KEY_PATH cannot be read "
        "(No such file or directory) (fix in the environment or .env; see .env.example)"
    ]


async def test_github_refuses_the_app(
    fake_github: FakeGitHub, tmp_path: Path, unused_tcp_port: int
) -> None:
    # A valid key, but not the one GitHub holds for this App: 401 from GET /app.
    pem, _ = app_key_pair()
    line = await _fails(_env(fake_github, pem, tmp_path), unused_tcp_port, tmp_path)
    assert line.startswith("musl-check: GitHub refused the App's credentials (HTTP 401")
    assert "GITHUB_APP_ID and the private key must belong to the same App" in line
    assert "BEGIN" not in line


async def test_github_out_of_reach(
    fake_github: FakeGitHub,
    rsa_pem: tuple[str, bytes],
    tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    env = _env(fake_github, rsa_pem[0], tmp_path)
    env["GITHUB_API_URL"] = f"http://127.0.0.1:{unused_tcp_port_factory()}"
    line = await _fails(env, unused_tcp_port_factory(), tmp_path)
    assert line.startswith(
        f"musl-check: cannot reach the GitHub API at {env['GITHUB_API_URL']} ("
    )
    assert line.endswith("check the network or proxy, or GITHUB_API_URL")


# The same start-up checks, in process (the subprocesses above are not measured
# by coverage).


def _settings(fake: FakeGitHub, pem: str, tmp_path: Path, **extra: str) -> Settings:
    return Settings.from_env(_env(fake, pem, tmp_path) | extra)


async def test_github_problem_in_process(
    fake_github: FakeGitHub,
    rsa_pem: tuple[str, bytes],
    tmp_path: Path,
    unused_tcp_port: int,
) -> None:
    settings = _settings(fake_github, rsa_pem[0], tmp_path)
    assert await github_problem(settings) is None
    wrong = dataclasses.replace(settings, app_id="999")
    assert "HTTP 401" in str(await github_problem(wrong))
    fake_github.fail("GET", "/app", 404)  # as a wrong GITHUB_API_URL answers
    assert await github_problem(settings) == (
        f"GitHub answered HTTP 404 to {settings.api_url}/app: check GITHUB_API_URL "
        "(GitHub Enterprise Server: https://HOST/api/v3)"
    )
    closed = dataclasses.replace(
        settings, api_url=f"http://127.0.0.1:{unused_tcp_port}"
    )
    assert str(await github_problem(closed)).startswith(
        f"cannot reach the GitHub API at http://127.0.0.1:{unused_tcp_port} ("
    )
    bad = dataclasses.replace(settings, api_url="http://[::1")
    assert str(await github_problem(bad)).startswith("cannot reach the GitHub API")


def test_store_problem(
    rsa_pem: tuple[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeGitHub(APP_ID, rsa_pem[1])
    fake.extra["url"] = "http://127.0.0.1:9"
    assert store_problem(_settings(fake, rsa_pem[0], tmp_path)) is None
    redis = _settings(fake, rsa_pem[0], tmp_path, MUSL_CHECK_STORE="redis://h:6379/0")
    assert store_problem(redis) is None  # the dev install has the redis package
    # A None entry in sys.modules is how Python marks a module as absent.
    monkeypatch.setitem(sys.modules, "redis", None)
    assert "pip install 'musl-check[redis]'" in str(store_problem(redis))


def test_listen_problems() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with (
            socket.socket() as second,
            pytest.raises(OSError, match="in use") as in_use,
        ):
            second.bind(("127.0.0.1", port))
    assert "already in use" in listen_problem(in_use.value, "127.0.0.1", port)
    with socket.socket() as sock, pytest.raises(OSError, match="address") as not_here:
        sock.bind(("192.0.2.1", 0))  # TEST-NET-1: no interface has it
    assert listen_problem(not_here.value, "192.0.2.1", 3000).startswith(
        "cannot listen on 192.0.2.1:3000 ("
    )
    denied = OSError(errno.EACCES, os.strerror(errno.EACCES))
    assert "above 1023" in listen_problem(denied, "0.0.0.0", 80)


def test_run_stops_on_a_problem_with_one_line(
    rsa_pem: tuple[str, bytes],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    public = rsa_pem[1]
    with serve_in_thread(create_fake_app(FakeGitHub(APP_ID, public))) as url:
        fake = FakeGitHub(APP_ID, public)
        fake.extra["url"] = url
        env = _env(fake, rsa_pem[0], tmp_path)
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            assert run(env, "127.0.0.1", port) == 1
        assert capsys.readouterr().err.endswith(
            f"musl-check: port {port} on 127.0.0.1 is already in use: stop the "
            "other server or choose another port with --port or PORT\n"
        )
        monkeypatch.setitem(sys.modules, "redis", None)
        redis_env = env | {"MUSL_CHECK_STORE": "redis://127.0.0.1:6379/0"}
        assert run(redis_env, "127.0.0.1", port) == 1
        assert "musl-check[redis]" in capsys.readouterr().err
