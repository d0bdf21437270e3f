"""Installation scans: real `installation` and `installation_repositories` deliveries.

Each added repository becomes one scan item on the queue, and its
default-branch head gets one completed check run; no cap; an uninstall or a
suspension stops the scan. `scan_repositories` (a direct scan) keeps its bounds.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.core.analysis import analyse
from bot.core.render import check_run_output
from bot.github import scan
from bot.github.client import RateBook
from bot.github.context import Context
from bot.github.routes import installation
from bot.github.routes.installation import (
    SCAN_LIMIT,
    Outcome,
    ScanRepository,
    Stop,
    parse_repositories,
    scan_repositories,
)
from bot.server.app import CONTEXT_KEY
from bot.store.sqlite import SqliteStore
from tests.fake_github import FakeGitHub, Repo, folder_files
from tests.fake_github.git_data import set_branch
from tests.github.conftest import RIPGREP_CASE, Deliver, load_payload, settled
from tests.paths import CORPUS

SERDE_CASE = CORPUS / "serde-rs__serde@1023d07751"  # clean
ZOXIDE_CASE = CORPUS / "ajeetdsouza__zoxide@e3ef7c9b41"  # musl used, libc ok
TOKEI_CASE = CORPUS / "XAMPPRocky__tokei@f6b8cadeba"  # at risk, failure
INSTALLATION_ID = 1  # the fake's default installation
VERDICTS = {  # expected.json wording -> Verdict value
    "at risk": "at-risk",
    "old libc, no musl use found": "old-libc",
    "musl used, libc ok": "musl-libc-ok",
    "clean": "clean",
}
TOKENS = "/app/installations/1/access_tokens"


def add_case(
    fake: FakeGitHub, full_name: str, case: Path, *, branch: str = "main"
) -> str:
    """Add a repository whose default branch head holds a corpus case."""
    fake.add_repo(full_name, default_branch=branch)
    sha = fake.add_folder(full_name, case)
    set_branch(fake, full_name, branch, sha)
    return sha


def payload(name: str, key: str, repos: list[Repo | str]) -> dict[str, Any]:
    """Return a real payload listing `repos` (a missing one by `owner/name`)."""
    data = load_payload(name)
    data["installation"]["id"] = INSTALLATION_ID
    template = data[key][0]
    items = []
    for n, repo in enumerate(repos):
        item = copy.deepcopy(template)
        if isinstance(repo, str):
            item.update(id=9_000_000 + n, name=repo.split("/")[1], full_name=repo)
        else:
            item.update(id=repo.id, name=repo.name, full_name=repo.full_name)
        item["private"] = n % 2 == 0  # private repositories are scanned too
        items.append(item)
    data[key] = items
    return data


def action_payload(name: str) -> dict[str, Any]:
    """Return a real `installation` payload for our installation."""
    data = load_payload(name)
    data["installation"]["id"] = INSTALLATION_ID
    return data


def expected(case: Path) -> tuple[str, str]:
    """Return the conclusion the analysis gives a case and its hand-checked verdict."""
    conclusion = check_run_output(analyse(folder_files(case))).conclusion.value
    verdict = json.loads((case / "expected.json").read_text())["verdict"]
    return conclusion, VERDICTS[verdict]


def app_of(bot: TestClient[Any, Any]) -> web.Application:
    app = bot.server.app
    assert app is not None
    return app


def ctx_of(bot: TestClient[Any, Any]) -> Context:
    return app_of(bot)[CONTEXT_KEY]


async def verdicts(store: SqliteStore) -> dict[str, str]:
    return {r.repo: r.verdict for r in await store.results()}


async def test_created_checks_each_default_branch_head(
    fake_github: FakeGitHub, deliver: Deliver, store: SqliteStore
) -> None:
    cases = {
        "acme/ripgrep": (RIPGREP_CASE, "main"),
        "acme/serde": (SERDE_CASE, "master"),
        "acme/tokei": (TOKEI_CASE, "release/2.x"),
    }
    heads = {
        name: add_case(fake_github, name, case, branch=branch)
        for name, (case, branch) in cases.items()
    }
    # A commit on another branch is not the default head: never checked.
    other = fake_github.add_commit("acme/serde", folder_files(ZOXIDE_CASE))
    set_branch(fake_github, "acme/serde", "feature", other)
    repos: list[Repo | str] = [fake_github.repos[n] for n in cases]
    resp = await deliver(
        "installation.created",
        payload=payload("installation.created", "repositories", repos),
    )
    assert resp.status == 202
    for name, (case, _) in cases.items():
        (run,) = fake_github.runs_for(name)
        assert run["head_sha"] == heads[name]
        assert run["status"] == "completed"
        assert run["name"] == "musl-check"
        assert run["external_id"] == ""
        assert run["conclusion"] == expected(case)[0]
    assert {r["conclusion"] for r in fake_github.check_runs} == {
        "neutral",
        "success",
        "failure",
    }
    assert fake_github.runs_for("acme/serde", other) == []
    assert await verdicts(store) == {n: expected(c)[1] for n, (c, _) in cases.items()}
    # The default branch's name came from the repository (the payload has
    # none), read only for the repositories whose tree showed Rust.
    assert fake_github.calls("GET", "/commits/release/2.x")
    assert len(fake_github.calls("POST", TOKENS)) == 1
    assert fake_github.violations == []


async def test_added_repositories_are_checked(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    head = add_case(fake_github, "acme/ripgrep", RIPGREP_CASE)
    already = add_case(fake_github, "acme/serde", SERDE_CASE)
    data = payload(
        "installation_repositories.added",
        "repositories_added",
        [fake_github.repos["acme/ripgrep"]],
    )
    await deliver("installation_repositories.added", payload=data)
    (run,) = fake_github.runs_for("acme/ripgrep")
    assert (run["head_sha"], run["status"]) == (head, "completed")
    assert run["conclusion"] == expected(RIPGREP_CASE)[0]
    assert fake_github.runs_for("acme/serde", already) == []  # not added
    # The same signed body under a new delivery id is a replay: no request.
    before = len(fake_github.requests)
    await deliver("installation_repositories.added", payload=data)
    assert len(fake_github.requests) == before
    # Another delivery adding it finds the run in the store once the head is
    # known: no second run, no blob read (tree, repository, head commit only).
    other = copy.deepcopy(data)
    other["sender"]["id"] += 1
    await deliver("installation_repositories.added", payload=other)
    assert len(fake_github.runs_for("acme/ripgrep")) == 1
    again = [(r.method, r.path) for r in fake_github.requests[before:]]
    assert again == [
        ("GET", "/repos/acme/ripgrep/git/trees/HEAD"),
        ("GET", "/repos/acme/ripgrep"),
        ("GET", "/repos/acme/ripgrep/commits/main"),
    ]
    assert fake_github.violations == []


async def test_removed_repositories_are_not_checked(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    add_case(fake_github, "acme/ripgrep", RIPGREP_CASE)
    data = payload(
        "installation_repositories.removed",
        "repositories_removed",
        [fake_github.repos["acme/ripgrep"]],
    )
    assert (await deliver("installation_repositories.removed", payload=data)).status
    assert fake_github.check_runs == []
    assert fake_github.calls("GET", "/repos/") == []


async def test_empty_archived_and_missing_repositories_get_no_run(
    fake_github: FakeGitHub, deliver: Deliver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=installation.__name__)
    empty = fake_github.add_repo("acme/empty")
    empty.empty = True
    add_case(fake_github, "acme/old", RIPGREP_CASE)
    fake_github.extra["archived"] = {"acme/old"}
    head = add_case(fake_github, "acme/serde", SERDE_CASE)
    fake_github.add_repo("acme/no-branch", default_branch="trunk")  # ref 404
    repos: list[Repo | str] = [
        empty,
        fake_github.repos["acme/old"],
        "acme/gone",  # removed meanwhile: 404
        fake_github.repos["acme/no-branch"],
        fake_github.repos["acme/serde"],
    ]
    await deliver(
        "installation.created",
        payload=payload("installation.created", "repositories", repos),
    )
    assert [(r["repo"], r["head_sha"]) for r in fake_github.check_runs] == [
        ("acme/serde", head)
    ]
    # One request each for the empty, missing and branchless repositories;
    # the archived one shows Rust, so its flag is read before anything else.
    for name in ("acme/empty", "acme/gone", "acme/no-branch"):
        assert [r.path for r in fake_github.calls(None, f"/repos/{name}")] == [
            f"/repos/{name}/git/trees/HEAD"
        ]
    assert [r.path for r in fake_github.calls(None, "/repos/acme/old")] == [
        "/repos/acme/old/git/trees/HEAD",
        "/repos/acme/old",
    ]
    done = [r for r in caplog.records if r.msg == "scan item done"]
    # Without the listing, a 404 tree (gone, or no branch) is not told apart.
    assert sorted(getattr(r, "outcome", "") for r in done) == sorted(
        ["checked", "empty", "archived", "unreadable", "unreadable"]
    )
    assert fake_github.violations == []


async def test_every_repository_is_scanned_without_a_cap(
    fake_github: FakeGitHub, deliver: Deliver, caplog: pytest.LogCaptureFixture
) -> None:
    first = add_case(fake_github, "acme/first", SERDE_CASE)
    beyond = ["acme/beyond-1", "acme/beyond-2"]
    for name in beyond:
        add_case(fake_github, name, ZOXIDE_CASE)
    missing = [f"acme/missing-{n}" for n in range(SCAN_LIMIT)]
    repos: list[Repo | str] = [
        fake_github.repos["acme/first"],
        *missing,
        *(fake_github.repos[n] for n in beyond),  # past the old cap of 200
    ]
    caplog.set_level(logging.INFO, logger=installation.__name__)
    await deliver(
        "installation.created",
        payload=payload("installation.created", "repositories", repos),
    )
    assert [r["head_sha"] for r in fake_github.runs_for("acme/first")] == [first]
    for name in beyond:
        assert len(fake_github.runs_for(name)) == 1
    assert len(fake_github.check_runs) == 3
    assert "capped" not in caplog.text
    done = [r for r in caplog.records if r.msg == "scan item done"]
    assert len(done) == len(repos)  # one item per repository, each once
    assert fake_github.violations == []


@pytest.mark.parametrize("action", ["deleted", "suspend"])
async def test_deleted_or_suspended_forgets_tokens_and_hides_results(
    action: str, fake_github: FakeGitHub, deliver: Deliver, store: SqliteStore
) -> None:
    add_case(fake_github, "acme/ripgrep", RIPGREP_CASE)
    add_case(fake_github, "acme/serde", SERDE_CASE)
    await deliver(
        "installation.created",
        payload=payload(
            "installation.created", "repositories", [fake_github.repos["acme/ripgrep"]]
        ),
    )
    assert set(await verdicts(store)) == {"acme/ripgrep"}
    assert len(fake_github.calls("POST", TOKENS)) == 1
    await deliver(
        f"installation.{action}", payload=action_payload(f"installation.{action}")
    )
    assert await verdicts(store) == {}  # inactive installation: results hidden
    # The cached token was dropped: the next API work asks for a new one.
    await deliver(
        "installation_repositories.added",
        payload=payload(
            "installation_repositories.added",
            "repositories_added",
            [fake_github.repos["acme/serde"]],
        ),
    )
    assert len(fake_github.calls("POST", TOKENS)) == 2
    assert len(fake_github.runs_for("acme/serde")) == 1
    assert fake_github.violations == []


@pytest.mark.parametrize("action", ["unsuspend", "new_permissions_accepted"])
async def test_unsuspend_lists_repositories_and_checks_only_new_heads(
    action: str, fake_github: FakeGitHub, deliver: Deliver, store: SqliteStore
) -> None:
    add_case(fake_github, "acme/ripgrep", RIPGREP_CASE)
    await deliver(
        "installation.created",
        payload=payload(
            "installation.created", "repositories", [fake_github.repos["acme/ripgrep"]]
        ),
    )
    await deliver(
        "installation.suspend", payload=action_payload("installation.suspend")
    )
    # Gained while suspended: the payload does not name it, the listing does.
    head = add_case(fake_github, "acme/serde", SERDE_CASE)
    name = "installation.unsuspend"  # the real payload; its action set below
    data = action_payload(name)
    data["action"] = action
    await deliver(name, payload=data)
    assert set(await verdicts(store)) == {"acme/ripgrep", "acme/serde"}
    assert len(fake_github.runs_for("acme/ripgrep")) == 1  # head already checked
    assert [r["head_sha"] for r in fake_github.runs_for("acme/serde")] == [head]
    assert len(fake_github.calls("GET", "/installation/repositories")) == 1
    assert fake_github.violations == []


async def test_repository_listing_follows_every_page(
    fake_github: FakeGitHub, deliver: Deliver, store: SqliteStore
) -> None:
    names = [f"acme/empty-{n:03d}" for n in range(230)]
    for name in names:
        fake_github.add_repo(name).empty = True  # one request each, no run
    await deliver(
        "installation.unsuspend", payload=action_payload("installation.unsuspend")
    )
    pages = fake_github.calls("GET", "/installation/repositories")
    assert [c.query.get("page", "1") for c in pages] == ["1", "2", "3"]
    assert all(c.query["per_page"] == "100" for c in pages)
    looked = {c.path.split("/")[3] for c in fake_github.calls("GET", "/repos/acme/")}
    assert looked == {n.split("/")[1] for n in names}
    assert fake_github.check_runs == []
    assert fake_github.violations == []


def hold_scan(app: web.Application, installation_id: int) -> None:
    """Make the feeder hold the installation's items: its rate limit is spent."""
    app[CONTEXT_KEY].clients.rates.note(
        installation_id,
        {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(time.time()) + 3600),
        },
    )


