"""GET /, /healthz, /metrics, logging formats and `serve` start-up."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

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


async def test_status_page_escapes_results(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    await store.save_result(1, "acme/app", "a" * 40, "at-risk", "libc <b>0.2.140</b>")
    await store.save_result(1, "acme/ok", "b" * 40, "clean", "fine & dandy")
    client = await aiohttp_client(create_app(settings, store=store, handler=recorder))
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    assert "App ID <code>12345</code>" in page
    assert "acme/app" in page
    assert '<td class="v-at-risk">at-risk</td>' in page
    assert "<code>aaaaaaaaaaaa</code>" in page
    assert "libc &lt;b&gt;0.2.140&lt;/b&gt;" in page
    assert "fine &amp; dandy" in page
    assert "2 repositories" in page
    assert SECRET not in page
    assert "PRIVATE KEY" not in page


async def test_status_page_empty(
    aiohttp_client, settings: Settings, store: SqliteStore, recorder: Recorder
) -> None:
    client = await aiohttp_client(create_app(settings, store=store, handler=recorder))
    assert "No repository checked yet." in await (await client.get("/")).text()


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
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    text = err.decode()
    if configured:
        assert SECRET not in text
        assert "PRIVATE KEY" not in text
    else:
        # The one-time link goes to a 0600 file beside .env, never to the log.
        assert "open the setup link" in text
        assert "?token=" not in text
        link = tmp_path / ".musl-check-setup-link"
        assert "/?token=" in link.read_text()
        assert link.stat().st_mode & 0o777 == 0o600
