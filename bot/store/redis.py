"""Redis store, for several instances sharing deliveries, leases and results."""

from __future__ import annotations

import time
from typing import Final

from redis.asyncio import Redis

from bot.store import (
    CHECK_RUN_TTL_S,
    PULL_FEEDBACK_TTL_S,
    RETENTION_S,
    PullFeedback,
    StoredDelivery,
    StoredResult,
)

PENDING_PAGE: Final = 200


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStore:
    """Keys under one prefix; a lease is a key with a TTL, so a dead owner's expires."""

    def __init__(self, client: Redis, *, prefix: str = "musl-check:") -> None:
        """Wrap a redis.asyncio client (decode_responses must be False)."""
        self._r = client
        self._p = prefix

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """Connect lazily to the server at `url`."""
        return cls(Redis.from_url(url))

    def _k(self, *parts: object) -> str:
        return self._p + ":".join(str(p) for p in parts)

    async def add_delivery(
        self,
        delivery_id: str,
        event: str,
        body: bytes,
        *,
        owner: str | None = None,
        lease_s: float = 0.0,
    ) -> bool:
        """Record a delivery (leased to `owner` if given); False if seen before."""
        seen = await self._r.set(
            self._k("seen", delivery_id), b"1", nx=True, ex=int(RETENTION_S)
        )
        if not seen:
            return False
        now = time.time()
        ms = int(lease_s * 1000) if owner is not None else 0
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._k("delivery", delivery_id),
                mapping={
                    "event": event,
                    "body": body,
                    "received_at": now,
                    "attempts": int(ms > 0),
                },
            )
            if owner is not None and ms > 0:
                pipe.set(self._k("lease", delivery_id), owner.encode(), px=ms)
            pipe.zadd(self._k("pending"), {delivery_id: now})
            await pipe.execute()
        return True

    async def claim(self, delivery_id: str, owner: str, lease_s: float) -> bool:
        """Lease an unfinished delivery to `owner` (see `Store.claim`)."""
        if await self._r.zscore(self._k("pending"), delivery_id) is None:
            return False
        lease = self._k("lease", delivery_id)
        ms = int(lease_s * 1000)
        if ms > 0 and await self._r.set(lease, owner.encode(), nx=True, px=ms):
            await self._r.hincrby(self._k("delivery", delivery_id), "attempts", 1)
            return True
        current = await self._r.get(lease)
        if current is None:
            if ms <= 0:
                return True
            return await self.claim(delivery_id, owner, lease_s)
        if _text(current) != owner:
            return False
        if ms > 0:
            await self._r.set(lease, owner.encode(), px=ms)
        else:
            await self._r.delete(lease)
        return True

    async def finish(self, delivery_id: str, error: str | None = None) -> None:
        """Mark a delivery done; its body is dropped, its id kept for dedupe."""
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.zrem(self._k("pending"), delivery_id)
            pipe.delete(self._k("lease", delivery_id), self._k("delivery", delivery_id))
            pipe.set(
                self._k("done", delivery_id),
                (error or "").encode(),
                ex=int(RETENTION_S),
            )
            await pipe.execute()

    async def pending(self, limit: int = 100) -> list[StoredDelivery]:
        """Return unfinished deliveries whose lease is free or expired.

        Reads the pending set a page at a time, with one round trip for the
        page's leases and one for the free deliveries' fields: a backlog of
        leased deliveries costs pages, not a round trip each.
        """
        out: list[StoredDelivery] = []
        page = max(limit, PENDING_PAGE)
        start = 0
        while len(out) < limit:
            raw_ids = await self._r.zrange(self._k("pending"), start, start + page - 1)
            if not raw_ids:
                break
            start += len(raw_ids)
            ids = [_text(raw) for raw in raw_ids]
            async with self._r.pipeline(transaction=False) as pipe:
                for delivery_id in ids:
                    pipe.exists(self._k("lease", delivery_id))
                leased = await pipe.execute()
            free = [i for i, held in zip(ids, leased, strict=True) if not held]
            free = free[: limit - len(out)]
            async with self._r.pipeline(transaction=False) as pipe:
                for delivery_id in free:
                    pipe.hgetall(self._k("delivery", delivery_id))
                fields = await pipe.execute()
            for delivery_id, h in zip(free, fields, strict=True):
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

    async def close(self) -> None:
        """Close the connection pool."""
        await self._r.aclose()
