"""Fixtures shared by every test folder: a test RSA key, a recording sleeper,
the fake GitHub, a local crates index and the test Redis."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
import venv
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from aiohttp.test_utils import TestServer

from tests.fake_github import FakeGitHub, create_fake_app
from tests.fixes.index_data import IndexServer, index_app
from tests.keys import app_key_pair
from tests.threadserver import serve_in_thread


class Clock:
    """An injected wall clock: starts at the real time, moves only when told."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


class Sleeps(list[float]):
    """A sleeper that records the delays asked for and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="session")
def rsa_pem() -> tuple[str, bytes]:
    """Return a test RSA private key (PEM text) and its public key (PEM bytes)."""
    return app_key_pair()


# The App id the fake GitHub knows (that of the real check_suite fixture).
APP_ID = 29310


@pytest.fixture
async def fake_github(
    rsa_pem: tuple[str, bytes], aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> FakeGitHub:
    """Return a running fake GitHub; `fake.extra["url"]` is its base URL.

    The one fake of every test folder: it knows the App `APP_ID` and its
    public key (`rsa_pem`).
    """
    fake = FakeGitHub(APP_ID, rsa_pem[1])
    server = await aiohttp_server(create_fake_app(fake))
    fake.extra["url"] = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def crates_index(
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> IndexServer:
    """Return a running local sparse index serving libc's real index lines."""
    state = IndexServer()
    server = await aiohttp_server(index_app(state))
    state.url = str(server.make_url("")).rstrip("/")
    return state


@pytest.fixture(scope="session", autouse=True)
def local_crates_index() -> Iterator[IndexServer]:
    """Point CRATES_INDEX_URL at a local sparse index serving libc's real lines.

    `musl-check scan` asks the index when a fix depends on it; every test (and
    every subprocess it starts) then reaches this loopback server, never
    crates.io.
    """
    state = IndexServer()
    with serve_in_thread(index_app(state)) as url, pytest.MonkeyPatch.context() as mp:
        state.url = url
        mp.setenv("CRATES_INDEX_URL", url)
        yield state


ROOT = Path(__file__).resolve().parents[1]
# Time limits of the packaging steps (pip may fetch from PyPI).
BUILD_LIMIT_S = 300
INSTALL_LIMIT_S = 600


@dataclass(frozen=True)
class Installed:
    """A built sdist and wheel, and a venv with the wheel installed."""

    src: Path  # the files the package is built from (an action checkout too)
    sdist: Path
    wheel: Path
    bin: Path


def run_limited(
    args: list[str | Path], limit: int, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    """Run a command with a time limit; return its status and text output."""
    return subprocess.run(  # noqa: S603 - fixed commands, our own files
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=limit,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build from a copy of the sources the package is made of; install the wheel."""
    work = tmp_path_factory.mktemp("packaging")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "action.yml"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(
        ROOT / "bot", src / "bot", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = work / "dist"
    done = run_limited(
        [sys.executable, "-m", "build", "--outdir", dist, src], BUILD_LIMIT_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    done = run_limited(
        [env_dir / "bin" / "python", "-m", "pip", "install", "--quiet", wheel],
        INSTALL_LIMIT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return Installed(src, sdist, wheel, env_dir / "bin")


# The Redis the tests use: this project's machines and CI run one on
# 127.0.0.1:6379; MUSL_CHECK_TEST_REDIS_URL points the tests elsewhere.
REDIS_URL_VAR = "MUSL_CHECK_TEST_REDIS_URL"
DEFAULT_TEST_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Return the URL of a Redis server that answers; fail (never skip) if none."""
    url = os.environ.get(REDIS_URL_VAR, DEFAULT_TEST_REDIS)
    client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"no Redis answers at {url} ({exc}); set {REDIS_URL_VAR}")
    finally:
        client.close()
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """Return a key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"musl-check-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
