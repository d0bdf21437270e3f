"""Fixtures for the server tests: a real RSA key, settings and a sqlite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from tests.server.serverkit import ROTATED, SECRET, Recorder


@pytest.fixture(scope="session")
def pem() -> str:
    """Return a freshly generated unencrypted RSA private key in PEM form."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")


@pytest.fixture
def env(pem: str, tmp_path: Path) -> dict[str, str]:
    return {
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY": pem,
        "GITHUB_WEBHOOK_SECRET": f"{SECRET},{ROTATED}",
        "MUSL_CHECK_STORE": f"sqlite:///{tmp_path}/db/musl-check.sqlite3",
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore.open(str(tmp_path / "store.sqlite3"))
    yield s
    await s.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
