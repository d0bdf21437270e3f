"""Fixtures for the fix features: a local sparse-index server serving libc's file."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from index_data import IndexServer, index_app


@pytest.fixture
async def index_server() -> AsyncIterator[IndexServer]:
    """Serve libc's sparse-index file (DOMAIN.md 7.4 data) on 127.0.0.1."""
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
