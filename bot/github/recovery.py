"""Missed deliveries: ask GitHub to redeliver what failed while the App was away.

GitHub does not retry a failed delivery (docs/github.md 1.3). This follows
GitHub's documented recovery pattern (docs/github.md 1.4): list the App's
deliveries newest first (App JWT, cursor pagination) back to where the last
pass got, group them by `guid` (one event), and for each event with no
successful attempt that the store has never recorded, ask for one
redelivery. A redelivery carries the same `X-GitHub-Delivery`, so the queue's
de-duplication keeps it from being processed twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bot.github.client import GitHubClient
from bot.store import Store

logger = logging.getLogger(__name__)

MARK: Final = "hook-deliveries-listed-to"
# When a pass last started, by any instance sharing the store: several
# workers do not each ask GitHub for the same redeliveries.
STARTED_MARK: Final = "hook-deliveries-pass-at"
# GitHub keeps deliveries for redelivery 3 days on github.com (docs/github.md 1.3).
WINDOW: Final = timedelta(days=3)
# The listing restarts a little before the mark: a delivery recorded in the
# same second as the newest one seen is not missed.
OVERLAP: Final = timedelta(minutes=1)
MAX_REDELIVERIES_PER_PASS: Final = 25
PAGE_SIZE: Final = 100
# Every few minutes, and once at start-up.
INTERVAL_S: Final = 300.0


@dataclass(frozen=True, slots=True)
class RecoveryPass:
    """What one pass did."""

    listed: int
    redelivered: int
    complete: bool  # False: the per-pass bound was reached; the mark stayed
    skipped: bool = False  # another instance ran a pass moments ago


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _succeeded(item: dict[str, Any]) -> bool:
    code = item.get("status_code")
    return isinstance(code, int) and 200 <= code < 400


async def recover_missed(
    gh: GitHubClient,
    store: Store,
    *,
    now: datetime,
    limit: int = MAX_REDELIVERIES_PER_PASS,
    min_gap: timedelta = timedelta(seconds=INTERVAL_S / 2),
) -> RecoveryPass:
    """Redeliver up to `limit` failed deliveries the store never recorded.

    Skipped when a pass (of any instance on this store) started less than
    `min_gap` before `now`.
    """
    last = _when(await store.get_mark(STARTED_MARK))
    if last is not None and timedelta(0) <= now - last < min_gap:
        return RecoveryPass(0, 0, complete=True, skipped=True)
    await store.set_mark(STARTED_MARK, now.astimezone(UTC).isoformat())
    mark = _when(await store.get_mark(MARK))
    since = max(now - WINDOW, mark - OVERLAP) if mark else now - WINDOW
    newest: datetime | None = None
    events: dict[str, list[dict[str, Any]]] = {}
    listed = 0
    async for item in gh.getiter(f"/app/hook/deliveries?per_page={PAGE_SIZE}"):
        delivered = _when(item.get("delivered_at"))
        guid = item.get("guid")
        if delivered is None or not isinstance(guid, str):
            continue
        if delivered < since:
            break  # newest first: the rest was seen by an earlier pass
        listed += 1
        newest = delivered if newest is None else max(newest, delivered)
        events.setdefault(guid, []).append(item)
    redelivered = 0
    complete = True
    for guid, attempts in events.items():
        if any(_succeeded(a) for a in attempts) or await store.seen(guid):
            continue
        if redelivered >= limit:
            complete = False  # the rest waits for the next pass
            break
        failed = max(attempts, key=lambda a: str(a.get("delivered_at")))
        await gh.post(
            "/app/hook/deliveries/{delivery_id}/attempts",
            {"delivery_id": str(failed["id"])},
            data=b"",
        )
        redelivered += 1
        logger.info(
            "asked GitHub to redeliver a missed delivery",
            extra={"delivery_id": guid, "event": failed.get("event")},
        )
    if complete and newest is not None:
        await store.set_mark(MARK, newest.astimezone(UTC).isoformat())
    return RecoveryPass(listed, redelivered, complete)
