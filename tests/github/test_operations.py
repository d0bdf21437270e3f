"""What operators see and what ends the work: timeouts, 401s, backlog, one warning."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.core.analysis import analyse
from bot.core.render import check_run_output
from bot.github.context import Options
from bot.queue import RetryPolicy
from bot.server import Role, create_app
from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from tests.fake_github import FakeGitHub, folder_files
from tests.github.conftest import (
    REPO,
    RIPGREP_CASE,
    Deliver,
    adjust,
    load_payload,
    settled,
)
from tests.server.serverkit import headers

ClientMaker = Callable[..., Awaitable[TestClient[Any, Any]]]


def _signed(data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(data).encode()
    return body, headers(body, "check_suite")


@pytest.mark.parametrize("attempts", [1, 5])
async def test_timed_out_work_never_leaves_its_run_in_progress(
    attempts: int,
    fake_github: FakeGitHub,
    settings: Settings,
    store: SqliteStore,
    options: Options,
    aiohttp_client: ClientMaker,
) -> None:
    # Issue 9 item 8: slow GitHub answers run the work past its timeout.
    sha = fake_github.add_folder(REPO, RIPGREP_CASE)
    # The first request stalls past the work timeout, however loaded the
    # machine: the first attempt always times out, later ones need not.
    fake_github.extra["slow"] = [1, 3.0, "/git/trees/"]
    app = create_app(
        settings,
        store=store,
        options=options,
        poll_s=0.01,
        work_timeout_s=1.0,
        retry=RetryPolicy(base_s=0.01, max_attempts=attempts),
    )
    client = await aiohttp_client(app)
    name = "check_suite.requested"
    body, signed = _signed(
        adjust(name, load_payload(name), fake_github, repo=REPO, sha=sha)
    )
    assert (await client.post("/webhook", data=body, headers=signed)).status == 202
    await settled(app)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["status"] == "completed"
    if attempts == 1:  # the last attempt: completed with the reason
        assert run["conclusion"] == "neutral"
        assert "timed out after 1 s" in run["output"]["summary"]
    else:  # retried: the true verdict replaces it
        want = check_run_output(analyse(folder_files(RIPGREP_CASE)))
        assert (run["conclusion"], run["output"]["title"]) == (
            want.conclusion,
            want.title,
        )
    # No run existed while the retries ran (a run is created once its result
    # is known): nothing said "retrying", and there is one run (above).
    assert fake_github.calls("PATCH", "/check-runs/") == []
    text = await (await client.get("/metrics")).text()
    assert 'musl_check_delivery_failures_total{reason="timeout"}' in text


async def test_github_401_makes_health_degraded(
    fake_github: FakeGitHub, deliver: Deliver, bot: TestClient[Any, Any]
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP_CASE)
    fake_github.fail("POST", "/access_tokens", 401, times=100)
    await deliver("check_suite.requested", sha=sha)
    health = await (await bot.get("/healthz")).json()
    assert health["status"] == "degraded"
    assert health["reasons"] == ["GitHub authentication failed (HTTP 401)"]
    fake_github.faults.clear()
    # Credentials work again. A later event: the same signed body again would
    # be a replay (ignored).
    name = "check_suite.requested"
    later = adjust(name, load_payload(name), fake_github, repo=REPO, sha=sha)
    later["check_suite"]["updated_at"] = "2030-01-01T00:00:00Z"
    await deliver(name, payload=later)
    assert (await (await bot.get("/healthz")).json())["status"] == "ok"


async def test_backlog_past_the_bound_makes_health_degraded(
    settings: Settings, store: SqliteStore, aiohttp_client: ClientMaker
) -> None:
    app = create_app(settings, store=store, role=Role.WEB, max_backlog=2)
    client = await aiohttp_client(app)
    for n in range(3):  # distinct bodies: the same one again would be a replay
        body, signed = _signed({"zen": "Keep it logically awesome.", "n": n})
        assert (await client.post("/webhook", data=body, headers=signed)).status == 202
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "degraded"
    assert health["reasons"] == ["backlog of 3 deliveries (bound 2)"]
    text = await (await client.get("/metrics")).text()
    assert "musl_check_queue_depth 3.0" in text


async def test_a_failing_github_call_logs_one_warning(
    fake_github: FakeGitHub, deliver: Deliver, caplog: pytest.LogCaptureFixture
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP_CASE)
    # The run is created completed: that one request is refused.
    fake_github.fail(
        "POST", "/check-runs", 422, headers={"x-github-request-id": "ABCD:1234"}
    )
    with caplog.at_level(logging.DEBUG):
        await deliver("check_suite.requested", sha=sha)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    (warning,) = warnings
    assert warning.exc_info is None  # no traceback
    assert warning.status == 422  # type: ignore[attr-defined]
    assert warning.github_request_id  # type: ignore[attr-defined]
    assert "refused the request body" in warning.hint  # type: ignore[attr-defined]
    (run,) = fake_github.runs_for(REPO, sha)
    assert (run["status"], run["conclusion"]) == ("completed", "neutral")
