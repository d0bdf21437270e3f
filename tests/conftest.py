"""Fixtures shared by every test folder: an RSA key, a recording sleeper, Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


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
