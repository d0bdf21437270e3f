"""Fixtures for the GitHub-layer tests: settings, the server, signed deliveries.

The fake GitHub and the local index are tests/conftest.py's.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.github.auth import AppAuth
from bot.github.client import ClientFactory
from bot.github.context import Options
from bot.queue import RetryPolicy
from bot.server import RUNTIME_KEY, STORE_KEY, create_app, drain
from bot.server.app import CONTEXT_KEY
from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from tests.conftest import APP_ID, Sleeps
from tests.fake_github import FakeGitHub
from tests.fixes.index_data import IndexServer
from tests.paths import CORPUS, WEBHOOKS
from tests.server.serverkit import SECRET, headers

REPO = "acme/app"

RIPGREP_CASE = CORPUS / "BurntSushi__ripgrep@a7f1276021"


def corpus_cases() -> list[Path]:
    """Return every DEV corpus case folder."""
    return sorted(p for p in CORPUS.iterdir() if (p / "expected.json").is_file())


@pytest.fixture
async def factory(
    fake_github: FakeGitHub, rsa_pem: tuple[str, bytes], sleeps: Sleeps
) -> AsyncIterator[ClientFactory]:
    """Return a client factory for the fake GitHub (the App's own key)."""
    async with aiohttp.ClientSession() as session:
        auth = AppAuth(str(APP_ID), rsa_pem[0])
        yield ClientFactory(
            session, auth, base_url=fake_github.extra["url"], sleep=sleeps
        )


@pytest.fixture
def settings(
    fake_github: FakeGitHub,
    crates_index: IndexServer,
    rsa_pem: tuple[str, bytes],
    tmp_path: Path,
) -> Settings:
    """Return settings pointing the App at the fake GitHub and the local index."""
    return Settings(
        crates_index_url=crates_index.url,
        app_id=str(APP_ID),
        private_key=rsa_pem[0],
        webhook_secrets=(SECRET,),
        api_url=fake_github.extra["url"],
        store_url=f"sqlite:///{tmp_path}/musl-check.sqlite3",
    )


@pytest.fixture
def sleeps() -> Sleeps:
    """Return the recording sleeper given to the GitHub clients."""
    return Sleeps()


@pytest.fixture
def options(sleeps: Sleeps) -> Options:
    """Return the injectable pieces of the GitHub layer (the real analysis)."""
    return Options(sleep=sleeps)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """Return an open sqlite store."""
    s = SqliteStore.open(str(tmp_path / "store.sqlite3"))
    yield s
    await s.close()


@pytest.fixture
async def bot(
    settings: Settings,
    store: SqliteStore,
    options: Options,
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> TestClient[Any, Any]:
    """Return a client of the real server (create_app) wired to the fake."""
    # Transient failures are retried after 10 ms, 20 ms (not 15 s, 30 s); no
    # missed-delivery recovery (tests/github/test_recovery.py turns it on).
    app = create_app(
        settings,
        store=store,
        options=options,
        retry=TEST_RETRY,
        poll_s=0.01,
        recovery_interval_s=0,
    )
    return await aiohttp_client(app)


TEST_RETRY = RetryPolicy(base_s=0.01, max_attempts=3)


async def settled(app: web.Application, timeout_s: float = 60) -> None:
    """Wait until every delivery and scan item is finished, retries included."""
    store = app[STORE_KEY]
    async with asyncio.timeout(timeout_s):
        while True:
            await drain(app, timeout_s)
            # The backlog first: an item the feeder moves meanwhile is then
            # counted by the queue's depth.
            if not await store.scan_backlog_size() and not await store.depth():
                break
            if CONTEXT_KEY in app:  # the feeder moves backlog items onto the queue
                app[CONTEXT_KEY].scan_wake.set()
            await asyncio.sleep(0.01)  # a retry waits out its backoff
    assert not app[RUNTIME_KEY].tasks


def load_payload(name: str) -> dict[str, Any]:
    """Return the real webhook payload `<event>.<action>` (e.g. `push.payload`)."""
    event, _, action = name.partition(".")
    data: dict[str, Any] = json.loads((WEBHOOKS / event / f"{action}.json").read_text())
    return data


def adjust(
    name: str,
    data: dict[str, Any],
    fake: FakeGitHub,
    *,
    repo: str,
    sha: str | None,
    pull_number: int = 7,
    fork: bool = False,
) -> dict[str, Any]:
    """Point a real payload at a repository and commit of the fake."""
    data = copy.deepcopy(data)
    event = name.partition(".")[0]
    r = fake.add_repo(repo)
    repository = data.get("repository")
    if isinstance(repository, dict):
        repository.update(id=r.id, name=r.name, full_name=r.full_name)
        repository["default_branch"] = r.default_branch
        repository["owner"]["login"] = r.owner
    if "installation" in data:
        data["installation"]["id"] = r.installation_id
    if event == "check_suite":
        suite = data["check_suite"]
        suite.update(head_sha=sha, after=sha)
        suite["app"]["id"] = APP_ID
    elif event == "check_run":
        run = data["check_run"]
        run.update(head_sha=sha, name="musl-check")
        run["app"]["id"] = APP_ID
        run["check_suite"]["head_sha"] = sha
    elif event == "pull_request":
        pull = data["pull_request"]
        pull["number"] = data["number"] = pull_number
        pull["head"]["sha"] = sha
        pull["base"]["repo"] = copy.deepcopy(repository)
        head_repo = copy.deepcopy(repository)
        if fork:
            assert head_repo is not None
            head_repo.update(id=r.id + 100_000, full_name=f"forker/{r.name}")
            head_repo["owner"]["login"] = "forker"
        pull["head"]["repo"] = head_repo
    elif event == "push":
        data["ref"] = f"refs/heads/{r.default_branch}"
        data["after"] = sha
        data["deleted"] = sha == "0" * 40
    return data


class Deliver(Protocol):
    """Post a signed delivery to the server, then drain its background work."""

    def __call__(
        self,
        name: str,
        *,
        repo: str = ...,
        sha: str | None = ...,
        delivery_id: str | None = ...,
        **kw: Any,
    ) -> Awaitable[web.Response]: ...


@pytest.fixture
def deliver(bot: TestClient[Any, Any], fake_github: FakeGitHub) -> Deliver:
    """Return `deliver(name, repo=, sha=, ...)` posting real signed payloads."""

    async def post(
        name: str,
        *,
        repo: str = REPO,
        sha: str | None = None,
        delivery_id: str | None = None,
        payload: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Any:
        data = payload or adjust(
            name, load_payload(name), fake_github, repo=repo, sha=sha, **kw
        )
        body = json.dumps(data).encode()
        resp = await bot.post(
            "/webhook",
            data=body,
            headers=headers(body, name.partition(".")[0], delivery_id),
        )
        app = bot.server.app
        assert app is not None
        await settled(app)
        return resp

    return post  # type: ignore[return-value]
