"""POST /webhook: signatures, malformed requests, dedupe, background work, restart."""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from pathlib import Path
from typing import Any

import gidgethub
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.queue import RetryPolicy
from bot.server import (
    RUNTIME_KEY,
    STORE_KEY,
    create_app,
    sign,
    verify_signature,
)
from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from tests.server.serverkit import (
    ROTATED,
    SECRET,
    Recorder,
    calls,
    distinct,
    headers,
    payload,
    settle,
)

TestClientT = TestClient[web.Request, web.Application]
BODY = payload("pull_request", "synchronize")


async def client_for(aiohttp_client, settings, store, handler) -> TestClientT:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(settings, store=store, handler=handler))


def test_github_test_vector() -> None:
    # docs/github.md 1.2: GitHub's published example.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(b"Hello, World!", "It's a Secret to Everybody") == expected
    assert verify_signature(b"Hello, World!", expected, ["It's a Secret to Everybody"])
    assert verify_signature(
        b"Hello, World!", expected.upper().replace("SHA256", "sha256"), [SECRET]
    )
    assert not verify_signature(b"Hello, World!!", expected, [SECRET])
    assert not verify_signature(b"Hello, World!", expected[7:], [SECRET])
    assert not verify_signature(b"Hello, World!", "sha256=é", [SECRET])
    assert not verify_signature(b"Hello, World!", expected, [])


async def test_good_signature_accepted_and_handled(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    client = await client_for(aiohttp_client, settings, store, recorder)
    h = headers(BODY, delivery="d-1")
    resp = await client.post("/webhook", data=BODY, headers=h)
    assert resp.status == 202
    assert (await resp.json()) == {"status": "accepted", "delivery": "d-1"}
    await settle(client.app)
    assert len(recorder.events) == 1
    event = recorder.events[0]
    assert event.event == "pull_request"
    assert event.delivery_id == "d-1"
    assert event.data == json.loads(BODY)
    assert await store.pending() == []


async def test_rotated_secret_accepted(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    client = await client_for(aiohttp_client, settings, store, recorder)
    resp = await client.post(
        "/webhook", data=BODY, headers=headers(BODY, secret=ROTATED)
    )
    assert resp.status == 202
    await settle(client.app)
    assert len(recorder.events) == 1


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"X-Hub-Signature-256": sign(BODY, "wrong")}, 401, "bad_signature"),
        ({"X-Hub-Signature-256": sign(BODY, SECRET)[7:]}, 401, "bad_signature"),
        ({"X-Hub-Signature-256": None}, 401, "missing_signature"),
        (
            {"X-Hub-Signature-256": None, "X-Hub-Signature": "sha1=" + "0" * 40},
            401,
            "sha1_only",
        ),
        ({"X-GitHub-Event": None}, 400, "missing_header"),
        ({"X-GitHub-Delivery": None}, 400, "missing_header"),
        ({"X-GitHub-Event": "Pull Request"}, 400, "bad_header"),
        ({"X-GitHub-Delivery": "x" * 200}, 400, "bad_header"),
    ],
)
async def test_rejected_requests(
    aiohttp_client,
    settings: Settings,
    store: SqliteStore,
    recorder: Recorder,
    change: dict[str, str | None],
    status: int,
    reason: str,
) -> None:
    client = await client_for(aiohttp_client, settings, store, recorder)
    h: dict[str, str] = headers(BODY)
    for key, value in change.items():
        if value is None:
            h.pop(key)
        else:
            h[key] = value
    resp = await client.post("/webhook", data=BODY, headers=h)
    assert resp.status == status
    assert "error" in await resp.json()
    await settle(client.app)
    assert recorder.events == []
    assert await store.pending() == []
    text = await (await client.get("/metrics")).text()
    assert f'musl_check_deliveries_rejected_total{{reason="{reason}"}} 1.0' in text


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
        b"\xef\xbb\xbf" + BODY,
        BODY + b"{}",
        BODY[:-100],
    ],
)
async def test_malformed_json(
    aiohttp_client,
    settings: Settings,
    store: SqliteStore,
    recorder: Recorder,
    body: bytes,
) -> None:
    client = await client_for(aiohttp_client, settings, store, recorder)
    resp = await client.post("/webhook", data=body, headers=headers(body))
    assert resp.status == 400
    await settle(client.app)
    assert recorder.events == []
    assert await store.pending() == []


async def test_oversized_body_refused_by_content_length(
    aiohttp_client, env: dict[str, str], store: SqliteStore, recorder: Recorder
) -> None:
    settings = Settings.from_env(env)
    small = Settings(
        app_id=settings.app_id,
        private_key=settings.private_key,
        webhook_secrets=settings.webhook_secrets,
        max_body_bytes=1000,
    )
    client = await client_for(aiohttp_client, small, store, recorder)
    resp = await client.post("/webhook", data=BODY, headers=headers(BODY))
    assert resp.status == 413
    await settle(client.app)
    assert recorder.events == []
    assert await store.pending() == []


