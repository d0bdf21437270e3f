"""The readiness dashboard in a real browser: Playwright driving Debian's Chromium.

The App and the fake GitHub listen on loopback; the browser signs in through
the fake's OAuth pages, reads the table, filters and sorts it, downloads the
CSV export and is refused an organisation it cannot see. Screenshots go to
tests/artifacts/ (git-ignored; CI keeps them). Chromium comes from the system
(`apt-get install chromium`, see .ci/run), never from `playwright install`.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import pytest
from aiohttp.test_utils import TestServer

from bot.server import create_app
from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from tests.fake_github import FakeGitHub
from tests.fake_github.oauth import CLIENT_ID, CLIENT_SECRET, oauth_state
from tests.github.test_dashboard import INSTALLATION, ORG, fill

CHROMIUM: Final = Path("/usr/bin/chromium")
ARTIFACTS: Final = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def need_chromium() -> None:
    """Fail without Chromium: `make test` and .ci/run install it (make browser)."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
        )


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Return a headless Chromium browser driven by Playwright."""
    need_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
async def app_url(
    settings: Settings,
    store: SqliteStore,
    fake_github: FakeGitHub,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
) -> str:
    """Return the base URL of the running App, sign-in pointed at the fake."""
    configured = dataclasses.replace(
        settings,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        web_url=fake_github.extra["url"],
        session_secret="browser-test-secret",
    )
    await fill(store)
    server = await aiohttp_server(create_app(configured, store=store))
    return str(server.make_url("")).rstrip("/")


async def shot(page: Any, name: str) -> None:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


async def visible_repos(page: Any) -> list[str]:
    """Return the repository cells of the rows shown, top to bottom."""
    cells = page.locator("#repos tbody tr:visible td:first-child")
    return [str(t) for t in await cells.all_text_contents()]


async def test_member_signs_in_filters_sorts_and_exports(
    browser: Any, app_url: str, fake_github: FakeGitHub, store: SqliteStore
) -> None:
    oauth = oauth_state(fake_github)
    oauth.signed_in = "mona"
    oauth.users["mona"] = {INSTALLATION}
    context = await browser.new_context(accept_downloads=True)
    page = await context.new_page()
    await page.goto(f"{app_url}/orgs/{ORG}")
    # Through the fake GitHub's authorize page and back to the dashboard.
    assert page.url == f"{app_url}/orgs/{ORG}"
    sign_in = [r.path for r in fake_github.requests if r.path.startswith("/login/")]
    assert sign_in == ["/login/oauth/authorize", "/login/oauth/access_token"]
    assert await page.locator("h1").text_content() == f"musl readiness: {ORG}"
    assert "3 of 4" in str(await page.locator("#progress").text_content())
    await shot(page, "table")
    everything = ["acme/zeta", "acme/beta", "acme/alpha", "acme/unchecked"]
    assert await visible_repos(page) == everything
    # The hostile libc text shows as text, not as markup.
    beta = page.locator("#repos tbody tr", has_text="acme/beta")
    assert "<script>alert(1)</script>" in str(await beta.text_content())
    await page.fill("#filter", "alpha")
    assert await visible_repos(page) == ["acme/alpha"]
    await page.fill("#filter", "")
    await page.select_option("#verdict", "at-risk")
    assert await visible_repos(page) == ["acme/zeta"]
    await shot(page, "filtered")
    await page.select_option("#verdict", "")
    await page.click("th:has-text('Repository')")
    assert await visible_repos(page) == sorted(everything)
    await page.click("th:has-text('Repository')")
    assert await visible_repos(page) == sorted(everything, reverse=True)
    await page.click("th:has-text('Verdict')")  # most urgent first again
    assert await visible_repos(page) == everything
    async with page.expect_download() as event:
        await page.click("text=CSV")
    download = await event.value
    path = Path(await download.path())
    rows = list(csv.DictReader(io.StringIO(await asyncio.to_thread(path.read_text))))
    stored = {r.repo: r for r in await store.repository_results(INSTALLATION)}
    known = await store.known_repositories(INSTALLATION)
    assert sorted(r["repository"] for r in rows) == sorted(known.values())
    checked = [r for r in rows if r["verdict"] != "unchecked"]
    assert sorted(r["repository"] for r in checked) == sorted(stored)
    for row in checked:
        want = stored[row["repository"]]
        assert (row["verdict"], row["head_sha"]) == (want.verdict, want.head_sha)
        assert row["libc"] == " ".join(want.libc)
    await page.click("text=Sign out")
    await page.goto(f"{app_url}/orgs/{ORG}?format=json")
    # Signed out: sent through sign-in again (the fake signs in at once).
    assert len([r for r in fake_github.requests if r.path == "/user"]) == 2
    await context.close()


async def test_non_member_is_refused(
    browser: Any, app_url: str, fake_github: FakeGitHub
) -> None:
    oauth = oauth_state(fake_github)
    oauth.signed_in = "mallory"
    oauth.users["mallory"] = {2}  # another organisation's installation
    context = await browser.new_context()
    page = await context.new_page()
    response = await page.goto(f"{app_url}/orgs/{ORG}")
    assert response is not None
    assert response.status == 404
    assert page.url == f"{app_url}/orgs/{ORG}"
    assert "acme/zeta" not in await page.content()
    await shot(page, "refused")
    await context.close()
