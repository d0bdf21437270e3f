"""The readiness dashboard over HTTP: sign-in through the fake GitHub's OAuth, the
page, its exports, and who is refused. (tests/browser/ drives it in Chromium.)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from bot.server import create_app
from bot.server.dashboard import SESSION_COOKIE, SIGN_IN_COOKIE
from bot.settings import Settings
from bot.store import RepositoryResult
from bot.store.sqlite import SqliteStore
from tests.fake_github import FakeGitHub
from tests.fake_github.oauth import CLIENT_ID, CLIENT_SECRET, oauth_state

ORG = "acme"
INSTALLATION = 1
Client = TestClient[Any, Any]

ROWS = (
    RepositoryResult(
        INSTALLATION, 10, "acme/zeta", "a" * 40, "at-risk", ("0.2.140",),
        ("x86_64-unknown-linux-musl",), "https://github.com/acme/zeta/runs/5", 3,
        1_767_225_600.0,
    ),
    RepositoryResult(
        INSTALLATION, 11, "acme/alpha", "b" * 40, "clean", ("0.2.172",), (),
        "https://github.com/acme/alpha/runs/6", None, 1_767_229_200.0,
    ),
    # Repository text from a lockfile and a workflow: must be escaped.
    RepositoryResult(
        INSTALLATION, 12, "acme/beta", "c" * 40, "old-libc",
        ("<script>alert(1)</script>",), ("=cmd|' /C calc'!A0",),
        "javascript:alert(1)", None, 1_767_232_800.0,
    ),
)  # fmt: skip


async def fill(store: SqliteStore) -> None:
    """Store the installation, its four repositories and three results."""
    await store.set_installation(INSTALLATION, "Acme", True)
    await store.set_installation(2, "other", True)
    await store.add_repositories(
        INSTALLATION, [(r.repo_id, r.repo) for r in ROWS] + [(13, "acme/unchecked")]
    )
    for row in ROWS:
        await store.save_repository_result(row)


@pytest.fixture
def make_client(
    settings: Settings,
    store: SqliteStore,
    fake_github: FakeGitHub,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> Callable[..., Awaitable[Client]]:
    """Return `make_client(**settings)`: a client of the App with sign-in set up."""

    async def make(**changes: Any) -> Client:
        wanted = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "web_url": fake_github.extra["url"],
            "session_secret": "dashboard-test-secret",
            **changes,
        }
        configured = dataclasses.replace(settings, **wanted)
        await fill(store)
        return await aiohttp_client(create_app(configured, store=store))

    return make


async def signed_in(
    make: Callable[..., Awaitable[Client]], fake: FakeGitHub, login: str, *ids: int
) -> Client:
    """Return a client whose browser signed in to GitHub as `login`."""
    state = oauth_state(fake)
    state.signed_in = login
    state.users[login] = set(ids)
    return await make()


async def test_no_session_goes_through_github_and_back(
    make_client: Callable[..., Awaitable[Client]], fake_github: FakeGitHub
) -> None:
    client = await signed_in(make_client, fake_github, "mona", INSTALLATION)
    resp = await client.get(f"/orgs/{ORG}?format=csv", allow_redirects=False)
    assert resp.status == 302
    login = urlsplit(resp.headers["location"])
    assert login.path == "/auth/login"
    assert parse_qs(login.query) == {"next": [f"/orgs/{ORG}?format=csv"]}
    resp = await client.get(resp.headers["location"], allow_redirects=False)
    assert resp.status == 302
    target = urlsplit(resp.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == fake_github.extra["url"]
    assert target.path == "/login/oauth/authorize"
    query = parse_qs(target.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{client.make_url('/auth/callback')}"]
    assert len(query["state"][0]) >= 32
    cookie = resp.cookies[SIGN_IN_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # plain http here
    # Following the rest: GitHub, the callback, then the page asked for.
    resp = await client.session.get(resp.headers["location"])
    assert resp.status == 200
    assert resp.url.path == f"/orgs/{ORG}"
    assert resp.content_type == "text/csv"


async def test_page_counts_orders_and_escapes(
    make_client: Callable[..., Awaitable[Client]], fake_github: FakeGitHub
) -> None:
    client = await signed_in(make_client, fake_github, "mona", INSTALLATION)
    resp = await client.get(f"/orgs/{ORG}")
    assert resp.status == 200
    page = await resp.text()
    assert "<b>3 of 4</b> repositories checked" in page
    assert "<svg" in page
    assert "at-risk: 1" in page
    # At-risk first, then the others by urgency.
    assert page.index("acme/zeta") < page.index("acme/beta") < page.index("acme/alpha")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "javascript:" not in page  # not a link
    assert 'href="https://github.com/acme/zeta/runs/5"' in page
    assert f'href="{fake_github.extra["url"]}/acme/zeta/pull/3"' in page
    nonce = resp.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in page
    assert "https://cdn" not in page
    assert "src=" not in page
    assert "signed in as <b>mona</b>" in page


async def test_exports_match_the_store(
    make_client: Callable[..., Awaitable[Client]],
    fake_github: FakeGitHub,
    store: SqliteStore,
) -> None:
    client = await signed_in(make_client, fake_github, "mona", INSTALLATION)
    resp = await client.get(f"/orgs/{ORG}?format=csv")
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    stored = {r.repo: r for r in await store.repository_results(INSTALLATION)}
    assert [r["repository"] for r in rows] == [
        "acme/zeta",
        "acme/beta",
        "acme/alpha",
        "acme/unchecked",
    ]
    assert rows[3]["verdict"] == "unchecked"
    for row in rows[:3]:
        want = stored[row["repository"]]
        assert row["verdict"] == want.verdict
        assert row["head_sha"] == want.head_sha
        assert row["check_run"] == want.check_run_url
    assert rows[0]["libc"] == "0.2.140"
    assert rows[0]["last_checked"] == "2026-01-01 00:00"
    assert rows[1]["musl_targets"] == "'=cmd|' /C calc'!A0"  # no formula
    data = json.loads(await (await client.get(f"/orgs/{ORG}?format=json")).text())
    assert (data["checked"], data["repositories"]) == (3, 4)
    assert data["counts"] == {
        "at-risk": 1,
        "old-libc": 1,
        "musl-libc-ok": 0,
        "clean": 1,
    }
    assert data["rows"][0]["fix_pull_request"].endswith("/acme/zeta/pull/3")
    assert (await client.get(f"/orgs/{ORG}?format=xml")).status == 400


@pytest.mark.parametrize(
    ("login", "ids", "org"),
    [
        ("mallory", (), ORG),  # sees no installation
        ("eve", (2,), ORG),  # sees another organisation's
        ("mona", (INSTALLATION,), "nobody"),  # not installed there
        ("mona", (INSTALLATION,), "x" * 40),  # not a GitHub login
        ("mona", (INSTALLATION,), 'a"b'),
    ],
)
async def test_refused_answers_404(
    login: str,
    ids: tuple[int, ...],
    org: str,
    make_client: Callable[..., Awaitable[Client]],
    fake_github: FakeGitHub,
) -> None:
    client = await signed_in(make_client, fake_github, login, *ids)
    resp = await client.get(f"/orgs/{org}")
    if org.isalnum():
        assert resp.url.path == f"/orgs/{org}"  # signed in, came back
    assert resp.status == 404
    for fmt in ("csv", "json"):
        assert (await client.get(f"/orgs/{org}?format={fmt}")).status == 404


async def test_forged_or_replayed_sign_in_is_refused(
    make_client: Callable[..., Awaitable[Client]], fake_github: FakeGitHub
) -> None:
    client = await signed_in(make_client, fake_github, "mona", INSTALLATION)
    # A callback the browser did not start here (no state cookie): CSRF.
    resp = await client.get("/auth/callback?code=abc&state=xyz")
    assert resp.status == 400
    start = await client.get("/auth/login?next=//evil.example", allow_redirects=False)
    at_github = await client.session.get(
        start.headers["location"], allow_redirects=False
    )
    back = urlsplit(at_github.headers["location"])
    query = parse_qs(back.query)
    wrong = await client.get(f"/auth/callback?code={query['code'][0]}&state=other")
    assert wrong.status == 400
    resp = await client.get(f"{back.path}?{back.query}", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["location"] == "/"  # never to another site
    session = resp.cookies[SESSION_COOKIE]
    assert session["httponly"]
    assert session["samesite"] == "Lax"
    # The code is spent: replaying the callback fails at GitHub.
    client.session.cookie_jar.update_cookies(
        {SIGN_IN_COOKIE: start.cookies[SIGN_IN_COOKIE].value}, client.make_url("/")
    )
    again = await client.get(f"{back.path}?{back.query}", allow_redirects=False)
    assert again.status == 502
    assert "bad_verification_code" in await again.text()
    # A session cookie signed with another key is no session.
    jar = client.session.cookie_jar
    jar.clear()
    jar.update_cookies({SESSION_COOKIE: "e30.forged.sig"}, client.make_url("/"))
    resp = await client.get(f"/orgs/{ORG}", allow_redirects=False)
    assert resp.status == 302


async def test_sign_out_ends_the_session(
    make_client: Callable[..., Awaitable[Client]], fake_github: FakeGitHub
) -> None:
    client = await signed_in(make_client, fake_github, "mona", INSTALLATION)
    assert (await client.get(f"/orgs/{ORG}")).status == 200
    resp = await client.post("/auth/logout", allow_redirects=False)
    assert resp.status == 302
    assert resp.cookies[SESSION_COOKIE].value == ""
    resp = await client.get(f"/orgs/{ORG}", allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["location"].startswith("/auth/login")


async def test_cookies_are_secure_behind_https(
    make_client: Callable[..., Awaitable[Client]], fake_github: FakeGitHub
) -> None:
    client = await make_client(public_url="https://musl-check.example")
    resp = await client.get("/auth/login", allow_redirects=False)
    assert resp.cookies[SIGN_IN_COOKIE]["secure"]
    query = parse_qs(urlsplit(resp.headers["location"]).query)
    assert query["redirect_uri"] == ["https://musl-check.example/auth/callback"]
    client = await make_client()
    resp = await client.get(
        "/auth/login", headers={"X-Forwarded-Proto": "https"}, allow_redirects=False
    )
    assert resp.cookies[SIGN_IN_COOKIE]["secure"]


async def test_without_client_credentials_sign_in_is_off(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await make_client(client_id="", client_secret="")
    for path in (f"/orgs/{ORG}", "/auth/login", "/auth/callback?code=a&state=b"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 503


async def test_github_failures_end_sign_in_clearly(
    make_client: Callable[..., Awaitable[Client]], fake_github: FakeGitHub
) -> None:
    client = await signed_in(make_client, fake_github, "mona", INSTALLATION)
    fake_github.fail("GET", "/user/installations", 500, times=10)
    resp = await client.get(f"/orgs/{ORG}")
    assert resp.status == 502
    assert "GitHub would not say who signed in" in await resp.text()