@pytest.mark.parametrize("action", ["deleted", "suspend"])
async def test_scan_stops_when_the_installation_goes_meanwhile(
    action: str,
    fake_github: FakeGitHub,
    deliver: Deliver,
    bot: TestClient[Any, Any],
    store: SqliteStore,
) -> None:
    names = [f"acme/repo-{n}" for n in range(6)]
    for name in names:
        add_case(fake_github, name, SERDE_CASE)
    listed = payload(
        "installation.created", "repositories", [fake_github.repos[n] for n in names]
    )["repositories"]
    hold_scan(app_of(bot), INSTALLATION_ID)  # the scan waits in the backlog
    assert await scan.enqueue(store, INSTALLATION_ID, listed, "test") == len(names)
    await deliver(
        f"installation.{action}", payload=action_payload(f"installation.{action}")
    )
    assert await store.scan_backlog_size() == 0  # dropped
    # An item already on the queue (another worker had moved it) ends at once.
    item = scan.scan_body(INSTALLATION_ID, listed[0])
    await store.add_delivery("scan:queued", scan.SCAN_EVENT, item)
    await settled(app_of(bot))
    assert fake_github.check_runs == []
    assert fake_github.requests == []


async def test_scan_waits_while_the_rate_limit_is_at_its_reserve(
    fake_github: FakeGitHub, bot: TestClient[Any, Any], store: SqliteStore
) -> None:
    head = add_case(fake_github, "acme/serde", SERDE_CASE)
    listed = payload(
        "installation.created", "repositories", [fake_github.repos["acme/serde"]]
    )["repositories"]
    rates = ctx_of(bot).clients.rates  # the running feeder's, too
    reset = time.time() + 60
    low = {"x-ratelimit-limit": "5000", "x-ratelimit-reset": str(reset)}
    rates.note(INSTALLATION_ID, {**low, "x-ratelimit-remaining": "1000"})
    await scan.enqueue(store, INSTALLATION_ID, listed, "test")
    assert await scan.feed_once(store, rates) == 0  # 1000 of 5000: the reserve
    assert await store.scan_backlog_size() == 1
    assert await scan.feed_once(store, rates, now=reset) == 1  # the limit reset
    rates.note(INSTALLATION_ID, {**low, "x-ratelimit-remaining": "1001"})
    assert rates.paused_until(INSTALLATION_ID, time.time()) is None
    rates.note(INSTALLATION_ID, {"x-ratelimit-limit": "many"})  # ignored
    assert rates.paused_until(INSTALLATION_ID, time.time()) is None
    await settled(app_of(bot))
    assert [r["head_sha"] for r in fake_github.runs_for("acme/serde")] == [head]


