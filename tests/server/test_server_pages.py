"""GET /, /healthz, /metrics, logging formats and `serve` start-up."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from bot import __version__
from bot.server import (
    JsonFormatter,
    Role,
    TextFormatter,
    configure_logging,
    create_app,
    run,
)
from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from tests.fake_github import FakeGitHub, create_fake_app
from tests.server.serverkit import SECRET, Recorder, headers, payload, settle
from tests.threadserver import serve_in_thread

BODY = payload("pull_request", "opened")


async def test_status_page_shows_only_the_servers_state(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    await store.save_result(1, "acme/private-app", "a" * 40, "at-risk", "libc 0.2.140")
    client = await aiohttp_client(create_app(settings, store=store, handler=recorder))
    resp = await client.post("/webhook", data=BODY, headers=headers(BODY))
    assert resp.status == 202
    await settle(client.app)
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    # Role, version, store health and counts; nothing about any repository.
    assert "<th>Role</th><td>all</td>" in page
    assert f"<th>Version</th><td>{__version__}</td>" in page
    assert "<th>Store</th><td>ok</td>" in page
    assert "<th>Deliveries received</th><td>1</td>" in page
    for private in ("acme/private-app", "aaaaaaaa", "at-risk", "libc 0.2.140"):
        assert private not in page
    repo = json.loads(BODY)["repository"]
    assert repo["full_name"] not in page
    assert repo["name"] not in page
    assert SECRET not in page
    assert "PRIVATE KEY" not in page


async def test_status_page_store_down(
    aiohttp_client, settings: Settings, tmp_path: Path, recorder: Recorder
) -> None:
    store = SqliteStore.open(str(tmp_path / "closed.sqlite3"))
    client = await aiohttp_client(create_app(settings, store=store, handler=recorder))
    store._conn.close()
    store._reader.close()
    resp = await client.get("/")
    assert resp.status == 503
    assert "<th>Store</th><td>unavailable</td>" in await resp.text()


async def test_metrics_carry_no_repository_names(
    aiohttp_client, settings: Settings, store: SqliteStore
) -> None:
    failing = Recorder(error=RuntimeError("boom"))
    client = await aiohttp_client(create_app(settings, store=store, handler=failing))
    for event, action in (("pull_request", "opened"), ("push", "payload")):
        body = payload(event, action)
        resp = await client.post("/webhook", data=body, headers=headers(body, event))
        assert resp.status == 202
    bad = await client.post("/webhook", data=BODY, headers=headers(BODY, secret="x"))
    assert bad.status == 401
    await settle(client.app)
    text = await (await client.get("/metrics")).text()
    assert 'musl_check_deliveries_failed_total{event="pull_request"} 1.0' in text
    for body in (BODY, payload("push", "payload")):
        repo = json.loads(body)["repository"]
        for name in (repo["full_name"], repo["name"], repo["owner"]["login"]):
            assert name not in text
    # Every label is one of a closed set: event names and refusal reasons.
    labels = set(re.findall(r'\{(\w+)="', text))
    assert labels <= {"event", "reason", "le"}


async def test_healthz(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    client = await aiohttp_client(create_app(settings, store=store, handler=recorder))
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {
        "status": "ok",
        "store": "ok",
        "in_flight": 0,
        "role": "all",
        "queue_depth": 0,
    }


async def test_metrics_per_app(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    one = await aiohttp_client(create_app(settings, store=store, handler=recorder))
    # On one store the second app's consumers could take the delivery: it
    # only records (its metrics must still be its own).
    two = await aiohttp_client(
        create_app(settings, store=store, handler=recorder, role=Role.WEB)
    )
    resp = await one.post("/webhook", data=BODY, headers=headers(BODY))
    assert resp.status == 202
    await settle(one.app)
    metrics = await one.get("/metrics")
    assert metrics.headers["Content-Type"].startswith("text/plain; version=")
    text = await metrics.text()
    assert 'musl_check_deliveries_received_total{event="pull_request"} 1.0' in text
    assert (
        'musl_check_delivery_processing_seconds_count{event="pull_request"} 1.0' in text
    )
    assert "musl_check_deliveries_in_flight 0.0" in text
    other = await (await two.get("/metrics")).text()
    assert "musl_check_deliveries_received_total{" not in other


def _record(**extra: object) -> logging.LogRecord:
    logger = logging.getLogger("bot.server")
    return logger.makeRecord(
        "bot.server",
        logging.INFO,
        __file__,
        1,
        "delivery accepted",
        (),
        None,
        extra=extra,
    )


def test_json_formatter() -> None:
    line = JsonFormatter().format(_record(delivery_id="d1", event="push"))
    data = json.loads(line)
    assert data["message"] == "delivery accepted"
    assert data["level"] == "INFO"
    assert data["logger"] == "bot.server"
    assert (data["delivery_id"], data["event"]) == ("d1", "push")
    assert data["ts"].endswith("+00:00")
    try:
        raise ValueError("x")
    except ValueError:
        rec = _record()
        rec.exc_info = sys.exc_info()
    assert "ValueError" in json.loads(JsonFormatter().format(rec))["exc"]


def test_text_formatter() -> None:
    line = TextFormatter().format(_record(delivery_id="d1"))
    assert line.endswith("INFO bot.server: delivery accepted [delivery_id=d1]")
    assert TextFormatter().format(_record()).endswith("delivery accepted")


def test_configure_logging_json(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", "json")
        stream = io.StringIO()
        root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
        logging.getLogger("bot.test").debug("hello", extra={"repo": "a/b"})
        assert json.loads(stream.getvalue())["repo"] == "a/b"
        configure_logging("INFO", "text")
        assert isinstance(root.handlers[0].formatter, TextFormatter)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]


def test_run_partial_config_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run({"GITHUB_APP_ID": "1"}, "127.0.0.1", None) == 2
    err = capsys.readouterr().err
    assert "GITHUB_WEBHOOK_SECRET is not set" in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> dict[str, object]:
    for _ in range(600):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 -- loopback
                return dict(json.loads(resp.read()))
        except OSError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


@pytest.fixture
def github_url(pem: str) -> Iterator[str]:
    """Serve a fake GitHub that knows this key's App (start-up asks GET /app)."""
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with serve_in_thread(create_fake_app(FakeGitHub(12345, public))) as url:
        yield url


