"""Auth, client and snapshot against the fake GitHub (no webhook server)."""

from __future__ import annotations

import http
import logging
import time
from pathlib import Path
from typing import Any

import gidgethub
import jwt
import pytest

from bot.core.sources import Problem
from bot.github.auth import TOKEN_MARGIN, AppAuth, TokenError, parse_expires_at
from bot.github.client import (
    API_VERSION,
    MAX_WAIT,
    ClientFactory,
    EtagCache,
    retry_delay,
)
from bot.github.snapshot import (
    MAX_TREE_REQUESTS,
    BlobCache,
    EmptyRepository,
    git_blob_sha,
    take_snapshot,
)
from tests.fake_github import Entry, FakeGitHub, folder_files
from tests.github.conftest import REPO, RIPGREP_CASE, Sleeps

ACCURACY = Path(__file__).resolve().parents[1] / "fixtures" / "accuracy"


def test_app_jwt_claims(rsa_pem: tuple[str, bytes]) -> None:
    now = 1_800_000_000.0
    auth = AppAuth("42", rsa_pem[0], clock=lambda: now)
    token = auth.app_jwt()
    claims = jwt.decode(
        token,
        rsa_pem[1],
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == "42"
    assert claims["iat"] == now - 60
    assert claims["exp"] - now <= 600
    assert auth.app_jwt() == token  # reused while fresh
    assert "BEGIN" not in repr(auth)


async def test_token_cached_and_renewed(rsa_pem: tuple[str, bytes]) -> None:
    now = [1_800_000_000.0]
    auth = AppAuth("42", rsa_pem[0], clock=lambda: now[0])
    minted: list[str] = []

    async def request(installation_id: int, app_jwt: str) -> dict[str, Any]:
        token = f"ghs_{len(minted)}.x" * 30
        minted.append(token)
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now[0] + 3600))
        return {"token": token, "expires_at": expires}

    first = await auth.installation_token(5, request)
    assert await auth.installation_token(5, request) == first
    now[0] += 56 * 60  # within the renewal margin of the 1 h lifetime
    second = await auth.installation_token(5, request)
    assert second != first
    assert len(minted) == 2
    auth.forget(5)
    assert auth.cached_token(5) is None
    assert "ghs_" not in repr(auth._tokens)


async def test_token_response_without_ghs_token_fails(
    rsa_pem: tuple[str, bytes],
) -> None:
    auth = AppAuth("42", rsa_pem[0])

    async def request(installation_id: int, app_jwt: str) -> dict[str, Any]:
        return {"token": "gho_user_token", "expires_at": "2030-01-01T00:00:00Z"}

    with pytest.raises(TokenError):
        await auth.installation_token(1, request)


async def test_bad_expires_at_gives_an_hour(rsa_pem: tuple[str, bytes]) -> None:
    now = [1000.0]
    auth = AppAuth("42", rsa_pem[0], clock=lambda: now[0])

    async def request(installation_id: int, app_jwt: str) -> dict[str, Any]:
        return {"token": "ghs_abc", "expires_at": "soon"}

    assert await auth.installation_token(1, request) == "ghs_abc"
    # Read back through the clock: the token is used until 4600.0 (1000 plus
    # an hour) less the renewal margin, and not after.
    now[0] = 4600.0 - TOKEN_MARGIN - 1
    assert auth.cached_token(1) == "ghs_abc"
    now[0] = 4600.0 - TOKEN_MARGIN
    assert auth.cached_token(1) is None


def test_parse_expires_at() -> None:
    assert parse_expires_at("2016-07-11T22:14:10Z") == 1468275250.0


def _exc(status: int, **headers: str) -> gidgethub.HTTPException:
    cls = gidgethub.GitHubBroken if status >= 500 else gidgethub.BadRequest
    return cls(http.HTTPStatus(status), headers=headers)


@pytest.mark.parametrize(
    ("status", "headers", "attempt", "delay"),
    [
        (502, {}, 1, 1.0),
        (502, {}, 2, 2.0),
        (502, {}, 3, None),
        (429, {"retry-after": "7"}, 1, 7.0),
        (403, {"retry-after": "soon"}, 1, 60.0),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "130"}, 1, 30.0),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "x"}, 1, 60.0),
        (429, {}, 2, 120.0),
        (403, {}, 1, None),
        (404, {}, 1, None),
    ],
)
def test_retry_delay(
    status: int, headers: dict[str, str], attempt: int, delay: float | None
) -> None:
    assert retry_delay(_exc(status, **headers), attempt, now=100.0) == delay


