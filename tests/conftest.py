"""Fixtures shared by every test folder: a test RSA key, a recording sleeper and
a local crates index."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixes.index_data import IndexServer, index_app
from tests.threadserver import serve_in_thread


class Sleeps(list[float]):
    """A sleeper that records the delays asked for and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="session")
def rsa_pem() -> tuple[str, bytes]:
    """Return a test RSA private key (PEM text) and its public key (PEM bytes)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


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
