"""Redis store: deliveries on a Redis Stream read by a consumer group.

The queue is Redis's own: `XADD` records a delivery, `XREADGROUP` hands it to
one consumer, `XACK` acknowledges it, and `XAUTOCLAIM` gives an entry whose
consumer stopped renewing it (its idle time passed the visibility timeout) to
the next consumer that asks (https://redis.io/docs/latest/develop/data-types/streams/).
A delivery released with a delay waits in a sorted set until a Lua script
moves it back onto the stream, atomically.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Sequence
from typing import Any, Final

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ResponseError

from bot.store import (
    CHECK_RUN_TTL_S,
    PULL_FEEDBACK_TTL_S,
    RETENTION_S,
    PullFeedback,
    RepositoryResult,
    StoredDelivery,
    StoredResult,
    owner_is_dead,
)

GROUP: Final = "workers"
MAX_CONNECTIONS: Final = 64
# Entries claimed per XAUTOCLAIM call: one, as a claimed entry's idle time
# starts again (Redis scans up to ten times this many pending entries).
AUTOCLAIM_COUNT: Final = 1
# Delayed deliveries moved back onto the stream per call.
PROMOTE_BATCH: Final = 100
_PROMOTE: Final = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('XADD', KEYS[2], '*', 'id', id)
end
return #ids
"""


# Records a delivery and queues it in one step, only if its id is new: a
# process killed half-way cannot leave an id marked seen but never queued.
_ADD: Final = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[2], 'event', ARGV[2], 'body', ARGV[3],
           'received_at', ARGV[4], 'attempts', 0)
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[5])
redis.call('XADD', KEYS[4], '*', 'id', ARGV[5])
return 1
"""
# Puts a dead consumer's entry back on the stream as a new entry, once: only
# the caller whose XACK removed it from the pending list adds it again.
_REQUEUE: Final = """
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 1 then
  redis.call('XDEL', KEYS[1], ARGV[2])
  redis.call('XADD', KEYS[1], '*', 'id', ARGV[3])