async def test_requests_carry_version_and_token(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP_CASE)
    gh = factory.installation_client(1)
    assert await gh.getstatus(f"/repos/{REPO}/git/trees/{sha}") == 200
    await gh.getitem(f"/repos/{REPO}")
    token_calls = fake_github.calls("POST", "/access_tokens")
    assert len(token_calls) == 1
    for r in fake_github.requests:
        assert r.headers["x-github-api-version"] == API_VERSION
    assert fake_github.requests[-1].headers["authorization"].startswith("token ghs_")
    assert fake_github.violations == []


async def test_unauthorized_forgets_token(
    fake_github: FakeGitHub, factory: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake_github.add_folder(REPO, RIPGREP_CASE)
    gh = factory.installation_client(1)
    await gh.getitem(f"/repos/{REPO}")
    fake_github.tokens.clear()  # revoked
    with (
        caplog.at_level(logging.DEBUG, "bot.github.client"),
        pytest.raises(gidgethub.BadRequest),
    ):
        await gh.getitem(f"/repos/{REPO}")
    assert [(r.levelno, getattr(r, "status", None)) for r in caplog.records] == [
        (logging.WARNING, 401)
    ]
    await gh.getitem(f"/repos/{REPO}")  # a new token is minted
    assert len(fake_github.calls("POST", "/access_tokens")) == 2


async def test_not_found_is_not_a_warning(
    fake_github: FakeGitHub, factory: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake_github.add_folder(REPO, RIPGREP_CASE)
    gh = factory.installation_client(1)
    with (
        caplog.at_level(logging.DEBUG, "bot.github.client"),
        pytest.raises(gidgethub.BadRequest),
    ):
        await gh.getitem(f"/repos/{REPO}/pulls/404")
    assert [(r.levelno, getattr(r, "status", None)) for r in caplog.records] == [
        (logging.DEBUG, 404)
    ]


async def test_rate_limit_wait_too_long_is_not_slept(
    fake_github: FakeGitHub, factory: ClientFactory, sleeps: Sleeps
) -> None:
    fake_github.add_folder(REPO, RIPGREP_CASE)
    reset = str(int(time.time() + 3600))
    fake_github.fail(
        "GET",
        f"/repos/{REPO}",
        403,
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": reset,
        },
    )
    with pytest.raises(gidgethub.RateLimitExceeded):
        await factory.installation_client(1).getitem(f"/repos/{REPO}")
    assert sleeps == []
    assert MAX_WAIT < 3600


async def test_secondary_limit_retried(
    fake_github: FakeGitHub, factory: ClientFactory, sleeps: Sleeps
) -> None:
    fake_github.add_folder(REPO, RIPGREP_CASE)
    fake_github.fail("GET", f"/repos/{REPO}", 429, headers={"retry-after": "3"})
    data = await factory.installation_client(1).getitem(f"/repos/{REPO}")
    assert data["full_name"] == REPO
    assert sleeps == [3.0]


def test_etag_cache_skips_git_objects() -> None:
    cache = EtagCache(maxsize=10)
    cache["https://x/repos/a/b/git/blobs/abc"] = ("e", None, "x", None)
    cache["https://x/repos/a/b/git/trees/abc"] = ("e", None, "x", None)
    cache["https://x/repos/a/b"] = ("e", None, "x", None)
    assert list(cache) == ["https://x/repos/a/b"]


async def test_raw_blobs_round_trip_any_bytes(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    data = bytes(range(256)) * 3 + "é ü\n".encode()
    sha = fake_github.add_commit(REPO, {"Cargo.lock": data})
    gh = factory.installation_client(1)
    blob = git_blob_sha(data)
    got = await gh.get_raw(
        "/repos/{owner}/{repo}/git/blobs/{sha}",
        {"owner": "acme", "repo": "app", "sha": blob},
    )
    assert got == data
    snap = await take_snapshot(gh, "acme", "app", sha, BlobCache())
    assert snap.files == {"Cargo.lock": data}
    assert fake_github.violations == []


async def test_snapshot_reads_wanted_files_and_caches_blobs(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    files = folder_files(RIPGREP_CASE)
    files["src/main.rs"] = b"fn main() {}\n"
    sha = fake_github.add_commit(REPO, files)
    gh = factory.installation_client(1)
    blobs = BlobCache()
    snap = await take_snapshot(gh, "acme", "app", sha, blobs)
    assert "src/main.rs" not in snap.files
    assert snap.files == {p: d for p, d in files.items() if p != "src/main.rs"}
    assert snap.fetched == len(snap.files)
    assert snap.rust  # the tree shows Rust
    before = len(fake_github.requests)
    again = await take_snapshot(gh, "acme", "app", sha, blobs)
    assert again.fetched == 0
    assert again.key == snap.key
    assert len(fake_github.requests) == before + 1  # the tree only


async def test_snapshot_skips_big_files_and_links(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    files: dict[str, bytes | Entry] = {
        "Cargo.lock": b"x" * 2000,
        "Cross.toml": Entry("Cross.toml", "120000", "blob", "c" * 40, 12),
        "sub": Entry("sub", "160000", "commit", "d" * 40),
        "Dockerfile": b"FROM alpine:3.20\n",
    }
    sha = fake_github.add_commit(REPO, files)
    gh = factory.installation_client(1)
    snap = await take_snapshot(gh, "acme", "app", sha, BlobCache(), max_file_bytes=1000)
    assert set(snap.files) == {"Dockerfile"}
    assert snap.problems == (
        Problem(
            "Cargo.lock",
            1,
            "Cargo.lock is 2000 bytes, over the 1000-byte limit; skipped",
        ),
    )


async def test_truncated_tree_is_walked(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    files = folder_files(RIPGREP_CASE)
    files["crates/a/Dockerfile"] = b"FROM rust:alpine\n"
    files["target/Dockerfile"] = b"FROM rust:alpine\n"
    files["docs/readme.md"] = b"hi\n"
    sha = fake_github.add_commit(REPO, files)
    fake_github.repos[REPO].truncate_after = 3
    gh = factory.installation_client(1)
    snap = await take_snapshot(gh, "acme", "app", sha, BlobCache())
    assert "crates/a/Dockerfile" in snap.files
    assert "target/Dockerfile" not in snap.files
    assert set(snap.files) == {
        p for p in files if p not in ("target/Dockerfile", "docs/readme.md")
    }
    listings = fake_github.calls("GET", "/git/trees/")
    assert next(r.query for r in listings) == {"recursive": "1"}
    assert all(r.query == {} for r in listings[1:])
    assert snap.rust
    assert fake_github.violations == []


@pytest.mark.parametrize("truncate", [None, 1])
async def test_rust_is_seen_anywhere_in_the_tree(
    truncate: int | None, fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    plain = {"web/app/Dockerfile": b"FROM node\n", "README.md": b"hi\n"}
    gh = factory.installation_client(1)
    for extra, rust in [
        ({}, False),
        ({"web/app/lib/native/Cargo.toml": b"[package]\n"}, True),  # never read
        ({".github/musl-check.yml": b"enabled: true\n"}, True),
    ]:
        sha = fake_github.add_commit(REPO, {**plain, **extra})
        fake_github.repos[REPO].truncate_after = truncate
        snap = await take_snapshot(gh, "acme", "app", sha, BlobCache())
        assert snap.rust is rust, extra
        assert "web/app/lib/native/Cargo.toml" not in snap.files


async def test_truncated_tree_walk_is_bounded(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    files = {f"d{i}/x/Dockerfile": b"FROM alpine\n" for i in range(MAX_TREE_REQUESTS)}
    sha = fake_github.add_commit(REPO, files)
    fake_github.repos[REPO].truncate_after = 1
    gh = factory.installation_client(1)
    snap = await take_snapshot(gh, "acme", "app", sha, BlobCache())
    assert len(fake_github.calls("GET", "/git/trees/")) == MAX_TREE_REQUESTS + 1
    assert snap.problems
    assert "too large" in snap.problems[-1].message
    assert snap.rust  # not all of it seen: no guess that Rust is absent


async def test_empty_repository_raises(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    fake_github.add_repo(REPO).empty = True
    with pytest.raises(EmptyRepository):
        await take_snapshot(
            factory.installation_client(1), "acme", "app", "a" * 40, BlobCache()
        )
    assert fake_github.violations == []


def test_blob_cache_bounds() -> None:
    cache = BlobCache(max_bytes=10)
    cache.put("a", b"12345")
    cache.put("big", b"x" * 20)
    cache.put("b", b"123456")
    assert cache.get("big") is None
    assert cache.get("b") == b"123456"
    assert cache.get("a") is None  # evicted to stay under 10 bytes


async def test_nested_lockfiles_are_read_when_a_musl_build_uses_them(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    files = folder_files(ACCURACY / "nested-working-directory")
    sha = fake_github.add_commit(REPO, files)
    gh = factory.installation_client(1)
    snap = await take_snapshot(gh, "acme", "app", sha, BlobCache())
    # The fuzz workspace's lockfile, which no musl build enters, costs nothing.
    assert set(snap.files) == {".github/workflows/release.yml", "rust/Cargo.lock"}
    assert snap.fetched == len(fake_github.calls("GET", "/git/blobs/")) == 2
    assert snap.rust
    assert fake_github.violations == []