async def test_feeder_leaves_room_for_deliveries(store: SqliteStore) -> None:
    for n in range(scan.QUEUE_ROOM - 1):
        await store.add_delivery(f"push-{n}", "push", b"{}")
    items = [{"id": n, "full_name": f"acme/r{n}"} for n in range(10)]
    assert await scan.enqueue(store, INSTALLATION_ID, items, "t") == 10
    assert await scan.enqueue(store, INSTALLATION_ID, items, "t") == 0  # same ids
    assert await scan.feed_once(store, RateBook()) == 1  # up to QUEUE_ROOM queued
    assert await scan.feed_once(store, RateBook()) == 0
    assert await store.depth() == scan.QUEUE_ROOM
    assert await store.scan_backlog_size() == 9


async def test_scan_stops_at_its_time_budget(
    fake_github: FakeGitHub, bot: TestClient[Any, Any]
) -> None:
    add_case(fake_github, "acme/serde", SERDE_CASE)
    repo = fake_github.repos["acme/serde"]
    repos = [ScanRepository(repo.id, repo.owner, repo.name)] * 3
    result = await scan_repositories(ctx_of(bot), INSTALLATION_ID, repos, budget_s=0)
    assert result.stopped == Stop.TIME_BUDGET
    assert result.outcomes == {Outcome.NOT_REACHED: 3}
    assert fake_github.requests == []


