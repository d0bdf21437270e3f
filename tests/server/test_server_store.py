"""The Store contract (a queue with leases), run against SQLite and a real Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.store import (
    CHECK_RUN_TTL_S,
    PULL_FEEDBACK_TTL_S,
    RETENTION_S,
    PullFeedback,
    RepositoryResult,
    Store,
    StoreError,
    open_store,
    owner_is_dead,
)
from bot.store.journal import (
    AddRecord,
    FinishRecord,
    encode_add,
    encode_finish,
    journal_files,
)
from bot.store.redis import RedisStore
from bot.store.sqlite import (
    _DROP_FINISHED_BODIES,
    BODY_GRACE_S,
    SqliteStore,
    insert_rows,
)
from tests.conftest import Clock
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
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")
        s = RedisStore.from_url(url, prefix=prefix)
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


async def test_take_leases_the_oldest_to_one_owner(any_store: Store) -> None:
    assert await any_store.add_delivery("a", "push", BODY)
    assert await any_store.add_delivery("b", "check_suite", b"{}")
    first = await any_store.take("one", 60)
    assert first is not None
    assert (first.delivery_id, first.event, first.body, first.attempts) == (
        "a",
        "push",
        BODY,
        1,
    )
    assert not first.taken_over
    second = await any_store.take("two", 60)
    assert second is not None
    assert (second.delivery_id, second.body) == ("b", b"{}")
    assert await any_store.take("three", 60) is None  # both leased
    assert [d.delivery_id for d in await any_store.pending()] == ["a", "b"]
    assert await any_store.depth() == 2
    await any_store.finish("a")
    await any_store.finish("b", "RuntimeError")
    assert await any_store.take("three", 60) is None  # finished: never redone
    assert await any_store.depth() == 0


async def test_expired_lease_is_taken_over(any_store: Store) -> None:
    assert await any_store.add_delivery("a", "push", BODY)
    # Every consumer of one store uses the same visibility timeout.
    assert await any_store.take("dead-consumer", 0.1) is not None
    assert await any_store.take("other", 0.1) is None
    await asyncio.sleep(0.25)
    got = await any_store.take("other", 0.1)
    assert got is not None
    assert (got.delivery_id, got.body, got.attempts) == ("a", BODY, 2)
    assert got.taken_over
    assert not await any_store.renew("a", "dead-consumer", 0.1)  # lost it
    assert await any_store.renew("a", "other", 0.1)
    await any_store.finish("a")
    await asyncio.sleep(0.25)
    assert await any_store.take("dead-consumer", 0.1) is None


async def test_expired_lease_in_the_database_is_taken_over(tmp_path: Path) -> None:
    store = SqliteStore.open(str(tmp_path / "db.sqlite3"))
    assert await store.add_delivery("a", "push", BODY)
    assert await store.take("dead-consumer", 0.1) is not None
    await store.flush()  # the lease now lives in the row
    await asyncio.sleep(0.25)
    got = await store.take("other", 60)
    assert got is not None
    assert (got.delivery_id, got.body, got.attempts, got.taken_over) == (
        "a",
        BODY,
        2,
        True,
    )
    await store.release("a", "other", 0.0)
    again = await store.take("third", 60)
    assert again is not None
    assert not again.taken_over  # released, not abandoned
    await store.close()


async def test_renewed_lease_is_kept(any_store: Store) -> None:
    assert await any_store.add_delivery("a", "push", BODY)
    assert await any_store.take("one", 0.3) is not None
    for _ in range(4):
        await asyncio.sleep(0.1)
        assert await any_store.renew("a", "one", 0.3)
    assert await any_store.take("two", 0.3) is None
    assert not await any_store.renew("a", "two", 0.3)
    assert not await any_store.renew("unknown", "one", 60)


async def test_release_with_a_delay(any_store: Store) -> None:
    assert await any_store.add_delivery("a", "push", BODY)
    assert await any_store.add_delivery("b", "push", BODY)
    assert (await any_store.take("one", 60)) is not None
    await any_store.release("a", "one", 0.3)
    got = await any_store.take("one", 60)
    assert got is not None
    assert got.delivery_id == "b"  # "a" waits out its delay
    await any_store.release("b", "one", 0.0)  # at once
    again = await any_store.take("two", 60)
    assert again is not None
    assert (again.delivery_id, again.attempts, again.taken_over) == ("b", 2, False)
    assert await any_store.take("two", 60) is None
    await asyncio.sleep(0.4)
    late = await any_store.take("two", 60)
    assert late is not None
    assert (late.delivery_id, late.body, late.attempts) == ("a", BODY, 2)
    assert await any_store.depth() == 2


async def test_release_by_another_owner_is_ignored(any_store: Store) -> None:
    assert await any_store.add_delivery("a", "push", BODY)
    assert await any_store.take("one", 60) is not None
    await any_store.release("a", "intruder", 0.0)
    assert await any_store.take("two", 60) is None


async def test_seen_and_marks(any_store: Store) -> None:
    assert not await any_store.seen("a")
    assert await any_store.add_delivery("a", "push", BODY)
    assert await any_store.seen("a")
    await any_store.finish("a")
    assert await any_store.seen("a")
    assert await any_store.get_mark("recovery") is None
    await any_store.set_mark("recovery", "2026-12-05T09:00:00Z")
    await any_store.set_mark("recovery", "2026-12-05T10:00:00Z")
    assert await any_store.get_mark("recovery") == "2026-12-05T10:00:00Z"


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


async def test_scan_backlog(any_store: Store) -> None:
    items = [(f"scan:1:{n}:t", f"body-{n}".encode()) for n in range(5)]
    assert await any_store.add_scan_items(1, items) == 5
    assert await any_store.add_scan_items(1, items[:2]) == 0  # already there
    assert await any_store.add_scan_items(1, []) == 0
    assert await any_store.add_scan_items(2, [("scan:2:9:t", b"other")]) == 1
    assert await any_store.scan_backlog_size() == 6
    got = await any_store.scan_backlog(3)
    assert got == [(f"scan:1:{n}:t", 1, f"body-{n}".encode()) for n in range(3)]
    await any_store.drop_scan_items(["scan:1:0:t", "scan:1:1:t"])
    await any_store.drop_scan_items([])
    assert [i for i, _, _ in await any_store.scan_backlog(10)] == [
        "scan:1:2:t",
        "scan:1:3:t",
        "scan:1:4:t",
        "scan:2:9:t",
    ]
    assert await any_store.drop_installation_scan(1) == 3
    assert await any_store.scan_backlog(10) == [("scan:2:9:t", 2, b"other")]
    assert await any_store.scan_backlog_size() == 1


async def test_installation_active(any_store: Store) -> None:
    assert await any_store.installation_active(5) is None
    await any_store.set_installation(5, "acme", True)
    assert await any_store.installation_active(5) is True
    await any_store.set_installation(5, "acme", False)
    assert await any_store.installation_active(5) is False


async def test_concurrent_use(any_store: Store) -> None:
    async def one(i: int) -> bool:
        return await any_store.add_delivery(f"c{i % 50}", "push", BODY)

    async def consume(owner: str) -> list[str]:
        got: list[str] = []
        while (d := await any_store.take(owner, 60)) is not None:
            got.append(d.delivery_id)
            await any_store.finish(d.delivery_id)
        return got

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert sum(results) == 50
    taken = await asyncio.gather(*(consume(f"c{n}") for n in range(4)))
    everything = [i for part in taken for i in part]
    assert sorted(everything) == sorted(f"c{i}" for i in range(50))  # once each
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
    clock = Clock()
    store = SqliteStore.open(path, clock=clock)
    assert await store.add_delivery("old", "push", BODY)
    await store.finish("old")
    await store.flush()  # from the journal into the database
    await store.close()
    clock.now += RETENTION_S + 1
    store = SqliteStore.open(path, clock=clock)
    assert await store.add_delivery("old", "push", BODY)  # forgotten after retention
    await store.close()


async def test_sqlite_forgets_while_running_what_redis_lets_expire(
    tmp_path: Path,
) -> None:
    # A prune interval of 0: every pending() prunes (hourly by default).
    clock = Clock()
    store = SqliteStore.open(
        str(tmp_path / "k.sqlite3"), prune_interval_s=0, clock=clock
    )
    assert await store.add_delivery("old", "push", BODY)
    await store.finish("old")
    await store.set_check_run(1, "a" * 40, 10)
    feedback = PullFeedback("at-risk", "digest", "blob")
    await store.set_pull_feedback(1, 7, feedback)
    await store.flush()
    # Past every keeping time (the longest is the feedback's), then the rest.
    assert max(RETENTION_S, CHECK_RUN_TTL_S) < PULL_FEEDBACK_TTL_S
    clock.now += PULL_FEEDBACK_TTL_S + 1
    await store.set_check_run(1, "b" * 40, 11)
    await store.set_pull_feedback(1, 8, feedback)
    await store.flush()
    assert await store.pending() == []
    assert await store.get_check_run(1, "a" * 40) is None
    assert await store.get_check_run(1, "b" * 40) == 11
    assert await store.get_pull_feedback(1, 7) is None
    assert await store.get_pull_feedback(1, 8) == feedback
    assert await store.add_delivery("old", "push", BODY)  # past retention: new
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


KILLED_WRITER = """
import asyncio, os, signal, sys
from bot.store.sqlite import (
    _DROP_FINISHED_BODIES,
    BODY_GRACE_S,
    SqliteStore,
    insert_rows,
)

