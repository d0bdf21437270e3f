"""Web-only instances record deliveries; workers process them from the shared store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.cli import main
from bot.server import Role, create_app
from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from tests.server.serverkit import Recorder, calls, distinct, headers, payload

BODY = payload("check_suite", "requested")


async def test_web_records_and_worker_processes(
    aiohttp_client, settings: Settings, tmp_path: Path
) -> None:
    # Two stores on one file stand for two processes: the web instance holds
    # the journal, the worker reads and writes the database directly.
    path = str(tmp_path / "shared.sqlite3")
    web_store, worker_store = SqliteStore.open(path), SqliteStore.open(path)
    web_handler, worker_handler = Recorder(), Recorder()
    front = await aiohttp_client(
        create_app(settings, store=web_store, handler=web_handler, role=Role.WEB)
    )
    back = await aiohttp_client(
        create_app(
            settings,
            store=worker_store,
            handler=worker_handler,
            role=Role.WORKER,
            poll_s=0.05,
        )
    )
    ids = [f"w{i}" for i in range(3)]
    bodies = [distinct(BODY, i) for i in range(3)]  # the same body is a replay
    for delivery_id, body in zip(ids, bodies, strict=True):
        h = headers(body, event="check_suite", delivery=delivery_id)
        resp = await front.post("/webhook", data=body, headers=h)
        assert resp.status == 202
    again = headers(bodies[0], event="check_suite", delivery=ids[0])
    assert (await front.post("/webhook", data=bodies[0], headers=again)).status == 200
    await calls(worker_handler, 3)
    assert sorted(e.delivery_id for e in worker_handler.events) == ids
    assert worker_handler.events[0].data["action"] == "requested"
    assert web_handler.events == []
    # A worker takes no webhooks; both say what they are.
    assert (await back.post("/webhook", data=BODY, headers=again)).status in (404, 405)
    assert (await (await front.get("/healthz")).json())["role"] == "web"
    assert (await (await back.get("/healthz")).json())["role"] == "worker"
    assert "processes the deliveries" in await (await back.get("/")).text()
    await back.close()
    await front.close()
    await worker_store.close()
    await web_store.close()
    reopened = SqliteStore.open(path)
    assert await reopened.pending() == []
    await reopened.close()


async def test_web_only_never_processes(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    app = create_app(settings, store=store, handler=recorder, role=Role.WEB)
    client = await aiohttp_client(app)
    resp = await client.post("/webhook", data=BODY, headers=headers(BODY))
    assert resp.status == 202
    await asyncio.sleep(0.05)
    assert recorder.events == []
    [pending] = await store.pending()  # recorded, free for any worker
    assert pending.body == BODY
    assert await store.take("a-worker", 60) is not None


def test_worker_without_credentials_stops_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No first-run page for a worker: it needs the App's settings.
    monkeypatch.chdir(tmp_path)
    for name in ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["worker", "--port", "0"]) == 2
    assert "GITHUB_APP_ID" in capsys.readouterr().err


def test_roles_are_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "--ingress-only" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "worker" in capsys.readouterr().out