async def test_scan_limit_applies_to_direct_calls(
    fake_github: FakeGitHub, bot: TestClient[Any, Any]
) -> None:
    sha = add_case(fake_github, "acme/serde", SERDE_CASE)
    add_case(fake_github, "acme/ripgrep", RIPGREP_CASE)
    repos = [
        ScanRepository(fake_github.repos[n].id, "acme", n.split("/")[1])
        for n in ("acme/serde", "acme/ripgrep")
    ]
    result = await scan_repositories(ctx_of(bot), INSTALLATION_ID, repos, limit=1)
    assert result.over_limit == 1
    assert result.outcomes == {Outcome.CHECKED: 1}
    assert [r["head_sha"] for r in fake_github.check_runs] == [sha]
    assert fake_github.violations == []


def test_parse_repositories_keeps_only_well_formed_entries() -> None:
    real = load_payload("installation.created")["repositories"][0]
    items: list[Any] = [
        real,
        dict(real),  # duplicate id
        {"id": True, "full_name": "a/b"},
        {"id": 5, "full_name": "no-slash"},
        {"id": 6, "full_name": "a/b/c"},
        {"id": 7, "full_name": "/b"},
        {"id": "8", "full_name": "a/b"},
        {"id": 9},
        None,
        "acme/app",
        {"id": 10, "full_name": "acme/app", "private": True},
    ]
    assert parse_repositories(items) == [
        ScanRepository(real["id"], "Codertocat", "Hello-World"),
        ScanRepository(10, "acme", "app"),
    ]
    assert parse_repositories(None) == []
    assert parse_repositories({"repositories": items}) == []