async def main() -> None:
    store = SqliteStore.open(sys.argv[1])
    body = open(sys.argv[2], "rb").read()
    assert await store.add_delivery("k1", "push", body)
    assert await store.take("dead", 600) is not None  # a lease in memory only
    assert await store.add_delivery("k2", "push", body)
    await store.finish("k2", "boom")
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no move into the database

asyncio.run(main())
"""


async def test_sqlite_journaled_delivery_survives_process_kill(tmp_path: Path) -> None:
    path = str(tmp_path / "k.sqlite3")
    body_file = tmp_path / "body.json"
    body_file.write_bytes(BODY)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KILLED_WRITER, path, str(body_file)
    )
    assert await proc.wait() == -signal.SIGKILL
    assert journal_files(path)  # the kill left the journal behind
    store = SqliteStore.open(path)
    assert journal_files(path) == [(1, Path(path + ".ingress.1"))]
    [d] = await store.pending()
    assert (d.delivery_id, d.event, d.body) == ("k1", "push", BODY)
    # The dead process's lease died with it: taken at once, not after 600 s.
    taken = await store.take("restarted", 60)
    assert taken is not None
    assert taken.delivery_id == "k1"
    # Both ids still dedupe; the finished one keeps its error.
    assert not await store.add_delivery("k1", "push", BODY)
    assert not await store.add_delivery("k2", "push", BODY)
    row = store._conn.execute("SELECT error FROM deliveries WHERE id = 'k2'")
    assert row.fetchone() == ("boom",)
    await store.close()
    assert journal_files(path) == []


def _write(path: str, data: bytes) -> None:
    Path(path).write_bytes(data)


async def test_sqlite_journal_torn_tail_is_ignored(tmp_path: Path) -> None:
    path = str(tmp_path / "t.sqlite3")
    await SqliteStore.open(path).close()  # the schema
    good = b"".join(encode_add(AddRecord("g", "push", None, 1.0, 0.0, BODY)))
    torn = b"".join(encode_add(AddRecord("t", "push", None, 2.0, 0.0, BODY)))[:-10]
    bad_crc = bytearray(encode_finish(FinishRecord("g", 3.0, None)))
    bad_crc[-1] ^= 0xFF
    _write(path + ".ingress.0", good + bytes(bad_crc) + torn)
    _write(path + ".ingress.1", torn)
    store = SqliteStore.open(path)
    assert [d.delivery_id for d in await store.pending()] == ["g"]
    assert await store.add_delivery("t", "push", BODY)  # never acknowledged
    await store.close()


async def test_sqlite_finish_while_moving_is_kept(tmp_path: Path) -> None:
    path = str(tmp_path / "m.sqlite3")
    store = SqliteStore.open(path, threaded=True)
    assert await store.add_delivery("a", "push", BODY)
    assert await store.take("me", 60) is not None
    moving = asyncio.ensure_future(store.flush())
    await asyncio.sleep(0)  # the move has taken "a" as unfinished
    await store.finish("a")
    await moving
    await store.flush()
    row = store._conn.execute("SELECT finished_at IS NOT NULL, owner FROM deliveries")
    assert row.fetchall() == [(1, None)]
    await store.close()
    assert journal_files(path) == []


async def test_sqlite_second_store_on_one_file_writes_directly(tmp_path: Path) -> None:
    path = str(tmp_path / "two.sqlite3")
    first = SqliteStore.open(path)
    second = SqliteStore.open(path)  # the first holds the journal lock
    assert await second.add_delivery("s", "push", BODY)
    assert journal_files(path) == [(0, Path(path + ".ingress.0"))]  # the first's
    assert not await first.add_delivery("s", "push", BODY)  # seen in the database
    assert await first.add_delivery("f", "push", BODY)
    await first.close()
    await second.close()
    third = SqliteStore.open(path)  # the lock is free again
    assert [d.delivery_id for d in await third.pending()] == ["s", "f"]
    await third.close()
    assert journal_files(path) == []


async def test_sqlite_move_of_many_deliveries_in_chunks(tmp_path: Path) -> None:
    # More than one multi-row statement's worth (256 rows), with bodies kept
    # only for the unfinished and a duplicate of a delivery moved earlier.
    path = str(tmp_path / "many.sqlite3")
    store = SqliteStore.open(path, threaded=True)
    assert await store.add_delivery("early", "push", BODY)
    await store.flush()
    ids = [f"d{i:04d}" for i in range(700)]
    for i, delivery_id in enumerate(ids):
        body = BODY + str(i).encode()
        assert await store.add_delivery(delivery_id, "push", body)
        if i % 3 == 0:
            await store.finish(delivery_id, "boom" if i % 2 else None)
    assert not await store.add_delivery("early", "push", BODY)
    await store.flush()
    c = store._conn
    assert c.execute("SELECT count(*) FROM deliveries").fetchone() == (701,)
    finished = c.execute(
        "SELECT id, error FROM deliveries WHERE finished_at IS NOT NULL ORDER BY id"
    ).fetchall()
    assert finished == [(ids[i], "boom" if i % 2 else None) for i in range(0, 700, 3)]
    bodies = dict(c.execute("SELECT id, body FROM bodies").fetchall())
    unfinished = [i for i in range(700) if i % 3]
    assert set(bodies) == {"early"} | {ids[i] for i in unfinished}
    assert all(bodies[ids[i]] == BODY + str(i).encode() for i in unfinished)
    pending = await store.pending(limit=1000)
    assert [d.delivery_id for d in pending] == ["early"] + [ids[i] for i in unfinished]
    await store.close()


def test_insert_rows_chunks_statements() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    sql = "INSERT OR IGNORE INTO t (a, b) VALUES (?, ?)"
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    insert_rows(conn, sql, [(1, "x"), (2, "y"), (1, "z"), (3, None), (4, "w")], 2)
    insert_rows(conn, sql, [], 2)
    assert len([s for s in statements if s.startswith("INSERT")]) == 3
    assert conn.execute("SELECT a, b FROM t ORDER BY a").fetchall() == [
        (1, "x"),
        (2, "y"),
        (3, None),
        (4, "w"),
    ]


async def test_sqlite_body_cleanup_reads_only_the_bodies(tmp_path: Path) -> None:
    path = str(tmp_path / "plan.sqlite3")
    clock = Clock()
    store = SqliteStore.open(path, clock=clock)
    assert await store.add_delivery("done", "push", BODY)
    assert await store.add_delivery("recent", "push", BODY)
    assert await store.add_delivery("open", "push", BODY)
    await store.finish("done")
    await store.flush()
    clock.now += BODY_GRACE_S + 60
    await store.finish("recent")
    await store.flush()
    c = store._conn
    assert [d.delivery_id for d in await store.pending()] == ["open"]
    assert {r[0] for r in c.execute("SELECT id FROM bodies")} == {"recent", "open"}
    # The deliveries table (every id of the last days) is searched by key only.
    plan = c.execute(f"EXPLAIN QUERY PLAN {_DROP_FINISHED_BODIES}", (0.0,)).fetchall()
    details = [row[-1] for row in plan]
    assert any("SCAN bodies" in d for d in details), details
    assert not any("SCAN d" in d or "SCAN deliveries" in d for d in details), details
    await store.close()


def _dead_pid() -> int:
    """Return the id of a process that has exited (and been reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        check=True,
        text=True,
    )
    return int(proc.stdout)