@pytest.mark.parametrize("configured", [True, False])
def test_serve_subprocess(
    configured: bool, env: dict[str, str], tmp_path: Path, github_url: str
) -> None:
    port = _free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    if configured:
        child_env |= env | {"LOG_FORMAT": "json", "GITHUB_API_URL": github_url}
    child_env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
        [
            sys.executable,
            "-c",
            f"from bot.server import serve; serve('127.0.0.1', {port})",
        ],
        cwd=tmp_path,
        env=child_env,
        stderr=subprocess.PIPE,
    )
    try:
        health = _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)
        assert health["status"] == ("ok" if configured else "setup")
        if not configured:
            guess = f"http://127.0.0.1:{port}/?token=guessed-token"
            with pytest.raises(urllib.error.HTTPError, match="403"):
                urllib.request.urlopen(guess, timeout=5)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    text = err.decode()
    if configured:
        assert SECRET not in text
        assert "PRIVATE KEY" not in text
    else:
        # The one-time link is printed as a full URL (stderr is a pipe here,
        # not a terminal) and written to a 0600 file beside .env; the log
        # lines never carry it, nor the query strings of requests.
        link = tmp_path / ".musl-check-setup-link"
        url = link.read_text().strip()
        assert url.startswith(f"http://127.0.0.1:{port}/?token=")
        assert link.stat().st_mode & 0o777 == 0o600
        assert f"musl-check setup: open {url}" in text
        assert "PUBLIC_URL" in text
        assert "smee.io" in text
        assert "a loopback address" in text
        logged = [
            line for line in text.splitlines() if " INFO " in line or "WARNING" in line
        ]
        assert any("open the setup link" in line for line in logged)
        assert any("GET / 403" in line for line in logged)
        assert not any("token" in line and "?" in line for line in logged)
        assert "guessed-token" not in text
