"""The request-count benchmark runs and still reaches its budgets.

`bench/api_calls.py` counts requests, not time, so its verdicts are behaviour:
a change to the bench's own set-up or to the App that breaks it or overspends
fails here, instead of when someone next measures.
"""

from __future__ import annotations

import subprocess
import sys

from tests.paths import TESTS

ROOT = TESTS.parent


def test_api_calls_bench_runs_within_its_budgets() -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and bench
        [sys.executable, str(ROOT / "bench" / "api_calls.py")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "organisation scan, archived: 0 requests" in lines
    assert "organisation scan, no sign of Rust: 1 requests" in lines
    assert lines[-1] == "pull-request push, config unchanged: 2 requests (budget 2): ok"
