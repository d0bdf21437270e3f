"""Fixtures for the fix features: a local sparse-index server serving libc's file."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.github.client import GitHubClient
from tests.fake_github import FakeGitHub, create_fake_app
from tests.fixes.index_data import IndexServer, index_app

TOKEN = "ghs_fixes_test_token"


@pytest.fixture
async def index_server() -> AsyncIterator[IndexServer]:
    """Serve libc's sparse-index file (docs/domain.md 7.4 data) on 127.0.0.1."""
    state = IndexServer()
    server = TestServer(index_app(state), host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("")).rstrip("/")
    try:
        yield state
    finally:
        await server.close()


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """Return a client session closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def fake_github() -> AsyncIterator[FakeGitHub]:
    """Serve the fake GitHub API on 127.0.0.1; `fake.extra["url"]` is its root."""
    fake = FakeGitHub(12345, b"")
    fake.tokens[TOKEN] = 1
    server = TestServer(create_fake_app(fake), host="127.0.0.1")
    await server.start_server()
    fake.extra["url"] = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
def gh(fake_github: FakeGitHub, http_session: aiohttp.ClientSession) -> GitHubClient:
    """Return the real client, authenticated as installation 1 of the fake."""

    async def token() -> str:
        return f"token {TOKEN}"

    return GitHubClient(http_session, base_url=fake_github.extra["url"], auth=token)
