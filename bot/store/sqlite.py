"""SQLite store: one WAL-mode connection shared by the event loop, guarded by a lock."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

from bot.store import RETENTION_S, StoredDelivery, StoredResult

T = TypeVar("T")

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    body BLOB NOT NULL,
    received_at REAL NOT NULL,
    owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    finished_at REAL,
    error TEXT
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
CREATE TABLE IF NOT EXISTS installations (
    id INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    active INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
"""


class SqliteStore:
    """The default store: a local SQLite file in WAL mode.

    Statements are short (single-row writes on primary keys), so they run
    directly on the event loop under a lock; with `threaded=True` they run in
    a worker thread instead (bench/ingress.py measures both).
    """

    def __init__(self, conn: sqlite3.Connection, *, threaded: bool = False) -> None:
        """Wrap an open connection whose schema exists (use `SqliteStore.open`)."""
        self._conn = conn
        self._lock = asyncio.Lock()
        self._threaded = threaded

    @classmethod
    def open(cls, path: str, *, threaded: bool = False) -> SqliteStore:
        """Open (creating directory, file and schema) the database at `path`."""
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a process crash; only an OS
        # crash can lose the last transactions.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.executescript(SCHEMA)
        conn.execute(
            "DELETE FROM deliveries WHERE finished_at IS NOT NULL AND finished_at < ?",
            (time.time() - RETENTION_S,),
        )
        return cls(conn, threaded=threaded)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            if self._threaded:
                return await asyncio.to_thread(fn, self._conn)
            return fn(self._conn)

    async def add_delivery(self, delivery_id: str, event: str, body: bytes) -> bool:
        """Record a delivery; return False if its id was seen before."""

        def q(c: sqlite3.Connection) -> bool:
            cur = c.execute(
                "INSERT OR IGNORE INTO deliveries (id, event, body, received_at) "
                "VALUES (?, ?, ?, ?)",
                (delivery_id, event, body, time.time()),
            )
            return cur.rowcount == 1

        return await self._run(q)

    async def claim(self, delivery_id: str, owner: str, lease_s: float) -> bool:
        """Lease an unfinished delivery to `owner` (see `Store.claim`)."""

        def q(c: sqlite3.Connection) -> bool:
            now = time.time()
            cur = c.execute(
                "UPDATE deliveries SET owner = ?, lease_until = ?,"
                " attempts = attempts + (CASE WHEN ? > 0 THEN 1 ELSE 0 END)"
                " WHERE id = ? AND finished_at IS NULL"
                " AND (owner IS NULL OR owner = ? OR lease_until <= ?)",
                (owner, now + lease_s, lease_s, delivery_id, owner, now),
            )
            return cur.rowcount == 1

        return await self._run(q)

    async def finish(self, delivery_id: str, error: str | None = None) -> None:
        """Mark a delivery done; its body is dropped, its id kept for dedupe."""

        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE deliveries SET finished_at = ?, error = ?, body = x'',"
                " owner = NULL, lease_until = 0 WHERE id = ?",
                (time.time(), error, delivery_id),
            )

        await self._run(q)

    async def pending(self, limit: int = 100) -> list[StoredDelivery]:
        """Return unfinished deliveries whose lease is free or expired."""

        def q(c: sqlite3.Connection) -> list[StoredDelivery]:
            rows = c.execute(
                "SELECT id, event, body, received_at, attempts FROM deliveries"
                " WHERE finished_at IS NULL AND (owner IS NULL OR lease_until <= ?)"
                " ORDER BY received_at LIMIT ?",
                (time.time(), limit),
            ).fetchall()
            return [StoredDelivery(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows]

        return await self._run(q)

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
                (repo_id, head_sha, check_run_id, time.time()),
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
                (repo, installation_id, head_sha, verdict, title, time.time()),
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
                (installation_id, account, int(active), time.time()),
            )

        await self._run(q)

    async def close(self) -> None:
        """Close the connection."""
        async with self._lock:
            self._conn.close()
