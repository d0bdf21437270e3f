"""Fixtures for the fix features: a client of the shared fake GitHub."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.github.client import GitHubClient
from tests.fake_github import FakeGitHub

TOKEN = "ghs_fixes_test_token"


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """Return a client session closed after the test."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def gh(fake_github: FakeGitHub, http_session: aiohttp.ClientSession) -> GitHubClient:
    """Return the real client, authenticated as installation 1 of the fake."""
    fake_github.tokens[TOKEN] = 1

    async def token() -> str:
        return f"token {TOKEN}"

    return GitHubClient(http_session, base_url=fake_github.extra["url"], auth=token)