end
return acked
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    """Keys under one prefix; deliveries on one stream, read by one consumer group."""

    def __init__(self, client: Redis, *, prefix: str = "musl-check:") -> None:
        """Wrap a redis.asyncio client (decode_responses must be False)."""
        self._r = client
        self._p = prefix
        self._stream = self._k("stream")
        self._group_ready = False
        self._add = client.register_script(_ADD)
        self._promote = client.register_script(_PROMOTE)
        self._requeue = client.register_script(_REQUEUE)
        # Stream entry of each delivery this process holds, for XACK.
        self._entry_ids: dict[str, str] = {}
        self._autoclaim_from = "0-0"

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "musl-check:") -> RedisStore:
        """Connect lazily to the server at `url`.

        A blocking pool: a burst waits for a free connection instead of
        failing with "Too many connections".
        """
        pool = BlockingConnectionPool.from_url(url, max_connections=MAX_CONNECTIONS)
        return cls(Redis.from_pool(pool), prefix=prefix)  # owns the pool

    def _k(self, *parts: object) -> str:
        return self._p + ":".join(str(p) for p in parts)

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            # From the start of the stream: entries added before the group
            # existed are delivered too.
            await self._r.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        await self._requeue_dead_local()
        self._group_ready = True

    async def _requeue_dead_local(self) -> None:
        """Put back the entries of consumers of this machine whose process died."""
        host = socket.gethostname()
        consumers: Any = await self._r.xinfo_consumers(self._stream, GROUP)
        for consumer in consumers:
            name = _text(consumer["name"])
            if not owner_is_dead(name, host):
                continue
            while pending := await self._r.xpending_range(
                self._stream, GROUP, min="-", max="+", count=100, consumername=name
            ):
                for item in pending:
                    entry_id = _text(item["message_id"])
                    found: Any = await self._r.xrange(self._stream, entry_id, entry_id)
                    if not found:  # deleted meanwhile: just drop it
                        await self._r.xack(self._stream, GROUP, entry_id)
                        continue
                    delivery_id = _text(found[0][1][b"id"])
                    await self._requeue(
                        keys=[self._stream], args=[GROUP, entry_id, delivery_id]
                    )
            await self._r.xgroup_delconsumer(self._stream, GROUP, name)

    async def add_delivery(self, delivery_id: str, event: str, body: bytes) -> bool:
        """Record a delivery and put it on the stream; False if seen before."""
        added = await self._add(
            keys=[
                self._k("seen", delivery_id),
                self._k("delivery", delivery_id),
                self._k("pending"),
                self._stream,
            ],
            args=[int(RETENTION_S), event, body, time.time(), delivery_id],
        )
        return bool(added)

    async def seen(self, delivery_id: str) -> bool:
        """Return whether the id was recorded (within the retention time)."""
        return bool(await self._r.exists(self._k("seen", delivery_id)))

    async def take(self, owner: str, visibility_s: float) -> StoredDelivery | None:
        """Lease the next delivery to consumer `owner` (see `Store.take`).

        First an entry a dead consumer left (idle longer than the visibility
        timeout), then a new one; finished deliveries met on the way are
        acknowledged and skipped.
        """
        await self._ensure_group()
        await self._promote(
            keys=[self._k("delayed"), self._stream], args=[time.time(), PROMOTE_BATCH]
        )
        while True:
            entry = await self._next_entry(owner, visibility_s)
            if entry is None:
                return None
            entry_id, delivery_id, taken_over = entry
            got = await self._load(delivery_id, taken_over=taken_over)
            if got is None:  # finished (or forgotten): drop the stale entry
                await self._ack(entry_id)
                continue
            self._entry_ids[delivery_id] = entry_id
            return got

    async def _next_entry(
        self, owner: str, visibility_s: float
    ) -> tuple[str, str, bool] | None:
        idle_ms = max(1, int(visibility_s * 1000))
        reply: Any = await self._r.xautoclaim(
            self._stream,
            GROUP,
            owner,
            idle_ms,
            start_id=self._autoclaim_from,
            count=AUTOCLAIM_COUNT,
        )
        self._autoclaim_from = _text(reply[0])
        for entry_id, fields in reply[1]:
            if fields:  # None: the entry was deleted meanwhile
                return _text(entry_id), _text(fields[b"id"]), True
        read: Any = await self._r.xreadgroup(GROUP, owner, {self._stream: ">"}, count=1)
        for _, entries in read or ():
            for entry_id, fields in entries:
                return _text(entry_id), _text(fields[b"id"]), False
        return None

    async def _load(
        self, delivery_id: str, *, taken_over: bool
    ) -> StoredDelivery | None:
        key = self._k("delivery", delivery_id)
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.exists(self._k("done", delivery_id))
            pipe.hincrby(key, "attempts", 1)
            pipe.hgetall(key)
            done, attempts, h = await pipe.execute()
        if done or b"event" not in h:
            await self._r.delete(key)  # HINCRBY made a stub of a missing hash
            return None
        return StoredDelivery(
            delivery_id=delivery_id,
            event=_text(h[b"event"]),
            body=h[b"body"] if isinstance(h[b"body"], bytes) else b"",
            received_at=float(h[b"received_at"]),
            attempts=int(attempts),
            taken_over=taken_over,
        )

    async def _ack(self, entry_id: str) -> None:
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.xack(self._stream, GROUP, entry_id)
            pipe.xdel(self._stream, entry_id)
            await pipe.execute()

    async def renew(self, delivery_id: str, owner: str, visibility_s: float) -> bool:
        """Reset the idle time of `owner`'s entry; False if another consumer has it."""
        entry_id = self._entry_ids.get(delivery_id)
        if entry_id is None or not await self._holds(entry_id, owner):
            return False
        # XCLAIM by the holder itself resets the entry's idle time.
        await self._r.xclaim(self._stream, GROUP, owner, 0, [entry_id], justid=True)
        return True

    async def _holds(self, entry_id: str, owner: str) -> bool:
        info: Any = await self._r.xpending_range(
            self._stream, GROUP, min=entry_id, max=entry_id, count=1
        )
        return bool(info) and _text(info[0]["consumer"]) == owner

    async def release(self, delivery_id: str, owner: str, delay_s: float) -> None:
        """Acknowledge `owner`'s entry and queue the delivery again after `delay_s`."""
        entry_id = self._entry_ids.get(delivery_id)
        if entry_id is None or not await self._holds(entry_id, owner):
            return  # not (or no longer) `owner`'s to give back
        del self._entry_ids[delivery_id]
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.xack(self._stream, GROUP, entry_id)
            pipe.xdel(self._stream, entry_id)
            if delay_s <= 0:
                pipe.xadd(self._stream, {"id": delivery_id})
            else:
                pipe.zadd(self._k("delayed"), {delivery_id: time.time() + delay_s})
            await pipe.execute()

    async def finish(self, delivery_id: str, error: str | None = None) -> None:
        """Acknowledge a delivery; its body is dropped, its id kept for dedupe."""
        entry_id = self._entry_ids.pop(delivery_id, None)
        async with self._r.pipeline(transaction=True) as pipe:
            if entry_id is not None:
                pipe.xack(self._stream, GROUP, entry_id)
                pipe.xdel(self._stream, entry_id)
            pipe.zrem(self._k("pending"), delivery_id)
            pipe.zrem(self._k("delayed"), delivery_id)
            pipe.delete(self._k("delivery", delivery_id))
            pipe.set(
                self._k("done", delivery_id),
                (error or "").encode(),
                ex=int(RETENTION_S),
            )
            await pipe.execute()

    async def pending(self, limit: int = 100) -> list[StoredDelivery]:
        """Return unfinished deliveries (leased or not), oldest first."""
        ids = [_text(i) for i in await self._r.zrange(self._k("pending"), 0, limit - 1)]
        async with self._r.pipeline(transaction=False) as pipe:
            for delivery_id in ids:
                pipe.hgetall(self._k("delivery", delivery_id))
            fields = await pipe.execute()
        out: list[StoredDelivery] = []
        for delivery_id, h in zip(ids, fields, strict=True):
            if not h:
                continue
            out.append(
                StoredDelivery(
                    delivery_id=delivery_id,
                    event=_text(h[b"event"]),
                    body=h[b"body"] if isinstance(h[b"body"], bytes) else b"",
                    received_at=float(h[b"received_at"]),
                    attempts=int(h[b"attempts"]),
                )
            )
        return out

    async def claim_payload(
        self, digest: str, delivery_id: str, window_s: float
    ) -> str:
        """Tie body `digest` to `delivery_id` (see `Store.claim_payload`)."""
        key = self._k("payload", digest)
        ms = max(1, int(window_s * 1000))
        if await self._r.set(key, delivery_id.encode(), nx=True, px=ms):
            return delivery_id
        owner = await self._r.get(key)
        # Expired between the two calls: nobody owns it within the window now.
        return delivery_id if owner is None else _text(owner)

    async def depth(self) -> int:
        """Return how many deliveries are unfinished."""
        return int(await self._r.zcard(self._k("pending")))

    async def get_mark(self, name: str) -> str | None:
        """Return the named value, if set."""
        value = await self._r.hget(self._k("marks"), name)
        return None if value is None else _text(value)

    async def set_mark(self, name: str, value: str) -> None:
        """Record the named value."""
        await self._r.hset(self._k("marks"), name, value)

    async def get_check_run(self, repo_id: int, head_sha: str) -> int | None:
        """Return the check run id recorded for (repo, head_sha), if any."""
        value = await self._r.get(self._k("check_run", repo_id, head_sha))
        return None if value is None else int(value)

    async def set_check_run(
        self, repo_id: int, head_sha: str, check_run_id: int
    ) -> None:
        """Record the check run id for (repo, head_sha)."""
        await self._r.set(
            self._k("check_run", repo_id, head_sha), check_run_id, ex=CHECK_RUN_TTL_S
        )

    async def save_result(
        self, installation_id: int, repo: str, head_sha: str, verdict: str, title: str
    ) -> None:
        """Record the latest verdict for a repository."""
        now = time.time()
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._k("result", repo),
                mapping={
                    "installation_id": installation_id,
                    "head_sha": head_sha,
                    "verdict": verdict,
                    "title": title,
                    "updated_at": now,
                },
            )
            pipe.zadd(self._k("results"), {repo: now})
            await pipe.execute()

    async def results(self, limit: int = 200) -> list[StoredResult]:
        """Return the latest result per repository of active installations."""
        inactive = {
            int(i) for i in await self._r.smembers(self._k("installations_inactive"))
        }
        out: list[StoredResult] = []
        for raw in await self._r.zrevrange(self._k("results"), 0, -1):
            if len(out) >= limit:
                break
            repo = _text(raw)
            h = await self._r.hgetall(self._k("result", repo))
            installation_id = int(h[b"installation_id"])
            if installation_id in inactive:
                continue
            out.append(
                StoredResult(
                    installation_id=installation_id,
                    repo=repo,
                    head_sha=_text(h[b"head_sha"]),
                    verdict=_text(h[b"verdict"]),
                    title=_text(h[b"title"]),
                    updated_at=float(h[b"updated_at"]),
                )
            )
        return out

    async def set_installation(
        self, installation_id: int, account: str, active: bool
    ) -> None:
        """Record an installation; results of inactive ones are hidden."""
        key = self._k("installations_inactive")
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._k("installation", installation_id),
                mapping={"account": account, "active": int(active)},
            )
            if account:
                pipe.hset(self._k("accounts"), account.lower(), installation_id)
            if active:
                pipe.srem(key, installation_id)
            else:
                pipe.sadd(key, installation_id)
            await pipe.execute()

    async def get_pull_feedback(self, repo_id: int, number: int) -> PullFeedback | None:
        """Return what was last posted on pull request `number`, if anything."""
        data = await self._r.hgetall(self._k("pull_feedback", repo_id, number))
        if not data:
            return None
        fields = {_text(k): _text(v) for k, v in data.items()}
        return PullFeedback(
            fields.get("verdict", ""),
            fields.get("digest", ""),
            fields.get("lock_blob", ""),
        )

    async def set_pull_feedback(
        self, repo_id: int, number: int, feedback: PullFeedback
    ) -> None:
        """Record what was just posted on pull request `number`."""
        key = self._k("pull_feedback", repo_id, number)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "verdict": feedback.verdict,
                    "digest": feedback.digest,
                    "lock_blob": feedback.lock_blob,
                },
            )
            pipe.expire(key, PULL_FEEDBACK_TTL_S)
            await pipe.execute()

    async def save_repository_result(self, result: RepositoryResult) -> None:
        """Record a repository's latest default-branch result (keeps its fix PR)."""
        key = self._k("repository_results", result.installation_id)
        old = await self._r.hget(key, str(result.repo_id))
        fix_pull = result.fix_pull
        if fix_pull is None and old is not None:
            fix_pull = json.loads(old).get("fix_pull")
        row = {
            "repo": result.repo,
            "head_sha": result.head_sha,
            "verdict": result.verdict,
            "libc": list(result.libc),
            "targets": list(result.targets),
            "check_run_url": result.check_run_url,
            "fix_pull": fix_pull,
            "checked_at": result.checked_at or time.time(),
        }
        await self._r.hset(key, str(result.repo_id), json.dumps(row))

    async def set_fix_pull(
        self, installation_id: int, repo_id: int, number: int | None
    ) -> None:
        """Record the fix pull request opened for a repository (None: none)."""
        key = self._k("repository_results", installation_id)
        old = await self._r.hget(key, str(repo_id))
        if old is not None:
            row = json.loads(old)
            row["fix_pull"] = number
            await self._r.hset(key, str(repo_id), json.dumps(row))

    async def repository_results(self, installation_id: int) -> list[RepositoryResult]:
        """Return every repository result of the installation, by name."""
        rows = await self._r.hgetall(self._k("repository_results", installation_id))
        out = []
        for raw_id, raw in rows.items():
            row = json.loads(raw)
            out.append(
                RepositoryResult(
                    installation_id,
                    int(raw_id),
                    row["repo"],
                    row["head_sha"],
                    row["verdict"],
                    tuple(row["libc"]),
                    tuple(row["targets"]),
                    row["check_run_url"],
                    row["fix_pull"],
                    float(row["checked_at"]),
                )
            )
        return sorted(out, key=lambda r: r.repo)

    async def add_repositories(
        self, installation_id: int, repos: Sequence[tuple[int, str]]
    ) -> None:
        """Record repositories (id, owner/name) the installation can see."""
        if repos:
            await self._r.hset(
                self._k("repositories", installation_id),
                mapping={str(i): name for i, name in repos},
            )

    async def remove_repositories(
        self, installation_id: int, repo_ids: Sequence[int]
    ) -> None:
        """Forget repositories the installation lost, with their results."""
        if repo_ids:
            fields = [str(i) for i in repo_ids]
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.hdel(self._k("repositories", installation_id), *fields)
                pipe.hdel(self._k("repository_results", installation_id), *fields)
                await pipe.execute()

    async def known_repositories(self, installation_id: int) -> dict[int, str]:
        """Return the repositories (id -> owner/name) the installation sees."""
        listed = await self._r.hgetall(self._k("repositories", installation_id))
        known = {int(k): _text(v) for k, v in listed.items()}
        for row in await self.repository_results(installation_id):
            known[row.repo_id] = row.repo
        return known

    async def installation_of(self, account: str) -> int | None:
        """Return the active installation of an account (case-insensitive)."""
        value = await self._r.hget(self._k("accounts"), account.lower())
        if value is None:
            return None
        installation_id = int(value)
        inactive = self._k("installations_inactive")
        if await self._r.sismember(inactive, str(installation_id)):
            return None
        return installation_id

    async def close(self) -> None:
        """Close the connection pool."""
        await self._r.aclose()