async def test_malformed_repository_lists_give_no_work(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    add_case(fake_github, "acme/serde", SERDE_CASE)
    data = payload("installation.created", "repositories", [])
    data["repositories"] = [{"id": "x"}, 7, None, {"full_name": "acme/serde"}]
    assert (await deliver("installation.created", payload=data)).status == 202
    data = payload("installation_repositories.added", "repositories_added", [])
    data["repositories_added"] = "acme/serde"
    assert (
        await deliver("installation_repositories.added", payload=data)
    ).status == 202
    assert fake_github.check_runs == []
    assert fake_github.calls("GET", "/repos/") == []


# A repository with no sign of Rust (a Node project).
NODE: dict[str, bytes] = {
    "package.json": b'{"name": "web"}\n',
    ".github/workflows/ci.yml": b"on: push\njobs: {}\n",
}


def listed(repo: Repo, *, archived: bool = False) -> ScanRepository:
    """Return the repository as GET /installation/repositories describes it."""
    item = load_payload("installation.created")["repositories"][0]
    item.update(
        id=repo.id,
        full_name=repo.full_name,
        default_branch=repo.default_branch,
        archived=archived,
        disabled=False,
    )
    (found,) = parse_repositories([item])
    return found


async def test_triage_costs_per_repository(
    fake_github: FakeGitHub, bot: TestClient[Any, Any]
) -> None:
    node = fake_github.add_repo("acme/web")
    set_branch(
        fake_github, "acme/web", "main", fake_github.add_commit("acme/web", NODE)
    )
    empty = fake_github.add_repo("acme/empty")
    empty.empty = True
    add_case(fake_github, "acme/old", RIPGREP_CASE)
    head = add_case(fake_github, "acme/serde", SERDE_CASE, branch="master")
    repos = [
        listed(node),
        listed(empty),
        listed(fake_github.repos["acme/old"], archived=True),
        listed(fake_github.repos["acme/serde"]),
    ]
    result = await scan_repositories(ctx_of(bot), INSTALLATION_ID, repos)
    assert result.outcomes == {
        Outcome.NOT_RUST: 1,
        Outcome.EMPTY: 1,
        Outcome.ARCHIVED: 1,
        Outcome.CHECKED: 1,
    }

    def spent(name: str) -> list[tuple[str, str]]:
        return [
            (r.method, r.path.removeprefix(f"/repos/{name}"))
            for r in fake_github.calls(None, f"/repos/{name}")
        ]

    assert spent("acme/web") == [("GET", "/git/trees/main")]
    assert spent("acme/empty") == [("GET", "/git/trees/main")]
    assert spent("acme/old") == []
    serde = spent("acme/serde")
    blobs = [c for c in serde if c[1].startswith("/git/blobs/")]
    assert blobs  # a cold cache: every read file once
    assert [c for c in serde if c not in blobs] == [
        ("GET", "/git/trees/master"),
        ("GET", "/commits/master"),
        ("POST", "/check-runs"),
    ]
    assert [r["head_sha"] for r in fake_github.check_runs] == [head]
    assert fake_github.violations == []


@pytest.mark.parametrize(
    ("fault", "outcome", "listed"),
    [
        (("GET", "/git/trees/", 403), Outcome.UNREADABLE, False),
        (("GET", "/git/trees/", 404), Outcome.NO_BRANCH, True),
        (("GET", "/repos/acme/serde", 451), Outcome.UNREADABLE, False),
        (("GET", "/commits/", 409), Outcome.EMPTY, True),
        (("GET", "/commits/", 422), Outcome.NO_BRANCH, True),
        (("GET", "/commits/", 400), Outcome.FAILED, True),
        (("GET", "/git/trees/", 429), Outcome.FAILED, True),
    ],
)
async def test_answers_that_end_a_repository(
    fault: tuple[str, str, int],
    outcome: Outcome,
    listed: bool,
    fake_github: FakeGitHub,
    bot: TestClient[Any, Any],
) -> None:
    add_case(fake_github, "acme/serde", SERDE_CASE)
    repo = fake_github.repos["acme/serde"]
    method, path, status = fault
    fake_github.fail(method, path, status, times=5, exact=path == "/repos/acme/serde")
    scan = listed_repo(repo) if listed else ScanRepository(repo.id, "acme", "serde")
    result = await scan_repositories(ctx_of(bot), INSTALLATION_ID, [scan])
    assert result.outcomes == {outcome: 1}
    assert fake_github.check_runs == []


def listed_repo(repo: Repo) -> ScanRepository:
    """Return the repository as a listing names it (default branch, not archived)."""
    return ScanRepository(repo.id, repo.owner, repo.name, repo.default_branch, False)


async def test_rate_limit_stops_the_scan(
    fake_github: FakeGitHub, bot: TestClient[Any, Any]
) -> None:
    add_case(fake_github, "acme/serde", SERDE_CASE)
    repo = fake_github.repos["acme/serde"]
    fake_github.fail(
        "GET",
        "/git/trees/",
        403,
        headers={
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": str(int(time.time()) + 3600),  # too long to wait
        },
        times=5,
    )
    scan = [listed_repo(repo), listed_repo(repo)]
    result = await scan_repositories(ctx_of(bot), INSTALLATION_ID, scan)
    assert result.stopped == Stop.RATE_LIMITED
    assert fake_github.check_runs == []
