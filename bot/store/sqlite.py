"""SQLite store: one WAL-mode connection, written in batches by one worker thread.

A file-backed store records accepted deliveries in an append-only journal next
to the database (bot/store/journal.py) instead of writing each ~30 KB body into
SQLite before the 202: SQLite then wrote every body three times (WAL,
checkpoint, delete), which made the store the cost of ingress. Journaled
deliveries are moved into the database in large transactions shortly after;
those already finished by then need only their small dedupe row, no body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import sqlite3
import time
from asyncio import Future
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from bot.store import (
    CHECK_RUN_TTL_S,
    PAYLOAD_TTL_S,
    PULL_FEEDBACK_TTL_S,
    RETENTION_S,
    PullFeedback,
    RepositoryResult,
    StoredDelivery,
    StoredResult,
    owner_is_dead,
)
from bot.store.journal import (
    AddRecord,
    FinishRecord,
    Journal,
    decode,
    encode_add,
    encode_finish,
    journal_files,
    lock,
)

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Bodies of finished deliveries are dropped once this old, in bulk and outside
# the burst that brought them (see `SqliteStore._maintenance`).
BODY_GRACE_S: Final = 30.0
# Page size of new database files: a typical 10-30 KB webhook body then fills
# one or two overflow pages instead of 3-8 with the 4 KB default, which makes
# writing (and later deleting) it cheaper. Existing files keep theirs.
PAGE_SIZE: Final = 16384
# Journaled deliveries are moved into the database this long after the first
# one waiting, or as soon as the journal file holds MOVE_BYTES.
MOVE_DELAY_S: Final = 0.25
MOVE_BYTES: Final = 16 * 1024 * 1024
# `take` asks the database at least this often, even while the journal has
# deliveries to hand out (see `SqliteStore.take`).
DB_POLL_S: Final = 0.5
# How often a long-running store forgets what is past its keeping time.
PRUNE_INTERVAL_S: Final = 3600.0

_INSERT_DELIVERY: Final = (
    "INSERT OR IGNORE INTO deliveries"
    " (id, event, received_at, owner, lease_until, attempts, finished_at, error)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_BODY: Final = "INSERT OR REPLACE INTO bodies (id, body) VALUES (?, ?)"
# Walks the few rows of `bodies` (one lookup each), never the whole deliveries
# table: with 8 days of ids kept for dedupe, `id IN (SELECT ... FROM
# deliveries ...)` scans every delivery on each call, and the consumers'
# polls run it.
_DROP_FINISHED_BODIES: Final = (
    "DELETE FROM bodies WHERE EXISTS (SELECT 1 FROM deliveries d"
    " WHERE d.id = bodies.id AND d.finished_at < ?)"
)
_FINISH: Final = (
    "UPDATE deliveries SET finished_at = ?, error = ?, owner = NULL, lease_until = 0"
    " WHERE id = ? AND finished_at IS NULL"
)

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    received_at REAL NOT NULL,
    owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    finished_at REAL,
    error TEXT
);
-- Bodies live apart: updating any column of a row rewrites the whole row, and
-- claim/finish must not rewrite a 25 MB payload.
CREATE TABLE IF NOT EXISTS bodies (
    id TEXT PRIMARY KEY,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_unfinished
    ON deliveries (received_at) WHERE finished_at IS NULL;
CREATE TABLE IF NOT EXISTS check_runs (
    repo_id INTEGER NOT NULL,
    head_sha TEXT NOT NULL,
    check_run_id INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (repo_id, head_sha)
);
CREATE TABLE IF NOT EXISTS results (
    repo TEXT PRIMARY KEY,
    installation_id INTEGER NOT NULL,
    head_sha TEXT NOT NULL,
    verdict TEXT NOT NULL,
    title TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_updated ON results (updated_at);
CREATE TABLE IF NOT EXISTS pull_feedback (
    repo_id INTEGER NOT NULL,
    number INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    digest TEXT NOT NULL,
    lock_blob TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (repo_id, number)
);
CREATE TABLE IF NOT EXISTS repository_results (
    installation_id INTEGER NOT NULL,
    repo_id INTEGER NOT NULL,
    repo TEXT NOT NULL,
    head_sha TEXT NOT NULL,
    verdict TEXT NOT NULL,
    libc TEXT NOT NULL,
    targets TEXT NOT NULL,
    check_run_url TEXT NOT NULL,
    fix_pull INTEGER,
    checked_at REAL NOT NULL,
    PRIMARY KEY (installation_id, repo_id)
);
CREATE TABLE IF NOT EXISTS repositories (
    installation_id INTEGER NOT NULL,
    repo_id INTEGER NOT NULL,
    repo TEXT NOT NULL,
    PRIMARY KEY (installation_id, repo_id)
);
-- Which delivery first carried a body (by its signature digest), so the same
-- signed body replayed under a new delivery id is recognised (claim_payload).
CREATE TABLE IF NOT EXISTS payloads (
    digest TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS marks (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Repository scan items waiting for room on the delivery queue (seq: order).
CREATE TABLE IF NOT EXISTS scan_backlog (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    installation_id INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS scan_backlog_installation
    ON scan_backlog (installation_id);
CREATE TABLE IF NOT EXISTS installations (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    active INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
"""


