"""The JSON check before the 202, against parsing the body with orjson or json.

For each real webhook payload in tests/fixtures/webhooks (the largest is a
28 KB pull_request delivery), best of many runs: `is_json_object` (simdjson,
no Python objects built), `orjson.loads` plus dropping its tree, and
`json.loads`. The last line is `json check speedup: N.Nx`, orjson's time over
the check's on the largest payload.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from bot.server.delivery import is_json_object

WEBHOOKS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "webhooks"
ROUNDS = 2000


def per_call(func: Callable[[], object], rounds: int = ROUNDS) -> float:
    """Return the best per-call time of `func` over 5 batches, in seconds."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            func()
        best = min(best, (time.perf_counter() - start) / rounds)
    return best


def main() -> None:
    """Print the per-call times for the largest payload and the ratio."""
    bodies = sorted(
        (p.read_bytes() for p in WEBHOOKS.glob("*/*.json")), key=len, reverse=True
    )
    body = bodies[0]
    assert is_json_object(body)
    check = per_call(lambda: is_json_object(body))
    fast = per_call(lambda: orjson.loads(body))
    slow = per_call(lambda: json.loads(body))
    print(f"payloads: {len(bodies)}, largest: {len(body) / 1024:.1f} KB")
    print(f"is_json_object (simdjson): {check * 1e6:8.1f} us")
    print(f"orjson.loads + free:       {fast * 1e6:8.1f} us")
    print(f"json.loads + free:         {slow * 1e6:8.1f} us")
    print(f"orjson speedup over json.loads: {slow / fast:.1f}x")
    print(f"json check speedup: {fast / check:.1f}x")


if __name__ == "__main__":
    main()