async def test_oversized_chunked_body_refused(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    small = Settings(
        app_id=settings.app_id,
        private_key=settings.private_key,
        webhook_secrets=settings.webhook_secrets,
        max_body_bytes=1000,
    )
    client = await client_for(aiohttp_client, small, store, recorder)

    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(BODY), 500):
            yield BODY[i : i + 500]

    # No Content-Length: the limit must hold while streaming.
    resp = await client.post("/webhook", data=chunks(), headers=headers(BODY))
    assert resp.status == 413
    await settle(client.app)
    assert recorder.events == []
    assert await store.pending() == []


async def test_duplicate_delivery_handled_once(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    client = await client_for(aiohttp_client, settings, store, recorder)
    h = headers(BODY, delivery="same-id")
    first = await client.post("/webhook", data=BODY, headers=h)
    second = await client.post("/webhook", data=BODY, headers=h)
    await settle(client.app)
    third = await client.post("/webhook", data=BODY, headers=h)
    assert (first.status, second.status, third.status) == (202, 200, 200)
    assert (await second.json())["status"] == "duplicate"
    await settle(client.app)
    assert len(recorder.events) == 1
    text = await (await client.get("/metrics")).text()
    assert "musl_check_deliveries_duplicate_total 2.0" in text


async def test_unknown_event_accepted(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    body = payload("ping", "with-app_id")
    client = await client_for(aiohttp_client, settings, store, recorder)
    resp = await client.post(
        "/webhook", data=body, headers=headers(body, event="some_future_event")
    )
    assert resp.status == 202
    await settle(client.app)
    assert [e.event for e in recorder.events] == ["some_future_event"]


async def test_handler_error_logged_not_raised(
    aiohttp_client,
    settings: Settings,
    store: SqliteStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = Recorder(error=RuntimeError("boom"))
    client = await client_for(aiohttp_client, settings, store, failing)
    with caplog.at_level(logging.INFO, logger="bot.server"):
        resp = await client.post(
            "/webhook", data=BODY, headers=headers(BODY, delivery="f1")
        )
        assert resp.status == 202
        await settle(client.app)
    failed = [
        r for r in caplog.records if r.getMessage() == "delivery processing failed"
    ]
    assert len(failed) == 1
    assert failed[0].delivery_id == "f1"  # type: ignore[attr-defined]
    assert failed[0].exc_info is not None
    # Finished with the error: not retried forever.
    assert await store.pending() == []
    await store.flush()  # from the journal into the database
    row = store._conn.execute("SELECT error FROM deliveries WHERE id = 'f1'").fetchone()
    assert row == ("RuntimeError",)
    text = await (await client.get("/metrics")).text()
    assert 'musl_check_deliveries_failed_total{event="pull_request"} 1.0' in text
    # Nothing secret or bulky reaches the log.
    logged = caplog.text
    assert SECRET not in logged
    assert "Hello-World" not in logged
    assert sign(BODY, SECRET) not in logged


async def test_store_failure_answers_503(
    aiohttp_client, settings: Settings, tmp_path: Path, recorder: Recorder
) -> None:
    store = SqliteStore.open(str(tmp_path / "closed.sqlite3"))
    client = await client_for(aiohttp_client, settings, store, recorder)
    store._conn.close()
    store._reader.close()  # dedupe lookups
    resp = await client.post("/webhook", data=BODY, headers=headers(BODY))
    assert resp.status == 503
    health = await client.get("/healthz")
    assert health.status == 503
    assert (await health.json())["store"] == "unavailable"


async def test_concurrency_is_bounded(
    aiohttp_client, settings: Settings, store: SqliteStore
) -> None:
    gate = asyncio.Event()
    blocked = Recorder(gate=gate)
    client = await client_for(aiohttp_client, settings, store, blocked)
    for i in range(20):
        body = distinct(BODY, i)  # the same body twice would be a replay
        resp = await client.post(
            "/webhook", data=body, headers=headers(body, delivery=f"c{i}")
        )
        assert resp.status == 202
    for _ in range(200):  # let every task that can start do so
        await asyncio.sleep(0)
    assert len(blocked.events) == 8
    text = await (await client.get("/metrics")).text()
    assert "musl_check_deliveries_in_flight 8.0" in text
    gate.set()
    await settle(client.app)
    assert len(blocked.events) == 20
    assert await store.pending() == []


async def gated_app(  # type: ignore[no-untyped-def]
    aiohttp_client, settings: Settings, store: SqliteStore, **options: Any
) -> tuple[web.Application, TestClientT, asyncio.Event, Recorder]:
    """Return an app whose handler waits on a gate, with these create_app options."""
    gate = asyncio.Event()
    blocked = Recorder(gate=gate)
    app = create_app(settings, store=store, handler=blocked, **options)
    client = await aiohttp_client(app)
    await settle(app)
    return app, client, gate, blocked


async def test_burst_beyond_the_consumers_waits_in_the_store(
    aiohttp_client, settings: Settings, store: SqliteStore
) -> None:
    app, client, gate, blocked = await gated_app(
        aiohttp_client, settings, store, consumers=4
    )
    rt = app[RUNTIME_KEY]
    for i in range(12):
        body = distinct(BODY, i)
        resp = await client.post(
            "/webhook", data=body, headers=headers(body, delivery=f"b{i}")
        )
        assert resp.status == 202
        assert (await resp.json())["status"] == "accepted"
        assert len(rt.active) <= 4
    await calls(blocked, 4)
    assert rt.queued_bytes == 4 * len(distinct(BODY, 0))
    assert len(await store.pending(limit=100)) == 12  # all recorded, 4 taken
    gate.set()
    await calls(blocked, 12)
    await settle(app)
    assert not rt.active
    assert sorted(e.delivery_id for e in blocked.events) == sorted(
        f"b{i}" for i in range(12)
    )
    assert rt.queued_bytes == 0
    assert await store.pending() == []


async def test_bodies_in_memory_bounded_but_one_always_fits(
    aiohttp_client, settings: Settings, store: SqliteStore
) -> None:
    app, client, gate, blocked = await gated_app(
        aiohttp_client, settings, store, max_queued_bytes=len(BODY) // 2
    )
    for i in range(3):
        body = distinct(BODY, i)
        resp = await client.post(
            "/webhook", data=body, headers=headers(body, delivery=f"y{i}")
        )
        assert resp.status == 202
    await calls(blocked, 1)
    for _ in range(50):
        await asyncio.sleep(0)
    assert app[RUNTIME_KEY].active == {"y0"}  # bigger than the bound, yet taken
    gate.set()
    await calls(blocked, 3)
    await settle(app)
    assert not app[RUNTIME_KEY].active
    assert await store.pending() == []


async def test_restart_resumes_accepted_delivery(
    aiohttp_client, settings: Settings, tmp_path: Path
) -> None:
    db = str(tmp_path / "restart.sqlite3")
    # First instance: answers 202, then is stopped before the work completes.
    first_store = SqliteStore.open(db)
    stuck = Recorder(gate=asyncio.Event())
    app1 = create_app(settings, store=first_store, handler=stuck, drain_timeout_s=0.01)
    client1 = await aiohttp_client(app1)
    resp = await client1.post(
        "/webhook", data=BODY, headers=headers(BODY, delivery="r1")
    )
    assert resp.status == 202
    await stuck.called.wait()
    await client1.close()  # the work is cancelled and handed back
    await first_store.close()
    assert stuck.events[0].delivery_id == "r1"

    # Second instance on the same file finishes the work on start-up.
    second_store = SqliteStore.open(db)
    done = Recorder()
    app2 = create_app(settings, store=second_store, handler=done)
    client2 = await aiohttp_client(app2)
    await done.called.wait()
    await settle(client2.app)
    assert [e.delivery_id for e in done.events] == ["r1"]
    assert done.events[0].data == json.loads(BODY)
    assert await second_store.pending() == []
    text = await (await client2.get("/metrics")).text()
    assert "musl_check_deliveries_resumed_total 1.0" in text
    await client2.close()
    await second_store.close()


async def test_unreadable_stored_body_is_finished(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    assert await store.add_delivery("bad", "push", b"not json")
    client = await client_for(aiohttp_client, settings, store, recorder)
    await settle(client.app)
    assert recorder.events == []
    assert await store.pending() == []
    text = await (await client.get("/metrics")).text()
    assert 'musl_check_delivery_failures_total{reason="unreadable"} 1.0' in text


async def test_taken_elsewhere_not_processed(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    assert await store.add_delivery("other", "push", BODY)
    taken = await store.take("another-instance", 600)
    assert taken is not None
    client = await client_for(aiohttp_client, settings, store, recorder)
    await settle(client.app)
    assert recorder.events == []
    assert client.app[STORE_KEY] is store


async def test_dead_consumers_delivery_taken_over(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    assert await store.add_delivery("left", "push", BODY)
    assert await store.take("dead-consumer", 0.2) is not None
    app = create_app(settings, store=store, handler=recorder, poll_s=0.05)
    client = await aiohttp_client(app)
    await calls(recorder, 1)
    await settle(app)
    assert [e.delivery_id for e in recorder.events] == ["left"]
    assert await store.pending() == []
    text = await (await client.get("/metrics")).text()
    assert "musl_check_deliveries_resumed_total 1.0" in text
    assert "musl_check_deliveries_taken_over_total 1.0" in text


async def test_lease_renewed_while_the_work_runs(
    aiohttp_client, settings: Settings, store: SqliteStore
) -> None:
    app, client, gate, blocked = await gated_app(
        aiohttp_client, settings, store, visibility_s=0.15, poll_s=0.05
    )
    resp = await client.post(
        "/webhook", data=BODY, headers=headers(BODY, delivery="long")
    )
    assert resp.status == 202
    await calls(blocked, 1)
    await asyncio.sleep(0.6)  # four visibility timeouts: renewed all along
    assert await store.take("another-instance", 60) is None
    gate.set()
    await settle(app)
    assert len(blocked.events) == 1
    assert await store.pending() == []


async def test_transient_failure_goes_back_on_the_queue(
    aiohttp_client, settings: Settings, store: SqliteStore
) -> None:
    flaky = Recorder(error=gidgethub.GitHubBroken(HTTPStatus.BAD_GATEWAY))
    app = create_app(
        settings,
        store=store,
        handler=flaky,
        poll_s=0.02,
        retry=RetryPolicy(base_s=0.05, max_attempts=5),
    )
    client = await aiohttp_client(app)
    resp = await client.post("/webhook", data=BODY, headers=headers(BODY))
    assert resp.status == 202
    await calls(flaky, 2)
    flaky.error = None  # GitHub is back
    await calls(flaky, 3)
    await settle(app)
    assert await store.pending() == []
    await store.flush()
    rows = store._conn.execute("SELECT error, attempts FROM deliveries").fetchall()
    assert rows == [(None, 3)]
    text = await (await client.get("/metrics")).text()
    assert "musl_check_deliveries_retried_total 2.0" in text
    assert 'musl_check_delivery_failures_total{reason="transient"} 2.0' in text
    assert 'musl_check_deliveries_failed_total{event="pull_request"}' not in text


async def test_transient_failure_final_after_the_last_attempt(
    aiohttp_client, settings: Settings, store: SqliteStore
) -> None:
    down = Recorder(error=gidgethub.GitHubBroken(HTTPStatus.SERVICE_UNAVAILABLE))
    app = create_app(
        settings,
        store=store,
        handler=down,
        poll_s=0.02,
        retry=RetryPolicy(base_s=0.01, max_attempts=3),
    )
    client = await aiohttp_client(app)
    resp = await client.post("/webhook", data=BODY, headers=headers(BODY))
    assert resp.status == 202
    await calls(down, 3)
    await settle(app)
    assert await store.pending() == []
    await store.flush()
    rows = store._conn.execute("SELECT error, attempts FROM deliveries").fetchall()
    assert rows == [("GitHub answered HTTP 503", 3)]


@pytest.mark.parametrize(
    "error",
    [
        gidgethub.BadRequest(HTTPStatus.NOT_FOUND),
        gidgethub.BadRequest(HTTPStatus.UNPROCESSABLE_ENTITY),
    ],
)
async def test_permanent_failure_ends_at_once(
    aiohttp_client,
    settings: Settings,
    store: SqliteStore,
    error: gidgethub.HTTPException,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = Recorder(error=error)
    app = create_app(
        settings, store=store, handler=failing, retry=RetryPolicy(base_s=0.01)
    )
    client = await aiohttp_client(app)
    with caplog.at_level(logging.INFO):
        resp = await client.post("/webhook", data=BODY, headers=headers(BODY))
        assert resp.status == 202
        await settle(app)
    assert len(failing.events) == 1
    await store.flush()
    [(reason,)] = store._conn.execute("SELECT error FROM deliveries").fetchall()
    assert reason == f"GitHub answered HTTP {error.status_code}"
    assert not [r for r in caplog.records if r.exc_info]  # no traceback
    text = await (await client.get("/metrics")).text()
    assert 'musl_check_delivery_failures_total{reason="github"} 1.0' in text


async def test_work_timeout_retried_then_final(
    aiohttp_client, settings: Settings, store: SqliteStore
) -> None:
    stuck = Recorder(gate=asyncio.Event())
    app = create_app(
        settings,
        store=store,
        handler=stuck,
        poll_s=0.02,
        work_timeout_s=0.05,
        retry=RetryPolicy(base_s=0.01, max_attempts=2),
    )
    client = await aiohttp_client(app)
    resp = await client.post("/webhook", data=BODY, headers=headers(BODY))
    assert resp.status == 202
    await calls(stuck, 2)
    await settle(app)
    await store.flush()
    rows = store._conn.execute("SELECT error, attempts FROM deliveries").fetchall()
    assert rows == [("the work timed out after 0.05 s", 2)]
    text = await (await client.get("/metrics")).text()
    assert 'musl_check_delivery_failures_total{reason="timeout"} 2.0' in text
