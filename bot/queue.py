"""How queued work is retried, and what the attempt in progress knows.

Consumers (bot/server/work.py) take deliveries from the store's queue; the
GitHub layer learns through `current_attempt()` whether a transient failure
should send the delivery back on the queue or be published as final, and
registers the check runs it opens so that whatever ends the work (a timeout,
a cancellation, a shutdown) can complete them or leave them to whoever
resumes the delivery.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

# First retry after this long, then twice as long each time: 15 s, 30 s, ...,
# 16 min; eight attempts span about 32 minutes before the failure is final.
RETRY_BASE_S: Final = 15.0
MAX_ATTEMPTS: Final = 8


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff for deliveries whose GitHub calls failed transiently."""

    base_s: float = RETRY_BASE_S
    max_attempts: int = MAX_ATTEMPTS

    def delay(self, attempt: int) -> float:
        """Return how long to wait after failed attempt number `attempt` (1-based)."""
        return float(self.base_s * 2 ** max(0, attempt - 1))

    def is_final(self, attempt: int) -> bool:
        """Return whether attempt number `attempt` is the last one."""
        return attempt >= self.max_attempts


# Completes (or marks "retrying") a check run the attempt opened: given the
# reason, and whether the delivery will be tried again.
RunCloser = Callable[[str, bool], Awaitable[None]]


@dataclass(slots=True)
class Attempt:
    """One consumer's attempt at one delivery."""

    number: int = 1
    final: bool = True  # outside a queue (tests, scripts) every attempt is final
    open_runs: dict[tuple[int, str], RunCloser] = field(default_factory=dict)
    github_unauthorized: bool = False  # GitHub answered 401 (for /healthz)


class RetryLater(Exception):
    """The work failed transiently; the delivery goes back on the queue."""

    def __init__(self, reason: str) -> None:
        """Carry the reason (shown on the check run meanwhile)."""
        super().__init__(reason)
        self.reason = reason


_ATTEMPT: Final = contextvars.ContextVar[Attempt]("musl_check_attempt")


def current_attempt() -> Attempt:
    """Return the attempt this task works on (a final one outside a consumer)."""
    try:
        return _ATTEMPT.get()
    except LookupError:
        return Attempt()


def enter_attempt(attempt: Attempt) -> None:
    """Make `attempt` the current one for this task and the tasks it starts."""
    _ATTEMPT.set(attempt)
