"""First-run setup: manifest form, callback against a local fake GitHub, `.env`."""

from __future__ import annotations

import json
import logging
import re
import stat
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from openapi_schema_validator import OAS30Validator

from bot.server.app import SERVER_OPTIONS
from bot.settings import Settings, needs_setup, read_env
from bot.setup import (
    SESSION_COOKIE,
    SETUP_KEY,
    create_setup_app,
    default_manifest_path,
    load_manifest,
    webhook_problem,
    write_env_file,
    write_private_file,
)
from tests.server.serverkit import FIXTURES

OPENAPI = json.loads((FIXTURES / "github-openapi-subset.json").read_text())
CONVERSION = OPENAPI["paths"]["/app-manifests/{code}/conversions"]["post"]


def conversion_response(pem: str) -> dict[str, Any]:
    """Return GitHub's example answer with a real key, checked against the schema."""
    example = OPENAPI["components"]["examples"]["integration-from-manifest"]["value"]
    body = {**example, "pem": pem, "id": 987654}
    schema = CONVERSION["responses"]["201"]["content"]["application/json"]["schema"]
    OAS30Validator({**schema, "components": OPENAPI["components"]}).validate(body)
    return body


@pytest.fixture
async def fake_github(aiohttp_server, pem: str):  # type: ignore[no-untyped-def]
    calls: list[dict[str, Any]] = []

    async def convert(request: web.Request) -> web.Response:
        calls.append(
            {
                "code": request.match_info["code"],
                "auth": request.headers.get("Authorization"),
                "version": request.headers.get("X-GitHub-Api-Version"),
            }
        )
        if request.match_info["code"] == "expired":
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(conversion_response(pem), status=201)

    app = web.Application()
    app.router.add_post("/app-manifests/{code}/conversions", convert)
    server = await aiohttp_server(app)
    server.calls = calls
    return server


def form_fields(page: str) -> dict[str, str]:
    return {
        m.group(1): unescape(m.group(2))
        for m in re.finditer(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page)
    }


