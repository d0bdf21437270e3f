"""Missed deliveries are redelivered once; flaky GitHub still gets true verdicts."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.core.analysis import analyse
from bot.core.render import check_run_output
from bot.github.context import Options
from bot.github.recovery import MARK, recover_missed
from bot.queue import RetryPolicy
from bot.server import create_app
from bot.server.app import CONTEXT_KEY
from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from tests.fake_github import FakeGitHub, folder_files
from tests.fake_github.hooks import deliveries, record_delivery
from tests.github.conftest import (
    REPO,
    RIPGREP_CASE,
    adjust,
    corpus_cases,
    load_payload,
    settled,
)
from tests.server.serverkit import headers

ClientMaker = Callable[..., Awaitable[TestClient[Any, Any]]]


async def test_delivery_missed_while_down_is_redelivered_once(
    fake_github: FakeGitHub,
    settings: Settings,
    store: SqliteStore,
    options: Options,
    aiohttp_client: ClientMaker,
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP_CASE)
    name = "check_suite.requested"
    body = json.dumps(
        adjust(name, load_payload(name), fake_github, repo=REPO, sha=sha)
    ).encode()
    missed = str(uuid.uuid4())
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    # 150 deliveries that went fine (more than one page), older ones first...
    for i in range(150):
        when = long_ago + timedelta(seconds=i)
        record_delivery(fake_github, f"ok-{i}", "push", None, 202, delivered_at=when)
    # ...and the one that failed while the App was down, oldest of all.
    old = long_ago - timedelta(minutes=5)
    record_delivery(
        fake_github, missed, "check_suite", "requested", 502, delivered_at=old
    )
    # One the App recorded (its answer was lost on the way back): not asked for.
    assert await store.add_delivery("recorded", "push", b"{}")
    await store.finish("recorded")
    record_delivery(fake_github, "recorded", "push", None, 504)

    bodies = {missed: body}
    client: TestClient[Any, Any] | None = None
    redelivered = asyncio.Event()

    async def redeliver(item: dict[str, Any]) -> int:
        assert client is not None
        guid = item["guid"]
        resp = await client.post(
            "/webhook",
            data=bodies[guid],
            headers=headers(bodies[guid], "check_suite", guid),
        )
        redelivered.set()
        return resp.status

    fake_github.extra["redeliver"] = redeliver
    app = create_app(settings, store=store, options=options, poll_s=0.01)
    client = await aiohttp_client(app)  # the first pass runs at start-up
    async with asyncio.timeout(30):
        await redelivered.wait()
    await settled(app)

    (run,) = fake_github.runs_for(REPO, sha)
    want = check_run_output(analyse(folder_files(RIPGREP_CASE)))
    assert (run["conclusion"], run["output"]["title"]) == (want.conclusion, want.title)
    asked = fake_github.calls("POST", "/app/hook/deliveries/")
    assert len(asked) == 1  # the missed one only
    listings = fake_github.calls("GET", "/app/hook/deliveries")
    assert any("cursor" in r.query for r in listings)  # followed the Link header
    text = await (await client.get("/metrics")).text()
    assert "musl_check_redeliveries_requested_total 1.0" in text
    assert await store.get_mark(MARK) is not None

    # Another instance right after: it leaves the pass to the one that ran.
    gh = app[CONTEXT_KEY].clients.app_client()
    soon = await recover_missed(gh, store, now=datetime.now(UTC))
    assert soon.skipped
    # A later pass (or a restart) starts from the mark: nothing more to ask.
    later = datetime.now(UTC) + timedelta(minutes=5)
    again = await recover_missed(gh, store, now=later)
    assert not again.skipped
    assert again.redelivered == 0
    assert again.listed < 10  # not the whole three days again
    assert len(fake_github.calls("POST", "/app/hook/deliveries/")) == 1
    assert len(fake_github.runs_for(REPO, sha)) == 1
    assert [
        d["redelivery"] for d in deliveries(fake_github) if d["guid"] == missed
    ] == [
        False,
        True,
    ]
    assert fake_github.violations == []


async def test_redeliveries_per_pass_are_bounded(
    fake_github: FakeGitHub, store: SqliteStore, bot: TestClient[Any, Any]
) -> None:
    for i in range(5):
        record_delivery(fake_github, f"lost-{i}", "push", None, 500)
    app = bot.server.app
    assert isinstance(app, web.Application)
    gh = app[CONTEXT_KEY].clients.app_client()
    now = datetime.now(UTC)
    first = await recover_missed(gh, store, now=now, limit=3)
    assert (first.redelivered, first.complete) == (3, False)
    assert await store.get_mark(MARK) is None  # the rest is still to do
    later = now + timedelta(minutes=5)
    second = await recover_missed(gh, store, now=later, limit=3)
    # The three asked for failed again (no App answered them): asked again,
    # as GitHub keeps them failed; the bound still holds.
    assert second.redelivered == 3


async def test_flaky_github_every_delivery_gets_its_true_verdict(
    fake_github: FakeGitHub,
    settings: Settings,
    store: SqliteStore,
    options: Options,
    aiohttp_client: ClientMaker,
) -> None:
    cases = corpus_cases()[:10]
    shas = {}
    for i, case in enumerate(cases):
        repo = f"acme/r{i}"
        shas[repo] = (fake_github.add_folder(repo, case), case)
    # Thirty percent of GitHub's answers are 502s, from a fixed seed.
    fake_github.extra["flaky"] = (random.Random(1234), 0.3)  # noqa: S311 - not crypto
    app = create_app(
        settings,
        store=store,
        options=options,
        poll_s=0.01,
        retry=RetryPolicy(base_s=0.01, max_attempts=15),
    )
    client = await aiohttp_client(app)
    name = "check_suite.requested"
    for repo, (sha, _) in shas.items():
        data = adjust(name, load_payload(name), fake_github, repo=repo, sha=sha)
        body = json.dumps(data).encode()
        resp = await client.post(
            "/webhook",
            data=body,
            headers=headers(body, "check_suite"),
        )
        assert resp.status == 202
    await settled(app)
    del fake_github.extra["flaky"]
    for repo, (sha, case) in shas.items():
        (run,) = fake_github.runs_for(repo, sha)
        want = check_run_output(analyse(folder_files(case)))
        assert run["status"] == "completed", repo
        assert (run["conclusion"], run["output"]["title"]) == (
            want.conclusion,
            want.title,
        ), repo
    text = await (await client.get("/metrics")).text()
    assert "musl_check_deliveries_retried_total" in text
    assert fake_github.violations == []