@dataclass(slots=True)
class _Entry:
    """A journaled delivery not yet moved into the database, with its lease.

    Leases live in memory only: a process that dies takes its leases with it,
    so a delivery it had taken is available again when the journal is replayed.
    """

    record: AddRecord
    finished_at: float | None = None
    error: str | None = None
    owner: str | None = None
    lease_until: float = 0.0
    attempts: int = 0

    def row(self) -> tuple[Any, ...]:
        leased = self.owner is not None and self.finished_at is None
        r = self.record
        return (
            r.delivery_id,
            r.event,
            r.received_at,
            self.owner if leased else None,
            self.lease_until if self.finished_at is None else 0.0,
            self.attempts,
            self.finished_at,
            self.error,
        )


def _lease(entry: _Entry, owner: str, until: float) -> _Entry:
    entry.owner, entry.lease_until = owner, until
    entry.attempts += 1
    return entry


class SqliteStore:
    """The default store: a local SQLite file in WAL mode.

    Calls are queued and written in batches, one transaction per batch (group
    commit), in a worker thread so the event loop keeps serving; with
    `threaded=False` batches run on the loop (bench/ingress.py measures both).
    One dedicated thread (not the loop's default pool) runs every batch, so the
    connection is only ever used by one thread at a time.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        threaded: bool = True,
        journal: Journal | None = None,
        reader: sqlite3.Connection | None = None,
        prune_interval_s: float = PRUNE_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Wrap an open connection whose schema exists (use `SqliteStore.open`).

        `clock` gives the wall time (epoch seconds) of every stored time and
        every lease and retention decision (tests pass their own).
        """
        self._conn = conn
        self._clock = clock
        self._prune_interval_s = prune_interval_s
        self._pruned_at = time.monotonic()  # `open` has just pruned
        self._dropped_at = time.monotonic()
        # With a journal, `reader` answers dedupe lookups on the event loop.
        self._journal = journal
        self._reader = reader
        self._entries: dict[str, _Entry] = {}
        # Journaled deliveries in arrival order, for `take` without a query.
        self._ready: deque[str] = deque()
        self._db_checked = 0.0  # monotonic time `take` last queried the database
        self._moving: set[str] = set()
        self._finishes: list[tuple[float, str | None, str]] = []
        self._move_lock = asyncio.Lock()
        self._move_timer: asyncio.TimerHandle | None = None
        self._mover: asyncio.Task[None] | None = None
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
            if threaded
            else None
        )
        self._queue: list[tuple[Callable[[sqlite3.Connection], Any], Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    def open(
        cls,
        path: str,
        *,
        threaded: bool = True,
        prune_interval_s: float = PRUNE_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> SqliteStore:
        """Open (creating directory, file and schema) the database at `path`."""
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # no effect once created
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a process crash; only an OS
        # crash can lose the last transactions.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.executescript(SCHEMA)
        _prune(conn, clock())
        conn.execute(
            "DELETE FROM bodies WHERE id NOT IN"
            " (SELECT id FROM deliveries WHERE finished_at IS NULL)"
        )
        _free_dead_owners(conn)
        lock_fd = None if path == ":memory:" else lock(path)
        if lock_fd is None:  # in memory, or another store holds the journal
            return cls(
                conn, threaded=threaded, prune_interval_s=prune_interval_s, clock=clock
            )
        try:
            seq = _replay(conn, path)
        except BaseException:
            os.close(lock_fd)
            raise
        reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        reader.execute("PRAGMA query_only=1")
        return cls(
            conn,
            threaded=threaded,
            journal=Journal(path, seq, lock_fd),
            reader=reader,
            prune_interval_s=prune_interval_s,
            clock=clock,
        )

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        # Group commit: calls made while a batch is being written are queued
        # and written together in the next transaction, off the event loop.
        future: Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((fn, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                fns = [fn for fn, _ in batch]
                if self._executor is not None:
                    loop = asyncio.get_running_loop()
                    outcomes = await loop.run_in_executor(
                        self._executor, _execute, self._conn, fns
                    )
                else:
                    outcomes = _execute(self._conn, fns)
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._flusher = None

    async def add_delivery(self, delivery_id: str, event: str, body: bytes) -> bool:
        """Record a delivery; False if its id was seen before."""

        def q(c: sqlite3.Connection) -> bool:
            cur = c.execute(
                "INSERT OR IGNORE INTO deliveries (id, event, received_at)"
                " VALUES (?, ?, ?)",
                (delivery_id, event, self._clock()),
            )
            if cur.rowcount != 1:
                return False
            c.execute(_INSERT_BODY, (delivery_id, body))
            return True

        if self._journal is None or self._reader is None:
            return await self._run(q)
        if await self.seen(delivery_id):
            return False
        record = AddRecord(delivery_id, event, None, self._clock(), 0.0, body)
        self._journal.append(*encode_add(record))  # durable from here on
        self._entries[delivery_id] = _Entry(record)
        self._ready.append(delivery_id)
        self._schedule_move()
        return True

    async def seen(self, delivery_id: str) -> bool:
        """Return whether the id was recorded (journaled here, or in the database)."""
        if delivery_id in self._entries:
            return True
        if self._reader is not None:
            found = self._reader.execute(
                "SELECT 1 FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
            return found is not None

        def q(c: sqlite3.Connection) -> bool:
            row = c.execute("SELECT 1 FROM deliveries WHERE id = ?", (delivery_id,))
            return row.fetchone() is not None

        return await self._run(q)

    def _schedule_move(self) -> None:
        if self._journal is None or self._mover is not None:
            return
        if self._journal.size >= MOVE_BYTES:
            self._start_move()
        elif self._move_timer is None:
            loop = asyncio.get_running_loop()
            self._move_timer = loop.call_later(MOVE_DELAY_S, self._start_move)

    def _start_move(self) -> None:
        if self._move_timer is not None:
            self._move_timer.cancel()
            self._move_timer = None
        if self._mover is None:
            self._mover = asyncio.create_task(self._background_move())

    async def _background_move(self) -> None:
        try:
            await self.flush()
        except Exception:
            # The records stay journaled (durable); the next move retries them.
            logger.exception("could not move journaled deliveries into sqlite")
        finally:
            self._mover = None
        if self._entries or self._finishes:
            self._schedule_move()

    async def flush(self) -> None:
        """Move journaled deliveries into the database (also done in the background)."""
        if self._journal is None:
            return
        async with self._move_lock:
            if self._move_timer is not None:
                self._move_timer.cancel()
                self._move_timer = None
            if not self._entries and not self._finishes:
                return
            moving = dict(self._entries)
            finishes, self._finishes = self._finishes, []
            rows = [e.row() for e in moving.values()]
            bodies = [
                (i, e.record.body) for i, e in moving.items() if e.finished_at is None
            ]
            old = self._journal.rotate()
            self._moving = set(moving)

            def q(c: sqlite3.Connection) -> None:
                insert_rows(c, _INSERT_DELIVERY, rows)
                insert_rows(c, _INSERT_BODY, bodies)
                c.executemany(_FINISH, finishes)

            try:
                await self._run(q)
            except BaseException:
                self._finishes[:0] = finishes
                raise
            finally:
                self._moving = set()
            for i in moving:
                self._entries.pop(i, None)
            self._journal.remove_upto(old)

    def _take_journaled(self, owner: str, visibility_s: float) -> _Entry | None:
        now = self._clock()
        while self._ready:
            delivery_id = self._ready.popleft()
            entry = self._entries.get(delivery_id)
            # Moved (or being moved) into the database: taken from there.
            if entry is None or delivery_id in self._moving:
                continue
            if entry.finished_at is None and entry.lease_until <= now:
                return _lease(entry, owner, now + visibility_s)
        return None

    def _take_expired(
        self, owner: str, visibility_s: float
    ) -> tuple[_Entry, str | None] | None:
        # A journaled delivery whose lease (or release delay) ran out before
        # its move into the database: rare, so a scan of the few journaled.
        now = self._clock()
        for delivery_id, entry in self._entries.items():
            if (
                entry.finished_at is None
                and entry.lease_until <= now
                and delivery_id not in self._moving
            ):
                previous = entry.owner  # None: released, not abandoned
                return _lease(entry, owner, now + visibility_s), previous
        return None

    async def take(self, owner: str, visibility_s: float) -> StoredDelivery | None:
        """Lease the oldest available delivery to `owner` (see `Store.take`).

        Deliveries still in the journal are taken from memory, without a
        query; the database (deliveries from before a restart, released or
        left by a dead consumer) is asked when memory has none, and at least
        every DB_POLL_S so those are not starved by a steady stream.
        """
        entry = self._take_journaled(owner, visibility_s)
        if entry is not None:
            r = entry.record
            if time.monotonic() - self._db_checked < DB_POLL_S:
                return StoredDelivery(
                    r.delivery_id, r.event, r.body, r.received_at, entry.attempts
                )
            # Give this one back for a moment: the database goes first now.
            entry.owner, entry.lease_until = None, 0.0
            entry.attempts -= 1
            self._ready.appendleft(r.delivery_id)
        self._db_checked = time.monotonic()
        maintain = self._maintenance(force=False)

        def q(c: sqlite3.Connection) -> StoredDelivery | None:
            maintain(c)
            now = self._clock()
            found = c.execute(
                "SELECT id, owner FROM deliveries"
                " WHERE finished_at IS NULL AND lease_until <= ?"
                " ORDER BY received_at LIMIT 1",
                (now,),
            ).fetchone()
            if found is None:
                return None
            row = c.execute(
                "UPDATE deliveries SET owner = ?, lease_until = ?,"
                " attempts = attempts + 1 WHERE id = ?"
                " RETURNING event, received_at, attempts",
                (owner, now + visibility_s, found[0]),
            ).fetchone()
            body = c.execute("SELECT body FROM bodies WHERE id = ?", (found[0],))
            data = body.fetchone()
            return StoredDelivery(
                found[0],
                row[0],
                bytes(data[0]) if data else b"",
                row[1],
                row[2],
                # An owner left on a free row: its lease ran out.
                taken_over=found[1] is not None,
            )

        got = await self._run(q)
        if got is not None:
            return got
        previous = None
        entry = self._take_journaled(owner, visibility_s)
        if entry is None:
            found = self._take_expired(owner, visibility_s)
            if found is None:
                return None
            entry, previous = found
        r = entry.record
        return StoredDelivery(
            r.delivery_id,
            r.event,
            r.body,
            r.received_at,
            entry.attempts,
            taken_over=previous is not None,
        )

    async def _settled(self, delivery_id: str) -> _Entry | None:
        """Return the journaled entry of `delivery_id`, once no move holds it."""
        if delivery_id in self._moving:
            async with self._move_lock:  # the move ends: the row is in the database
                pass
        return self._entries.get(delivery_id)

    async def renew(self, delivery_id: str, owner: str, visibility_s: float) -> bool:
        """Extend `owner`'s lease (see `Store.renew`)."""
        entry = await self._settled(delivery_id)
        if entry is not None:
            if entry.owner != owner or entry.finished_at is not None:
                return False
            entry.lease_until = self._clock() + visibility_s
            return True

        def q(c: sqlite3.Connection) -> bool:
            cur = c.execute(
                "UPDATE deliveries SET lease_until = ?"
                " WHERE id = ? AND owner = ? AND finished_at IS NULL",
                (self._clock() + visibility_s, delivery_id, owner),
            )
            return cur.rowcount == 1

        return await self._run(q)

    async def release(self, delivery_id: str, owner: str, delay_s: float) -> None:
        """Give `owner`'s lease back (see `Store.release`)."""
        entry = await self._settled(delivery_id)
        if entry is not None:
            if entry.owner == owner and entry.finished_at is None:
                entry.owner, entry.lease_until = None, self._clock() + delay_s
                if delay_s <= 0:
                    self._ready.appendleft(delivery_id)
            return

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE deliveries SET owner = NULL, lease_until = ?"
                " WHERE id = ? AND owner = ? AND finished_at IS NULL",
                (self._clock() + delay_s, delivery_id, owner),
            )

        await self._run(q)

    async def finish(self, delivery_id: str, error: str | None = None) -> None:
        """Mark a delivery done; its id is kept for dedupe, its body dropped later."""

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE deliveries SET finished_at = ?, error = ?,"
                " owner = NULL, lease_until = 0 WHERE id = ?",
                (self._clock(), error, delivery_id),
            )
            # Deleting a big blob costs as much as writing it: bodies of
            # finished deliveries are dropped in bulk by `pending()` instead.

        entry = self._entries.get(delivery_id)
        if entry is None or self._journal is None:
            await self._run(q)
            return
        now = self._clock()
        self._journal.append(encode_finish(FinishRecord(delivery_id, now, error)))
        entry.finished_at, entry.error = now, error
        if delivery_id in self._moving:  # moved as unfinished: update it next time
            self._finishes.append((now, error, delivery_id))
            self._schedule_move()

    async def pending(self, limit: int = 100) -> list[StoredDelivery]:
        """Return unfinished deliveries (leased or not), oldest first."""

        maintain = self._maintenance(force=True)

        def q(c: sqlite3.Connection) -> list[StoredDelivery]:
            maintain(c)
            rows = c.execute(
                "SELECT d.id, d.event, b.body, d.received_at, d.attempts"
                " FROM deliveries d JOIN bodies b ON b.id = d.id"
                " WHERE d.finished_at IS NULL"
                " ORDER BY d.received_at LIMIT ?",
                (limit,),
            ).fetchall()
            return [StoredDelivery(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows]

        await self.flush()
        return await self._run(q)

    async def claim_payload(
        self, digest: str, delivery_id: str, window_s: float
    ) -> str:
        """Tie body `digest` to `delivery_id` (see `Store.claim_payload`)."""

        def q(c: sqlite3.Connection) -> str:
            now = time.time()
            # Take the digest if it is new or its owner's window has passed.
            c.execute(
                "INSERT INTO payloads (digest, delivery_id, seen_at) VALUES (?, ?, ?)"
                " ON CONFLICT (digest) DO UPDATE SET delivery_id ="
                " excluded.delivery_id, seen_at = excluded.seen_at"
                " WHERE payloads.seen_at < ?",
                (digest, delivery_id, now, now - window_s),
            )
            row = c.execute(
                "SELECT delivery_id FROM payloads WHERE digest = ?", (digest,)
            ).fetchone()
            return str(row[0])

        return await self._run(q)

    def _maintenance(self, *, force: bool) -> Callable[[sqlite3.Connection], None]:
        """Return what is due of the upkeep, to run inside the next transaction.

        Finished deliveries' bodies are dropped in bulk (at most every
        BODY_GRACE_S from `take`), expired rows pruned hourly.
        """
        now = time.monotonic()
        prune = now - self._pruned_at >= self._prune_interval_s
        drop = force or now - self._dropped_at >= BODY_GRACE_S
        if prune:
            self._pruned_at = now
        if drop:
            self._dropped_at = now

        def run(c: sqlite3.Connection) -> None:
            if prune:
                _prune(c, self._clock())
            if drop:
                c.execute(_DROP_FINISHED_BODIES, (self._clock() - BODY_GRACE_S,))

        return run

    async def depth(self) -> int:
        """Return how many deliveries are unfinished."""

        def q(c: sqlite3.Connection) -> int:
            row = c.execute(
                "SELECT count(*) FROM deliveries WHERE finished_at IS NULL"
            ).fetchone()
            return int(row[0])

        # Under the move lock no row is both journaled and in the database.
        async with self._move_lock:
            journaled = sum(1 for e in self._entries.values() if e.finished_at is None)
            return journaled + await self._run(q)

    async def get_mark(self, name: str) -> str | None:
        """Return the named value, if set."""

        def q(c: sqlite3.Connection) -> str | None:
            row = c.execute("SELECT value FROM marks WHERE name = ?", (name,))
            found = row.fetchone()
            return None if found is None else str(found[0])

        return await self._run(q)

    async def set_mark(self, name: str, value: str) -> None:
        """Record the named value."""

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO marks (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

        await self._run(q)

    async def get_check_run(self, repo_id: int, head_sha: str) -> int | None:
        """Return the check run id recorded for (repo, head_sha), if any."""

        def q(c: sqlite3.Connection) -> int | None:
            row = c.execute(
                "SELECT check_run_id FROM check_runs"
                " WHERE repo_id = ? AND head_sha = ?",
                (repo_id, head_sha),
            ).fetchone()
            return None if row is None else int(row[0])

        return await self._run(q)

    async def set_check_run(
        self, repo_id: int, head_sha: str, check_run_id: int
    ) -> None:
        """Record the check run id for (repo, head_sha)."""

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO check_runs (repo_id, head_sha, check_run_id, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (repo_id, head_sha) DO UPDATE SET"
                " check_run_id = excluded.check_run_id,"
                " updated_at = excluded.updated_at",
                (repo_id, head_sha, check_run_id, self._clock()),
            )

        await self._run(q)

    async def save_result(
        self, installation_id: int, repo: str, head_sha: str, verdict: str, title: str
    ) -> None:
        """Record the latest verdict for a repository."""

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO results"
                " (repo, installation_id, head_sha, verdict, title, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (repo) DO UPDATE SET"
                " installation_id = excluded.installation_id,"
                " head_sha = excluded.head_sha, verdict = excluded.verdict,"
                " title = excluded.title, updated_at = excluded.updated_at",
                (repo, installation_id, head_sha, verdict, title, self._clock()),
            )

        await self._run(q)

    async def results(self, limit: int = 200) -> list[StoredResult]:
        """Return the latest result per repository of active installations."""

        def q(c: sqlite3.Connection) -> list[StoredResult]:
            rows = c.execute(
                "SELECT installation_id, repo, head_sha, verdict, title, updated_at"
                " FROM results WHERE installation_id NOT IN"
                " (SELECT id FROM installations WHERE active = 0)"
                " ORDER BY updated_at DESC, repo LIMIT ?",
                (limit,),
            ).fetchall()
            return [StoredResult(*r) for r in rows]

        return await self._run(q)

    async def set_installation(
        self, installation_id: int, account: str, active: bool
    ) -> None:
        """Record an installation; results of inactive ones are hidden."""

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO installations (id, account, active, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " account = excluded.account, active = excluded.active,"
                " updated_at = excluded.updated_at",
                (installation_id, account, int(active), self._clock()),
            )

        await self._run(q)

    async def add_scan_items(
        self, installation_id: int, items: Sequence[tuple[str, bytes]]
    ) -> int:
        """Add items to the scan backlog (ids already there are ignored)."""
        rows = [(item_id, installation_id, body) for item_id, body in items]

        def q(c: sqlite3.Connection) -> int:
            before = c.total_changes
            c.executemany(
                "INSERT OR IGNORE INTO scan_backlog (id, installation_id, body)"
                " VALUES (?, ?, ?)",
                rows,
            )
            return c.total_changes - before

        return await self._run(q)

    async def scan_backlog(self, limit: int) -> list[tuple[str, int, bytes]]:
        """Return the oldest backlog items."""

        def q(c: sqlite3.Connection) -> list[tuple[str, int, bytes]]:
            rows = c.execute(
                "SELECT id, installation_id, body FROM scan_backlog"
                " ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            return [(r[0], r[1], bytes(r[2])) for r in rows]

        return await self._run(q)

    async def drop_scan_items(self, item_ids: Sequence[str]) -> None:
        """Remove items from the scan backlog."""
        ids = [(i,) for i in item_ids]

        def q(c: sqlite3.Connection) -> None:
            c.executemany("DELETE FROM scan_backlog WHERE id = ?", ids)

        await self._run(q)

    async def drop_installation_scan(self, installation_id: int) -> int:
        """Remove an installation's backlog items."""

        def q(c: sqlite3.Connection) -> int:
            cur = c.execute(
                "DELETE FROM scan_backlog WHERE installation_id = ?",
                (installation_id,),
            )
            return cur.rowcount

        return await self._run(q)

    async def scan_backlog_size(self) -> int:
        """Return how many items wait in the scan backlog."""

        def q(c: sqlite3.Connection) -> int:
            return int(c.execute("SELECT COUNT(*) FROM scan_backlog").fetchone()[0])

        return await self._run(q)

    async def installation_active(self, installation_id: int) -> bool | None:
        """Return whether the installation is active (None: never recorded)."""

        def q(c: sqlite3.Connection) -> bool | None:
            row = c.execute(
                "SELECT active FROM installations WHERE id = ?", (installation_id,)
            ).fetchone()
            return None if row is None else bool(row[0])

        return await self._run(q)

    async def get_pull_feedback(self, repo_id: int, number: int) -> PullFeedback | None:
        """Return what was last posted on pull request `number`, if anything."""

        def q(c: sqlite3.Connection) -> PullFeedback | None:
            row = c.execute(
                "SELECT verdict, digest, lock_blob FROM pull_feedback"
                " WHERE repo_id = ? AND number = ?",
                (repo_id, number),
            ).fetchone()
            return None if row is None else PullFeedback(*row)

        return await self._run(q)

    async def set_pull_feedback(
        self, repo_id: int, number: int, feedback: PullFeedback
    ) -> None:
        """Record what was just posted on pull request `number`."""

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO pull_feedback"
                " (repo_id, number, verdict, digest, lock_blob, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (repo_id, number) DO UPDATE"
                " SET verdict = excluded.verdict, digest = excluded.digest,"
                " lock_blob = excluded.lock_blob, updated_at = excluded.updated_at",
                (
                    repo_id,
                    number,
                    feedback.verdict,
                    feedback.digest,
                    feedback.lock_blob,
                    self._clock(),
                ),
            )

        await self._run(q)

    async def save_repository_result(self, result: RepositoryResult) -> None:
        """Record a repository's latest default-branch result (keeps its fix PR)."""
        r = result

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO repository_results (installation_id, repo_id, repo,"
                " head_sha, verdict, libc, targets, check_run_url, fix_pull,"
                " checked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (installation_id, repo_id) DO UPDATE SET"
                " repo = excluded.repo, head_sha = excluded.head_sha,"
                " verdict = excluded.verdict, libc = excluded.libc,"
                " targets = excluded.targets, check_run_url = excluded.check_run_url,"
                " fix_pull = COALESCE(excluded.fix_pull, fix_pull),"
                " checked_at = excluded.checked_at",
                (
                    r.installation_id,
                    r.repo_id,
                    r.repo,
                    r.head_sha,
                    r.verdict,
                    json.dumps(list(r.libc)),
                    json.dumps(list(r.targets)),
                    r.check_run_url,
                    r.fix_pull,
                    r.checked_at or time.time(),
                ),
            )

        await self._run(q)

    async def set_fix_pull(
        self, installation_id: int, repo_id: int, number: int | None
    ) -> None:
        """Record the fix pull request opened for a repository (None: none)."""

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE repository_results SET fix_pull = ?"
                " WHERE installation_id = ? AND repo_id = ?",
                (number, installation_id, repo_id),
            )

        await self._run(q)

    async def repository_results(self, installation_id: int) -> list[RepositoryResult]:
        """Return every repository result of the installation, by name."""

        def q(c: sqlite3.Connection) -> list[RepositoryResult]:
            rows = c.execute(
                "SELECT installation_id, repo_id, repo, head_sha, verdict, libc,"
                " targets, check_run_url, fix_pull, checked_at"
                " FROM repository_results WHERE installation_id = ? ORDER BY repo",
                (installation_id,),
            ).fetchall()
            return [
                RepositoryResult(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    tuple(json.loads(r[5])),
                    tuple(json.loads(r[6])),
                    r[7],
                    r[8],
                    r[9],
                )
                for r in rows
            ]

        return await self._run(q)

    async def add_repositories(
        self, installation_id: int, repos: Sequence[tuple[int, str]]
    ) -> None:
        """Record repositories (id, owner/name) the installation can see."""

        def q(c: sqlite3.Connection) -> None:
            c.executemany(
                "INSERT INTO repositories (installation_id, repo_id, repo)"
                " VALUES (?, ?, ?) ON CONFLICT (installation_id, repo_id)"
                " DO UPDATE SET repo = excluded.repo",
                [(installation_id, i, name) for i, name in repos],
            )

        await self._run(q)

    async def remove_repositories(
        self, installation_id: int, repo_ids: Sequence[int]
    ) -> None:
        """Forget repositories the installation lost, with their results."""

        def q(c: sqlite3.Connection) -> None:
            rows = [(installation_id, i) for i in repo_ids]
            for table in ("repositories", "repository_results"):
                c.executemany(
                    f"DELETE FROM {table} WHERE installation_id = ? AND repo_id = ?",  # noqa: S608 - fixed table names
                    rows,
                )

        await self._run(q)

    async def known_repositories(self, installation_id: int) -> dict[int, str]:
        """Return the repositories (id -> owner/name) the installation sees."""

        def q(c: sqlite3.Connection) -> dict[int, str]:
            rows = c.execute(
                "SELECT repo_id, repo FROM repositories WHERE installation_id = ?"
                " UNION SELECT repo_id, repo FROM repository_results"
                " WHERE installation_id = ?",
                (installation_id, installation_id),
            ).fetchall()
            return {int(r[0]): str(r[1]) for r in rows}

        return await self._run(q)

    async def installation_of(self, account: str) -> int | None:
        """Return the active installation of an account (case-insensitive)."""

        def q(c: sqlite3.Connection) -> int | None:
            row = c.execute(
                "SELECT id FROM installations WHERE account = ? COLLATE NOCASE"
                " AND active = 1 ORDER BY updated_at DESC LIMIT 1",
                (account,),
            ).fetchone()
            return None if row is None else int(row[0])

        return await self._run(q)

    async def close(self) -> None:
        """Write what is queued, then close the connection."""
        if self._journal is not None:
            with contextlib.suppress(Exception):  # left journaled: replayed on open
                await self.flush()
            if self._mover is not None:
                await asyncio.wait([self._mover])
            if self._move_timer is not None:
                self._move_timer.cancel()
            self._journal.close()
            if not self._entries and not self._finishes:
                self._journal.remove_upto(self._journal.seq)
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._reader is not None:
            self._reader.close()
        self._conn.close()


def _prune(c: sqlite3.Connection, now: float) -> None:
    """Forget what is past its keeping time (what Redis does with key TTLs)."""
    c.execute(
        "DELETE FROM deliveries WHERE finished_at IS NOT NULL AND finished_at < ?",
        (now - RETENTION_S,),
    )
    c.execute("DELETE FROM check_runs WHERE updated_at < ?", (now - CHECK_RUN_TTL_S,))
    c.execute("DELETE FROM payloads WHERE seen_at < ?", (now - PAYLOAD_TTL_S,))
    c.execute(
        "DELETE FROM pull_feedback WHERE updated_at < ?", (now - PULL_FEEDBACK_TTL_S,)
    )


def _free_dead_owners(conn: sqlite3.Connection) -> None:
    """Release the leases of processes that died: a restart resumes their work now.

    Without this a killed instance's deliveries wait out their visibility
    timeout after a restart.
    """
    host = socket.gethostname()
    owners = conn.execute(
        "SELECT DISTINCT owner FROM deliveries"
        " WHERE owner IS NOT NULL AND finished_at IS NULL"
    ).fetchall()
    for (owner,) in owners:
        if owner_is_dead(owner, host):
            conn.execute(
                "UPDATE deliveries SET owner = NULL, lease_until = 0"
                " WHERE owner = ? AND finished_at IS NULL",
                (owner,),
            )


def _replay(conn: sqlite3.Connection, path: str) -> int:
    """Apply journal files left by an earlier process; return the next file number."""
    files = journal_files(path)
    if not files:
        return 0
    conn.execute("BEGIN IMMEDIATE")
    for _, file in files:
        for r in decode(file.read_bytes()):
            if isinstance(r, AddRecord):
                if conn.execute(_INSERT_DELIVERY, _Entry(r).row()).rowcount == 1:
                    conn.execute(_INSERT_BODY, (r.delivery_id, r.body))
            else:
                conn.execute(_FINISH, (r.finished_at, r.error, r.delivery_id))
    conn.execute("COMMIT")
    for _, file in files:
        file.unlink()
    return files[-1][0] + 1


def insert_rows(
    c: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]], chunk: int = 256
) -> None:
    """Run the one-row INSERT `sql` for every row, `chunk` rows per statement.

    `executemany` steps once per row, and the sqlite3 module lets go of the GIL
    at every step: from the store's thread that was one GIL hand-over per moved
    delivery, each making the event loop wait. One multi-row statement per
    chunk hands over once per chunk (256 rows x 8 columns stays well inside
    SQLite's 32766 bound parameters).
    """
    head, values = sql.split(" VALUES ")
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        c.execute(
            f"{head} VALUES {','.join([values] * len(part))}",
            [value for row in part for value in row],
        )


def _execute(
    conn: sqlite3.Connection, fns: list[Callable[[sqlite3.Connection], Any]]
) -> list[tuple[bool, Any]]:
    """Run `fns` in one transaction; return (ok, result or exception) for each."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        return [(False, exc)] * len(fns)
    outcomes: list[tuple[bool, Any]] = []
    for fn in fns:
        # A failed statement is rolled back by SQLite on its own; the others stay.
        try:
            outcomes.append((True, fn(conn)))
        except Exception as exc:
            outcomes.append((False, exc))
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK")
        return [(False, exc)] * len(fns)
    return outcomes