async def setup_client(aiohttp_client, tmp_path: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    app = create_setup_app(env, env_path=tmp_path / ".env")
    return await aiohttp_client(app)


async def test_manifest_form(aiohttp_client, tmp_path: Path) -> None:
    client = await setup_client(aiohttp_client, tmp_path, {})
    token = client.app[SETUP_KEY].token
    page = await (await client.get(f"/?token={token}")).text()
    assert 'action="https://github.com/settings/apps/new"' in page
    fields = form_fields(page)
    manifest = json.loads(fields["manifest"])
    base = f"http://{client.host}:{client.port}"
    assert manifest["hook_attributes"] == {"url": f"{base}/webhook", "active": True}
    assert manifest["redirect_url"] == f"{base}/setup/callback"
    assert manifest["default_permissions"]["contents"] == "write"
    assert "workflows" not in manifest["default_permissions"]
    assert fields["state"] in client.app[SETUP_KEY].states


async def test_org_form_and_public_url(aiohttp_client, tmp_path: Path) -> None:
    env = {"PUBLIC_URL": "https://musl.example.com/"}
    client = await setup_client(aiohttp_client, tmp_path, env)
    token = client.app[SETUP_KEY].token
    first = await client.get(f"/?token={token}", allow_redirects=False)
    # The cookie is Secure (PUBLIC_URL is https); this test client speaks http.
    session = {SESSION_COOKIE: first.cookies[SESSION_COOKIE].value}
    page = await (await client.get("/?org=rust-lang", cookies=session)).text()
    assert (
        'action="https://github.com/organizations/rust-lang/settings/apps/new"' in page
    )
    manifest = json.loads(form_fields(page)["manifest"])
    assert manifest["hook_attributes"]["url"] == "https://musl.example.com/webhook"
    bad = await client.get("/?org=<script>", cookies=session)
    assert bad.status == 400
    assert "<script>" not in await bad.text()


async def test_page_needs_token(aiohttp_client, tmp_path: Path) -> None:
    client = await setup_client(aiohttp_client, tmp_path, {})
    for url in ("/", "/?token=guess"):
        resp = await client.get(url)
        assert resp.status == 403
        assert "manifest" not in await resp.text()


async def test_callback_writes_env(
    aiohttp_client, tmp_path: Path, fake_github, pem: str
) -> None:
    env_path = tmp_path / ".env"
    env_path.write_text("PORT=4000\nGITHUB_APP_ID=old\n# keep me\n")
    app = create_setup_app(
        {"GITHUB_API_URL": str(fake_github.make_url("/"))}, env_path=env_path
    )
    client = await aiohttp_client(app)
    token = app[SETUP_KEY].token
    state = form_fields(await (await client.get(f"/?token={token}")).text())["state"]
    resp = await client.get(f"/setup/callback?code=abc123&state={state}")
    assert resp.status == 200
    text = await resp.text()
    assert "Restart musl-check" in text
    assert "https://github.com/apps/octoapp/installations/new" in text
    assert fake_github.calls == [
        {"code": "abc123", "auth": None, "version": "2022-11-28"}
    ]
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    content = env_path.read_text()
    assert 'GITHUB_CLIENT_ID="Iv1.8a61f9b3a7aba766"' in content
    assert "PORT=4000" in content
    assert "# keep me" in content
    assert "GITHUB_APP_ID=old" not in content
    # The written file is what `serve` reads on restart.
    env = read_env({}, env_path)
    assert not needs_setup(env)
    settings = Settings.from_env(env)
    assert settings.app_id == "987654"
    assert settings.private_key == pem.strip() + "\n"
    assert settings.webhook_secrets == ("e340154128314309424b7c8e90325147d99fdafa",)
    assert settings.port == 4000
    # The App's user authorization and a fresh cookie-signing key, for sign-in.
    assert settings.client_id == "Iv1.8a61f9b3a7aba766"
    assert settings.client_secret == "1726be1638095a19edd134c77bde3aa2ece1e5d8"
    assert settings.session_secret is not None
    assert len(settings.session_secret) >= 32
    for secret in (settings.client_secret, settings.session_secret):
        assert secret not in repr(settings)
    # The state is single-use and setup is over.
    again = await client.get(f"/setup/callback?code=abc123&state={state}")
    assert again.status == 409
    assert "Setup is done" in await (await client.get("/")).text()


async def test_callback_rejects_bad_state_and_code(
    aiohttp_client, tmp_path: Path, fake_github
) -> None:
    app = create_setup_app(
        {"GITHUB_API_URL": str(fake_github.make_url("/"))}, env_path=tmp_path / ".env"
    )
    client = await aiohttp_client(app)
    token = app[SETUP_KEY].token
    assert (await client.get("/setup/callback?code=abc&state=forged")).status == 400
    state = form_fields(await (await client.get(f"/?token={token}")).text())["state"]
    assert (await client.get(f"/setup/callback?code=../x&state={state}")).status == 400
    state = form_fields(await (await client.get("/")).text())["state"]
    resp = await client.get(f"/setup/callback?code=expired&state={state}")
    assert resp.status == 502
    assert "HTTP 404" in await resp.text()
    assert fake_github.calls[-1]["code"] == "expired"
    assert not (tmp_path / ".env").exists()


async def test_callback_github_unreachable(aiohttp_client, tmp_path: Path) -> None:
    app = create_setup_app(
        {"GITHUB_API_URL": "http://127.0.0.1:9"}, env_path=tmp_path / ".env"
    )
    client = await aiohttp_client(app)
    token = app[SETUP_KEY].token
    state = form_fields(await (await client.get(f"/?token={token}")).text())["state"]
    resp = await client.get(f"/setup/callback?code=abc&state={state}")
    assert resp.status == 502
    assert not (tmp_path / ".env").exists()


async def test_setup_mode_endpoints(aiohttp_client, tmp_path: Path) -> None:
    client = await setup_client(aiohttp_client, tmp_path, {})
    assert (await (await client.get("/healthz")).json()) == {"status": "setup"}
    assert (await client.post("/webhook", data=b"{}")).status == 503


def test_states_are_bounded(tmp_path: Path) -> None:
    from bot.setup import MAX_STATES, _new_state

    state = create_setup_app({}, env_path=tmp_path / ".env")[SETUP_KEY]
    made = [_new_state(state) for _ in range(MAX_STATES + 5)]
    assert len(state.states) == MAX_STATES
    assert made[0] not in state.states
    assert made[-1] in state.states


def test_shipped_manifest() -> None:
    manifest = load_manifest(default_manifest_path())
    assert manifest["public"] is False
    assert manifest["default_permissions"] == {
        "checks": "write",
        "contents": "write",
        "pull_requests": "write",
        "issues": "write",
        "metadata": "read",
    }
    assert manifest["default_events"] == [
        "push",
        "pull_request",
        "issue_comment",
        "check_suite",
        "check_run",
    ]


def test_manifest_must_be_mapping(tmp_path: Path) -> None:
    bad = tmp_path / "app.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ValueError, match="not a YAML mapping"):
        load_manifest(bad)


async def test_token_is_exchanged_once_for_a_strict_cookie(
    aiohttp_client, tmp_path: Path
) -> None:
    client = await setup_client(aiohttp_client, tmp_path, {})
    token = client.app[SETUP_KEY].token
    first = await client.get(f"/?token={token}", allow_redirects=False)
    assert first.status == 303
    assert first.headers["Location"] == "/"  # the token leaves the address bar
    cookie = first.cookies[SESSION_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # plain http here; set behind https
    assert (await client.get("/")).status == 200  # the cookie carries the session
    # The token is spent: it works neither again nor in another browser.
    client.session.cookie_jar.clear()
    for url in (f"/?token={token}", "/"):
        resp = await client.get(url)
        assert resp.status == 403
        assert "manifest" not in await resp.text()
    forged = await client.get("/", cookies={SESSION_COOKIE: "guess"})
    assert forged.status == 403


async def test_cookie_secure_behind_https(aiohttp_client, tmp_path: Path) -> None:
    env = {"PUBLIC_URL": "https://musl.example.com"}
    client = await setup_client(aiohttp_client, tmp_path, env)
    token = client.app[SETUP_KEY].token
    first = await client.get(f"/?token={token}", allow_redirects=False)
    assert first.cookies[SESSION_COOKIE]["secure"]


async def test_access_log_has_no_query_string(
    aiohttp_server, aiohttp_client, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_setup_app({}, env_path=tmp_path / ".env")
    server = await aiohttp_server(app, **SERVER_OPTIONS)
    client = await aiohttp_client(server)
    token = app[SETUP_KEY].token
    assert token is not None
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        await client.get(f"/?token={token}")
        await client.get("/setup/callback?code=secret-code&state=s")
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert lines, caplog.text
    assert any(re.fullmatch(r"GET / 303 [0-9]+B [0-9.]+ms", line) for line in lines)
    assert any(line.startswith("GET /setup/callback 400 ") for line in lines)
    assert token not in caplog.text
    assert "secret-code" not in caplog.text
    assert all("\n" not in line and len(line) < 80 for line in lines)


@pytest.mark.parametrize(
    ("base", "problem"),
    [
        ("http://localhost:3000", "a loopback address"),
        ("http://127.0.0.1:3000", "a loopback address"),
        ("https://[::1]:8443", "a loopback address"),
        ("http://0.0.0.0:3000", "a loopback address"),
        ("http://musl.example.com", "plain http"),
        ("https://musl.example.com", None),
        ("https://203.0.113.7", None),
    ],
)
def test_webhook_problem(base: str, problem: str | None) -> None:
    found = webhook_problem(base)
    assert found == problem or (found or "").startswith(str(problem))


async def test_page_warns_when_github_cannot_reach_it(
    aiohttp_client, tmp_path: Path
) -> None:
    client = await setup_client(aiohttp_client, tmp_path, {})
    token = client.app[SETUP_KEY].token
    page = await (await client.get(f"/?token={token}")).text()
    assert 'class="warning"' in page
    assert "a loopback address" in page
    assert "PUBLIC_URL" in page
    assert "https://smee.io" in page
    public = await setup_client(
        aiohttp_client, tmp_path, {"PUBLIC_URL": "https://musl.example.com"}
    )
    token = public.app[SETUP_KEY].token
    assert 'class="warning"' not in await (await public.get(f"/?token={token}")).text()


def test_private_file_replaces_symlink_and_wide_mode(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    link = tmp_path / ".musl-check-setup-link"
    link.symlink_to(victim)
    write_private_file(link, "new\n")
    assert victim.read_text() == "keep\n"  # the symlink was not followed
    assert not link.is_symlink()
    assert link.read_text() == "new\n"
    assert stat.S_IMODE(link.stat().st_mode) == 0o600
    link.chmod(0o644)
    write_private_file(link, "again\n")
    assert stat.S_IMODE(link.stat().st_mode) == 0o600  # not the older 0644
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_env_values_quoted_and_newlines_refused(tmp_path: Path) -> None:
    env_path = tmp_path / ".env"
    write_env_file(env_path, {"GITHUB_APP_ID": "1", "GITHUB_WEBHOOK_SECRET": "a b#c"})
    assert 'GITHUB_WEBHOOK_SECRET="a b#c"' in env_path.read_text()
    assert read_env({}, env_path)["GITHUB_WEBHOOK_SECRET"] == "a b#c"
    for bad in ("x\nGITHUB_API_URL=http://evil", "x\ry", 'x"y', "x\0"):
        with pytest.raises(ValueError, match="GITHUB_WEBHOOK_SECRET"):
            write_env_file(env_path, {"GITHUB_WEBHOOK_SECRET": bad})
    assert "evil" not in env_path.read_text()


def test_announce_writes_link_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / ".musl-check-setup-link"
    old.write_text("stale\n")
    old.chmod(0o644)
    app = create_setup_app(
        {}, env_path=tmp_path / ".env", listen_url="http://localhost:4321"
    )
    import asyncio

    from bot.setup import _announce

    asyncio.run(_announce(app))
    url = old.read_text().strip()
    assert url == f"http://localhost:4321/?token={app[SETUP_KEY].token}"
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    err = capsys.readouterr().err
    assert f"musl-check setup: open {url}" in err
    assert "PUBLIC_URL" in err