def test_owner_is_dead() -> None:
    host = socket.gethostname()
    assert owner_is_dead(f"{host}:{_dead_pid()}:abcd", host)
    assert not owner_is_dead(f"{host}:{os.getpid()}:abcd", host)  # alive
    assert not owner_is_dead(f"other-host:{_dead_pid()}:abcd", host)  # unknowable
    assert not owner_is_dead("dead-consumer", host)
    assert not owner_is_dead(f"{host}:1:abcd", host)  # init: not ours to signal


async def test_restart_frees_a_dead_local_process_lease(
    any_store: Store, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    dead = f"{socket.gethostname()}:{_dead_pid()}:abcd"
    alive = f"{socket.gethostname()}:{os.getpid()}:abcd"
    assert await any_store.add_delivery("a", "push", BODY)
    assert await any_store.add_delivery("b", "push", BODY)
    assert await any_store.take(dead, 600) is not None
    assert await any_store.take(alive, 600) is not None
    # A new process opens the same store: the dead one's lease is freed.
    again: Store
    if isinstance(any_store, SqliteStore):
        await any_store.flush()
        again = SqliteStore.open(str(tmp_path / "s.sqlite3"))
    else:
        again = RedisStore.from_url(
            request.getfixturevalue("redis_url"),
            prefix=request.getfixturevalue("redis_prefix"),
        )
    got = await again.take("restarted", 600)
    assert got is not None
    assert (got.delivery_id, got.attempts) == ("a", 2)
    assert await again.take("restarted", 600) is None  # "b" is a live one's
    await again.close()


async def test_repository_results_per_installation(any_store: Store) -> None:
    await any_store.set_installation(1, "Acme", True)
    await any_store.add_repositories(1, [(10, "acme/app"), (11, "acme/lib")])
    await any_store.add_repositories(1, [(12, "acme/web")])
    await any_store.add_repositories(2, [(20, "other/x")])
    row = RepositoryResult(
        1,
        10,
        "acme/app",
        "a" * 40,
        "at-risk",
        ("0.2.140",),
        ("x86_64-unknown-linux-musl",),
        "https://github.com/acme/app/runs/5",
        None,
        1_700_000_000.0,
    )
    await any_store.save_repository_result(row)
    await any_store.save_repository_result(
        RepositoryResult(1, 13, "acme/new", "b" * 40, "clean")
    )
    got = await any_store.repository_results(1)
    assert [r.repo for r in got] == ["acme/app", "acme/new"]
    assert got[0] == row
    assert got[1].checked_at > 0  # stamped when not given
    # Known: the three listed plus the one checked without being listed.
    assert await any_store.known_repositories(1) == {
        10: "acme/app",
        11: "acme/lib",
        12: "acme/web",
        13: "acme/new",
    }
    assert await any_store.known_repositories(2) == {20: "other/x"}
    # The fix pull request survives a later check that does not name one.
    await any_store.set_fix_pull(1, 10, 42)
    await any_store.save_repository_result(
        RepositoryResult(1, 10, "acme/app", "c" * 40, "musl-libc-ok")
    )
    (app, _) = await any_store.repository_results(1)
    assert (app.head_sha, app.verdict, app.fix_pull) == ("c" * 40, "musl-libc-ok", 42)
    await any_store.set_fix_pull(1, 99, 7)  # no result yet: nothing to mark
    await any_store.remove_repositories(1, [10, 11])
    assert [r.repo for r in await any_store.repository_results(1)] == ["acme/new"]
    assert await any_store.known_repositories(1) == {12: "acme/web", 13: "acme/new"}
    await any_store.remove_repositories(1, [])
    await any_store.add_repositories(1, [])
    assert await any_store.repository_results(3) == []


async def test_installation_of_an_account(any_store: Store) -> None:
    assert await any_store.installation_of("acme") is None
    await any_store.set_installation(7, "Acme", True)
    assert await any_store.installation_of("ACME") == 7
    await any_store.set_installation(7, "Acme", False)
    assert await any_store.installation_of("acme") is None


async def test_claim_payload_owner_and_window(any_store: Store) -> None:
    # The first delivery carrying a body owns its digest within the window.
    assert await any_store.claim_payload("d1", "a", 600) == "a"
    assert await any_store.claim_payload("d1", "b", 600) == "a"  # a replay
    assert await any_store.claim_payload("d1", "a", 600) == "a"  # GitHub redelivers
    assert await any_store.claim_payload("d2", "b", 600) == "b"  # another body
    # Past the window the digest goes to whoever carries it next.
    assert await any_store.claim_payload("d3", "a", 0.001) == "a"
    await asyncio.sleep(0.01)
    assert await any_store.claim_payload("d3", "c", 0.001) == "c"
