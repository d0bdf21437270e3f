"""The Store contract, run against SQLite and Redis (fakeredis)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import fakeredis
import pytest

from bot.store import PullFeedback, Store, StoreError, open_store
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore
from tests.server.serverkit import payload

BODY = payload("push", "with-installation")


@pytest.fixture(params=["sqlite", "redis"])
async def any_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Store]:
    s: Store
    if request.param == "sqlite":
        s = SqliteStore.open(str(tmp_path / "s.sqlite3"))
    else:
        s = RedisStore(fakeredis.FakeAsyncRedis(max_connections=1000))
    yield s
    await s.close()


async def test_add_delivery_dedupes(any_store: Store) -> None:
    assert await any_store.add_delivery("a", "push", BODY)
    assert not await any_store.add_delivery("a", "push", b"{}")
    [d] = await any_store.pending()
    assert (d.delivery_id, d.event, d.body, d.attempts) == ("a", "push", BODY, 0)
    await any_store.finish("a")
    assert await any_store.pending() == []
    # Still a duplicate after it is finished (GitHub redelivers the same id).
    assert not await any_store.add_delivery("a", "push", BODY)


async def test_claim_excludes_other_owners(any_store: Store) -> None:
    assert await any_store.add_delivery("a", "push", BODY)
    assert await any_store.add_delivery("b", "push", BODY)
    assert await any_store.claim("a", "one", 60)
    assert not await any_store.claim("a", "two", 60)
    assert await any_store.claim("a", "one", 60)  # renewal by the holder
    assert [d.delivery_id for d in await any_store.pending()] == ["b"]
    assert await any_store.claim("a", "one", 0)  # give it back
    assert [d.delivery_id for d in await any_store.pending()] == ["a", "b"]
    assert await any_store.claim("a", "two", 60)
    assert (await any_store.pending())[0].delivery_id == "b"


async def test_claim_unknown_or_finished_fails(any_store: Store) -> None:
    assert not await any_store.claim("nope", "one", 60)
    assert await any_store.add_delivery("a", "push", BODY)
    await any_store.finish("a", "RuntimeError")
    assert not await any_store.claim("a", "one", 60)


async def test_expired_lease_is_pending_again(any_store: Store) -> None:
    assert await any_store.add_delivery("a", "push", BODY)
    assert await any_store.claim("a", "dead-instance", 0.05)
    assert await any_store.pending() == []
    await asyncio.sleep(0.2)
    [d] = await any_store.pending()
    assert d.delivery_id == "a"
    assert d.attempts == 1
    assert await any_store.claim("a", "new-instance", 60)


async def test_add_delivery_leased_to_owner(any_store: Store) -> None:
    assert await any_store.add_delivery("a", "push", BODY, owner="me", lease_s=60)
    assert not await any_store.add_delivery("a", "push", BODY, owner="me", lease_s=60)
    assert await any_store.pending() == []  # leased: no other instance takes it
    assert not await any_store.claim("a", "other", 60)
    assert await any_store.claim("a", "me", 60)  # the holder may renew
    assert await any_store.claim("a", "me", 0)  # and give it back
    [d] = await any_store.pending()
    assert (d.delivery_id, d.body, d.attempts) == ("a", BODY, 1)


async def test_add_delivery_lease_expires(any_store: Store) -> None:
    assert await any_store.add_delivery("a", "push", BODY, owner="dead", lease_s=0.05)
    assert await any_store.pending() == []
    await asyncio.sleep(0.2)
    [d] = await any_store.pending()
    assert d.delivery_id == "a"
    assert await any_store.claim("a", "new-instance", 60)


async def test_pending_limit_and_order(any_store: Store) -> None:
    for i in range(5):
        assert await any_store.add_delivery(f"d{i}", "push", BODY)
    got = await any_store.pending(limit=3)
    assert [d.delivery_id for d in got] == ["d0", "d1", "d2"]


async def test_check_runs(any_store: Store) -> None:
    assert await any_store.get_check_run(1, "abc") is None
    await any_store.set_check_run(1, "abc", 42)
    await any_store.set_check_run(1, "abc", 43)
    await any_store.set_check_run(2, "abc", 7)
    assert await any_store.get_check_run(1, "abc") == 43
    assert await any_store.get_check_run(2, "abc") == 7


async def test_pull_feedback(any_store: Store) -> None:
    assert await any_store.get_pull_feedback(1, 7) is None
    first = PullFeedback("at-risk", "d1", "b" * 40)
    await any_store.set_pull_feedback(1, 7, first)
    await any_store.set_pull_feedback(2, 7, PullFeedback("clean", "d2"))
    assert await any_store.get_pull_feedback(1, 7) == first
    fixed = PullFeedback("musl-libc-ok", "d3", "")
    await any_store.set_pull_feedback(1, 7, fixed)
    assert await any_store.get_pull_feedback(1, 7) == fixed
    assert await any_store.get_pull_feedback(2, 7) == PullFeedback("clean", "d2")
    assert await any_store.get_pull_feedback(1, 8) is None


async def test_results_latest_per_repo(any_store: Store) -> None:
    await any_store.set_installation(1, "acme", True)
    await any_store.save_result(1, "acme/app", "a" * 40, "at-risk", "libc 0.2.140")
    await any_store.save_result(1, "acme/lib", "b" * 40, "clean", "all good")
    await any_store.save_result(1, "acme/app", "c" * 40, "musl-libc-ok", "fixed")
    await any_store.save_result(2, "other/x", "d" * 40, "old-libc", "old")
    got = await any_store.results()
    assert [(r.repo, r.head_sha[0], r.verdict) for r in got] == [
        ("other/x", "d", "old-libc"),
        ("acme/app", "c", "musl-libc-ok"),
        ("acme/lib", "b", "clean"),
    ]
    assert got[1].title == "fixed"
    assert got[1].installation_id == 1
    assert len(await any_store.results(limit=1)) == 1
    await any_store.set_installation(1, "acme", False)
    assert [r.repo for r in await any_store.results()] == ["other/x"]
    await any_store.set_installation(1, "acme", True)
    assert len(await any_store.results()) == 3


async def test_concurrent_use(any_store: Store) -> None:
    async def one(i: int) -> bool:
        ok = await any_store.add_delivery(f"c{i % 50}", "push", BODY)
        if ok:
            assert await any_store.claim(f"c{i % 50}", "me", 60)
            await any_store.finish(f"c{i % 50}")
        return ok

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert sum(results) == 50
    assert await any_store.pending() == []


async def test_sqlite_file_created_with_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/deep/dir/x.sqlite3"
    store = open_store(url)
    assert isinstance(store, SqliteStore)
    await store.close()
    conn = sqlite3.connect(tmp_path / "deep" / "dir" / "x.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


async def test_sqlite_relative_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///var/musl-check.sqlite3")
    await store.close()
    assert (tmp_path / "var" / "musl-check.sqlite3").is_file()


async def test_sqlite_threaded_mode(tmp_path: Path) -> None:
    store = SqliteStore.open(str(tmp_path / "t.sqlite3"), threaded=True)
    assert await store.add_delivery("a", "push", BODY)
    assert [d.delivery_id for d in await store.pending()] == ["a"]
    await store.close()


async def test_sqlite_prunes_old_finished(tmp_path: Path) -> None:
    path = str(tmp_path / "p.sqlite3")
    store = SqliteStore.open(path)
    assert await store.add_delivery("old", "push", BODY)
    await store.finish("old")
    store._conn.execute("UPDATE deliveries SET finished_at = 0")
    await store.close()
    store = SqliteStore.open(path)
    assert await store.add_delivery("old", "push", BODY)  # forgotten after retention
    await store.close()


async def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "r.sqlite3")
    store = SqliteStore.open(path)
    assert await store.add_delivery("a", "push", BODY)
    await store.close()
    store = SqliteStore.open(path)
    assert [d.body for d in await store.pending()] == [BODY]
    await store.close()


def test_open_store_redis_url() -> None:
    store = open_store("redis://127.0.0.1:6399/0")
    assert isinstance(store, RedisStore)


def test_open_store_rejects_unknown() -> None:
    with pytest.raises(StoreError, match="sqlite:///"):
        open_store("postgres://x")


def test_sqlite_file_not_world_readable_dir(tmp_path: Path) -> None:
    # The directory is created if needed (no chmod surprises on an existing one).
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o700)
    store = SqliteStore.open(str(existing / "x.sqlite3"))
    assert (existing / "x.sqlite3").exists()
    assert oct(existing.stat().st_mode & 0o777) == "0o700"
    asyncio.run(store.close())
