"""End to end: signed real deliveries through the real server, fake GitHub, local index.

Every test posts payloads from tests/fixtures/webhooks/ (pointed at a
repository of the fake) to create_app's /webhook, drains the background work
and asserts on what the fake GitHub recorded. libc's index is the local sparse
index of tests/fixes/index_data.py (real lines and checksums).
"""

from __future__ import annotations

import copy
import json
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import pytest
from aiohttp.test_utils import TestClient

from bot.core.analysis import analyse
from bot.core.findings import Verdict
from bot.core.render import BLOG_URL
from bot.github.context import Options
from bot.server import RUNTIME_KEY, create_app, drain, sign
from bot.settings import Settings
from bot.store.sqlite import SqliteStore
from tests.conftest import APP_ID, Sleeps
from tests.fake_github import FakeGitHub, folder_files
from tests.fake_github.git_data import (
    branch_sha,
    meta_of,
    read_file,
    refs_of,
    set_branch,
)
from tests.fake_github.pulls import add_pull, pulls_of, recorded, set_permission
from tests.fixes.index_data import (
    CKSUM,
    LIBC_TABLE,
    IndexServer,
    index_lines,
)
from tests.fixes.test_reviews import apply_suggestions
from tests.markdown_safety import assert_inert
from tests.paths import CORPUS, WEBHOOKS

SECRET: Final = "e2e-fixes-secret"
REPO: Final = "acme/app"
RIPGREP: Final = CORPUS / "BurntSushi__ripgrep@a7f1276021"
TOKEI: Final = CORPUS / "XAMPPRocky__tokei@f6b8cadeba"
NEWEST: Final = "0.2.172"
# The one known gap of the test setup, not of the App (see violations()): the
# OpenAPI subset (tests/fixtures) lacks POST /repos/{owner}/{repo}/pulls.
PULLS_CREATE_GAP: Final = "POST /repos/acme/app/pulls: not an operation of the schema"

Post = Callable[..., Awaitable[None]]


@pytest.fixture
def hub(fake_github: FakeGitHub) -> FakeGitHub:
    """Return the shared fake GitHub (tests/conftest.py), holding `acme/app`."""
    fake_github.add_repo(REPO)
    return fake_github


@pytest.fixture
async def bot(
    hub: FakeGitHub,
    crates_index: IndexServer,
    rsa_pem: tuple[str, bytes],
    tmp_path: Path,
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
) -> AsyncIterator[TestClient[Any, Any]]:
    """Return a client of the real server wired to the fake GitHub and index."""
    settings = Settings(
        app_id=str(APP_ID),
        private_key=rsa_pem[0],
        webhook_secrets=(SECRET,),
        api_url=hub.extra["url"],
        crates_index_url=crates_index.url,
    )
    store = SqliteStore.open(str(tmp_path / "store.sqlite3"))
    app = create_app(  # no listing
        settings, store=store, options=Options(sleep=Sleeps()), recovery_interval_s=0
    )
    yield await aiohttp_client(app)
    await store.close()


@pytest.fixture
def post(bot: TestClient[Any, Any]) -> Post:
    """Return `post(event, payload)`: a signed delivery, then drain the work."""

    async def send(event: str, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        resp = await bot.post(
            "/webhook",
            data=body,
            headers={
                "content-type": "application/json",
                "x-github-event": event,
                "x-github-delivery": str(uuid.uuid4()),
                "x-hub-signature-256": sign(body, SECRET),
            },
        )
        assert resp.status == 202
        app = bot.server.app
        assert app is not None
        await drain(app, 60)
        assert not app[RUNTIME_KEY].tasks

    return send


# -- payloads (real fixtures, pointed at the fake) ------------------------------


def _load(event: str, action: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((WEBHOOKS / event / f"{action}.json").read_text())
    return copy.deepcopy(data)


def _point(hub: FakeGitHub, data: dict[str, Any]) -> dict[str, Any]:
    repo = hub.repos[REPO]
    data["repository"].update(
        id=repo.id, name=repo.name, full_name=REPO, default_branch="main"
    )
    data["repository"]["owner"]["login"] = repo.owner
    data.setdefault("installation", {})["id"] = repo.installation_id
    return data


def pull_event(
    hub: FakeGitHub, action: str, sha: str, number: int = 7, fork: bool = False
) -> dict[str, Any]:
    """Return a real pull_request payload for pull `number` at head `sha`."""
    data = _point(hub, _load("pull_request", action))
    pull = data["pull_request"]
    pull["number"] = data["number"] = number
    pull["head"]["sha"] = sha
    pull["base"]["repo"] = copy.deepcopy(data["repository"])
    head_repo = copy.deepcopy(data["repository"])
    if fork:
        head_repo.update(id=head_repo["id"] + 7, full_name="forker/app")
        head_repo["owner"]["login"] = "forker"
    pull["head"]["repo"] = head_repo
    return data


def comment_event(
    hub: FakeGitHub,
    body: str,
    *,
    number: int = 7,
    login: str = "maintainer",
    user_type: str = "User",
    action: str = "created",
    old_body: str | None = None,
) -> dict[str, Any]:
    """Return a real issue_comment payload on pull request `number`."""
    name = "created.with-installation" if action == "created" else action
    data = _point(hub, _load("issue_comment", name))
    data["action"] = action
    data["issue"]["number"] = number
    data["issue"]["pull_request"] = {"url": f"https://api.github.com/pulls/{number}"}
    data["comment"].update(body=body, id=hub.next_id())
    data["comment"]["user"].update(login=login, type=user_type)
    if old_body is not None:
        data["changes"] = {"body": {"from": old_body}}
    return data


def suite_event(hub: FakeGitHub, sha: str) -> dict[str, Any]:
    """Return a real check_suite.requested payload (GitHub sends it on a push)."""
    data = _point(hub, _load("check_suite", "requested"))
    data["check_suite"].update(head_sha=sha, after=sha, pull_requests=[])
    data["check_suite"]["app"]["id"] = APP_ID
    return data


def button_event(hub: FakeGitHub, sha: str, number: int | None = 7) -> dict[str, Any]:
    """Return a real check_run.requested_action payload for the Fix libc button."""
    data = _point(hub, _load("check_run", "requested_action"))
    run = data["check_run"]
    run.update(head_sha=sha, name="musl-check", external_id=str(number or ""))
    run["app"]["id"] = APP_ID
    run["pull_requests"] = []
    data["requested_action"] = {"identifier": "fix-libc"}
    data["sender"]["login"] = "maintainer"
    return data


def push_event(hub: FakeGitHub, sha: str) -> dict[str, Any]:
    """Return a real push payload: `sha` pushed to the default branch."""
    data = _point(hub, _load("push", "with-installation"))
    data.update(ref="refs/heads/main", after=sha, deleted=False)
    return data


# -- repository contents ------------------------------------------------------


def ripgrep(changes: dict[str, bytes | None] | None = None) -> dict[str, bytes]:
    """Return ripgrep's corpus files with some replaced (None removes one)."""
    files = folder_files(RIPGREP)
    for path, data in (changes or {}).items():
        files.pop(path, None)
        if data is not None:
            files[path] = data
    return files


def fixed_lock(text: str, vers: str = "0.2.146") -> str:
    """Return ripgrep's lock with libc moved to `vers` (as cargo would)."""
    return text.replace('version = "0.2.144"', f'version = "{vers}"', 1).replace(
        CKSUM["0.2.144"], CKSUM[vers]
    )


RG_LOCK: Final = (RIPGREP / "Cargo.lock").read_text()


def open_pull(
    hub: FakeGitHub,
    head: dict[str, bytes],
    base: dict[str, bytes],
    *,
    number: int = 7,
    fork: bool = False,
) -> str:
    """Add base and head commits and pull request `number`; return the head sha."""
    base_sha = hub.add_commit(REPO, base)
    head_sha = hub.add_commit(REPO, head)
    set_branch(hub, REPO, "main", base_sha)
    add_pull(
        hub,
        REPO,
        number,
        head_sha=head_sha,
        base_sha=base_sha,
        head_repo="forker/app" if fork else "",
    )
    return head_sha


def violations(hub: FakeGitHub) -> list[str]:
    """Return schema violations, minus the known gap of the test setup above."""
    return [v for v in hub.violations if v != PULLS_CREATE_GAP]


def libc_of(data: bytes | None) -> dict[str, str]:
    assert data is not None
    [libc] = [p for p in tomllib.loads(data.decode())["package"] if p["name"] == "libc"]
    return libc


def assert_fixed(files: dict[str, bytes], lock: bytes | None, vers: str) -> None:
    """The new Cargo.lock parses, has the index's checksum and analyses as fixed."""
    libc = libc_of(lock)
    assert (libc["version"], libc["checksum"]) == (vers, CKSUM[vers])
    assert lock is not None
    report = analyse({**files, "Cargo.lock": lock})
    assert report.verdict is Verdict.MUSL_LIBC_OK


def reactions(hub: FakeGitHub) -> list[str]:
    return [r["content"] for r in recorded(hub, "reactions")]


def bot_comments(hub: FakeGitHub) -> list[dict[str, Any]]:
    return [c for c in recorded(hub, "issue_comments") if c["user"]["type"] == "Bot"]


# -- suggestions and the summary comment ---------------------------------------


async def test_at_risk_pull_gets_suggestion_and_summary_once_then_fixed(
    hub: FakeGitHub, post: Post
) -> None:
    head = open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    await post("pull_request", pull_event(hub, "opened", head))
    [review] = recorded(hub, "reviews")
    assert review["state"] == "COMMENTED"
    [comment] = recorded(hub, "review_comments")
    # Exactly the libc version (290) and checksum (292) lines, as one range.
    assert (comment["path"], comment["start_line"], comment["line"]) == (
        "Cargo.lock",
        290,
        292,
    )
    assert "```suggestion\n" in comment["body"]
    applied = apply_suggestions(RG_LOCK, [comment])
    assert_fixed(ripgrep(), applied.encode(), NEWEST)
    [summary] = bot_comments(hub)
    assert summary["body"].startswith("<!-- musl-check:summary -->")
    [run] = hub.runs_for(REPO, head)
    assert run["actions"][0]["identifier"] == "fix-libc"

    # A new head that changes no file musl-check reads: nothing new is posted.
    # (GitHub's check_suite for the push comes first and creates the run.)
    pulls_of(hub, REPO)[7].head_sha = second = hub.add_commit(
        REPO, ripgrep({"src/main.rs": b"fn main() {}\n"})
    )
    await post("check_suite", suite_event(hub, second))
    before = len(hub.requests)
    await post("pull_request", pull_event(hub, "synchronize", second))
    spent = hub.requests[before:]
    assert len(spent) <= 2, [(r.method, r.path) for r in spent]
    assert len(recorded(hub, "reviews")) == 1
    assert len(bot_comments(hub)) == 1

    # The pull request turns green: the summary says so, in place.
    pulls_of(hub, REPO)[7].head_sha = green = hub.add_commit(
        REPO, ripgrep({"Cargo.lock": fixed_lock(RG_LOCK).encode()})
    )
    await post("pull_request", pull_event(hub, "synchronize", green))
    [summary] = bot_comments(hub)
    assert f"fixed in {green}" in summary["body"]
    assert summary["_edits"] == 1
    [green_run] = hub.runs_for(REPO, green)
    assert green_run["actions"] == []
    # Green again on the next push: nothing more.
    before = len(hub.requests)
    again = pull_event(hub, "synchronize", green)
    # A later event: the very same signed body again would be a replay, ignored.
    again["pull_request"]["updated_at"] = "2030-01-01T00:00:00Z"
    await post("pull_request", again)
    assert len(hub.requests) - before <= 2
    assert violations(hub) == []


async def test_clean_pull_gets_nothing(hub: FakeGitHub, post: Post) -> None:
    lock = fixed_lock(RG_LOCK).encode()
    head = open_pull(hub, ripgrep({"Cargo.lock": lock}), ripgrep({"Cargo.lock": None}))
    await post("pull_request", pull_event(hub, "opened", head))
    [run] = hub.runs_for(REPO, head)
    assert run["conclusion"] == "success"
    assert hub.calls(contains="/pulls/7") == []
    assert hub.calls(contains="/issues/") == []
    assert violations(hub) == []


async def test_suggestion_outside_the_diff_falls_back_to_the_summary(
    hub: FakeGitHub, post: Post
) -> None:
    head = open_pull(
        hub, ripgrep({"README.md": b"changed\n"}), ripgrep({"README.md": b"old\n"})
    )
    await post("pull_request", pull_event(hub, "opened", head))
    assert recorded(hub, "reviews") == []
    [summary] = bot_comments(hub)
    assert "not part of this pull request's diff" in summary["body"]
    assert f"cargo update -p libc --precise {NEWEST}" in summary["body"]
    assert violations(hub) == []


async def test_yanked_newest_release_is_skipped(
    hub: FakeGitHub, crates_index: IndexServer, post: Post
) -> None:
    table = tuple(
        (v, c, v == NEWEST or y, r) for v, c, y, r in LIBC_TABLE
    )  # 0.2.172 yanked: 0.2.171 is the newest usable
    crates_index.lines = index_lines(table)
    head = open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    await post("pull_request", pull_event(hub, "opened", head))
    [comment] = recorded(hub, "review_comments")
    assert_fixed(ripgrep(), apply_suggestions(RG_LOCK, [comment]).encode(), "0.2.171")


@pytest.mark.parametrize(
    "changes",
    [
        # Cargo.toml's rust-version 1.60 rules out 0.2.164+ (rust_version 1.63).
        {
            "Cargo.toml": (RIPGREP / "Cargo.toml")
            .read_bytes()
            .replace(b'rust-version = "1.65"', b'rust-version = "1.60"')
        },
        {"rust-toolchain.toml": b'[toolchain]\nchannel = "1.62"\n'},
    ],
    ids=["rust-version", "rust-toolchain"],
)
async def test_msrv_picks_an_older_compatible_release(
    hub: FakeGitHub, post: Post, changes: dict[str, bytes | None]
) -> None:
    files = ripgrep(changes)
    base = {p: d for p, d in files.items() if p != "Cargo.lock"}
    head = open_pull(hub, files, base)
    await post("pull_request", pull_event(hub, "opened", head))
    [comment] = recorded(hub, "review_comments")
    assert_fixed(files, apply_suggestions(RG_LOCK, [comment]).encode(), "0.2.163")


async def test_index_unreachable_gives_the_command_and_says_so(
    hub: FakeGitHub, crates_index: IndexServer, post: Post
) -> None:
    crates_index.status = 503
    head = open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    set_permission(hub, REPO, "maintainer", "write")
    await post("pull_request", pull_event(hub, "opened", head))
    assert recorded(hub, "reviews") == []
    [summary] = bot_comments(hub)
    assert "crates.io index could not be reached" in summary["body"]
    assert "cargo update -p libc" in summary["body"]
    [run] = hub.runs_for(REPO, head)
    assert "index could not be reached" in run["output"]["summary"]
    assert run["actions"] == []  # no exact edit: no button
    await post("issue_comment", comment_event(hub, "/musl-check fix"))
    assert hub.calls("POST", "/git/") == []
    assert "could not be reached" in bot_comments(hub)[-1]["body"]
    assert reactions(hub) == ["eyes", "confused"]
    assert violations(hub) == []


# -- the /musl-check command ----------------------------------------------------


async def test_run_command_rechecks_and_reacts(hub: FakeGitHub, post: Post) -> None:
    head = open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    await post("pull_request", pull_event(hub, "opened", head))
    await post("issue_comment", comment_event(hub, "/musl-check", login="anyone"))
    # The re-check is explicit: a new run, completed in one request.
    first, second = hub.runs_for(REPO, head)
    assert first["conclusion"] == second["conclusion"]
    assert [u.get("status") for u in second["updates"]] == ["completed"]
    assert reactions(hub) == ["eyes", "rocket"]
    assert len(recorded(hub, "reviews")) == 1  # already posted: not repeated
    assert len(bot_comments(hub)) == 1
    assert violations(hub) == []


async def test_fix_by_a_writer_commits_on_the_head_branch(
    hub: FakeGitHub, post: Post
) -> None:
    head = open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    set_permission(hub, REPO, "maintainer", "write")
    await post("issue_comment", comment_event(hub, "Thanks!\n/musl-check fix\n"))
    new = branch_sha(hub, REPO, "update-deps")
    assert new is not None
    assert new != head
    assert_fixed(ripgrep(), read_file(hub, REPO, new, "Cargo.lock"), NEWEST)
    assert reactions(hub) == ["eyes", "rocket"]
    assert f"Pushed {new[:12]}" in bot_comments(hub)[-1]["body"]
    # The new head got its own check run, and it passes.
    [run] = hub.runs_for(REPO, new)
    assert run["conclusion"] == "success"
    assert violations(hub) == []


async def test_fix_by_a_read_only_commenter_is_refused(
    hub: FakeGitHub, post: Post
) -> None:
    head = open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    set_permission(hub, REPO, "reader", "read")
    await post("issue_comment", comment_event(hub, "/musl-check fix", login="reader"))
    assert branch_sha(hub, REPO, "update-deps") == head
    assert hub.calls("POST", "/git/") == []
    [reply] = bot_comments(hub)
    assert "needs write access" in reply["body"]
    assert reactions(hub) == ["eyes", "confused"]
    assert violations(hub) == []


BUILD_RS: Final = b'fn main() { std::process::Command::new("curl").status(); }\n'


def fork_attack(base: dict[str, bytes]) -> dict[str, bytes]:
    """Return a fork head: a build.rs, and one byte of Cargo.lock touched."""
    return {**base, "build.rs": BUILD_RS, "Cargo.lock": base["Cargo.lock"] + b"\n"}


def base_refs_with_build_rs(hub: FakeGitHub) -> list[str]:
    """Return the base repository's branches whose tip holds the fork's build.rs."""
    return [
        ref
        for ref, sha in refs_of(hub, REPO).items()
        if read_file(hub, REPO, sha, "build.rs") is not None
    ]


async def test_fork_with_build_rs_is_never_copied_into_the_base_repository(
    hub: FakeGitHub, post: Post
) -> None:
    open_pull(hub, fork_attack(ripgrep()), ripgrep(), fork=True)
    pulls_of(hub, REPO)[7].maintainer_can_modify = False
    set_permission(hub, REPO, "maintainer", "admin")
    await post("issue_comment", comment_event(hub, "/musl-check fix"))
    assert base_refs_with_build_rs(hub) == []
    assert hub.calls("POST", "/repos/acme/app/git/") == []
    assert hub.calls("PATCH", "/repos/acme/app/git/") == []
    assert [p.number for p in pulls_of(hub, REPO).values()] == [7]
    reply = bot_comments(hub)[-1]["body"]
    assert f"`cargo update -p libc --precise {NEWEST}`" in reply
    assert "fork" in reply
    assert violations(hub) == []


async def test_fork_allowing_maintainer_edits_gets_the_fix_on_its_branch(
    hub: FakeGitHub, post: Post
) -> None:
    head_files = fork_attack(ripgrep())
    head = open_pull(hub, head_files, ripgrep(), fork=True)
    hub.add_repo("forker/app", installation_id=2)  # the contributor's own
    hub.add_commit("forker/app", head_files, sha=head)
    set_branch(hub, "forker/app", "update-deps", head)
    set_permission(hub, REPO, "maintainer", "write")
    await post("issue_comment", comment_event(hub, "/musl-check fix"))
    tip = branch_sha(hub, "forker/app", "update-deps")
    assert tip not in (None, head)
    assert meta_of(hub, "forker/app")[tip]["parents"] == [head]
    fixed = read_file(hub, "forker/app", tip, "Cargo.lock")
    assert libc_of(fixed)["version"] == NEWEST
    assert hub.calls("POST", "/repos/acme/app/git/") == []
    assert base_refs_with_build_rs(hub) == []
    assert "Pushed" in bot_comments(hub)[-1]["body"]
    assert reactions(hub)[-1] == "rocket"
    assert violations(hub) == []


async def test_fork_fix_never_moves_the_default_branch_fix_pull_request(
    hub: FakeGitHub, post: Post
) -> None:
    config = {".github/musl-check.yml": b"fix_pull_requests: true\n"}
    main = ripgrep(config)
    first = hub.add_commit(REPO, main)
    set_branch(hub, REPO, "main", first)
    await post("push", push_event(hub, first))
    [fix] = pulls_of(hub, REPO).values()
    tip = branch_sha(hub, REPO, fix.head_ref)
    head = hub.add_commit(REPO, fork_attack(main))
    add_pull(hub, REPO, 7, head_sha=head, base_sha=first, head_repo="forker/app")
    set_permission(hub, REPO, "maintainer", "admin")
    await post("issue_comment", comment_event(hub, "/musl-check fix"))
    assert branch_sha(hub, REPO, fix.head_ref) == tip
    assert [r.body for r in hub.calls("PATCH", "/git/refs/")] == []
    assert base_refs_with_build_rs(hub) == []
    assert len(pulls_of(hub, REPO)) == 2
    assert violations(hub) == []


async def test_fix_for_a_branch_named_like_main_with_a_fragment(
    hub: FakeGitHub, post: Post
) -> None:
    # `main#x` once became PATCH .../refs/heads/main: the fix hit main.
    base = hub.add_commit(REPO, ripgrep())
    head = hub.add_commit(REPO, ripgrep({"README.md": b"x\n"}))
    set_branch(hub, REPO, "main", base)
    add_pull(hub, REPO, 7, head_sha=head, base_sha=base, head_ref="main#x")
    set_permission(hub, REPO, "maintainer", "write")
    await post("issue_comment", comment_event(hub, "/musl-check fix"))
    assert branch_sha(hub, REPO, "main") == base
    moved = branch_sha(hub, REPO, "main#x")
    assert moved not in (None, head)
    assert [r.path for r in hub.calls("PATCH", "/git/refs/")] == [
        "/repos/acme/app/git/refs/heads/main#x"
    ]
    assert violations(hub) == []


@pytest.mark.parametrize(
    "body",
    [
        "> /musl-check fix",
        "```\n/musl-check fix\n```",
        "~~~\n/musl-check fix\n~~~",
        "please run `/musl-check fix`",
    ],
)
async def test_quoted_and_fenced_commands_are_ignored(
    hub: FakeGitHub, post: Post, body: str
) -> None:
    open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    set_permission(hub, REPO, "maintainer", "write")
    await post("issue_comment", comment_event(hub, body))
    assert hub.requests == []


async def test_bot_and_old_edited_commands_are_ignored(
    hub: FakeGitHub, post: Post
) -> None:
    open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    set_permission(hub, REPO, "maintainer", "write")
    await post(
        "issue_comment",
        comment_event(hub, "/musl-check fix", login="musl-check[bot]", user_type="Bot"),
    )
    await post(
        "issue_comment",
        comment_event(
            hub,
            "/musl-check fix\n\n(edited: typo)",
            action="edited",
            old_body="/musl-check fix",
        ),
    )
    assert hub.requests == []


@pytest.mark.parametrize("word", ["help", "frobnicate"])
async def test_help_and_unknown_get_the_help_text(
    hub: FakeGitHub, post: Post, word: str
) -> None:
    open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    await post("issue_comment", comment_event(hub, f"/musl-check {word}"))
    [reply] = bot_comments(hub)
    assert "/musl-check fix" in reply["body"]
    assert ("Unknown command `frobnicate`" in reply["body"]) == (word != "help")
    assert hub.calls("POST", "/git/") == []
    assert reactions(hub)[0] == "eyes"
    assert violations(hub) == []


@pytest.mark.parametrize(
    "word",
    [
        "a`@org/admins`",
        "a`[x](https://evil.example)",
        "![i](https://evil.example/i.png)",
        "<img/src=x/onerror=alert(1)>",
        "#123",
        "\u202e@admins",
        "``x```@org/admins",
    ],
)
async def test_unknown_command_word_is_echoed_inert(
    hub: FakeGitHub, post: Post, word: str
) -> None:
    open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    await post("issue_comment", comment_event(hub, f"/musl-check {word}"))
    [reply] = bot_comments(hub)
    assert reply["body"].startswith("Unknown command `")
    assert_inert(reply["body"])


async def test_config_errors_are_echoed_inert_in_the_check_run(
    hub: FakeGitHub, post: Post
) -> None:
    config = (
        b"'@org/admins [Fix now](https://evil.example)': 1\n"
        b"'<img src=x onerror=alert(1)> #123': 2\n"
        b"failure_conclusion: '`@org/admins` ![i](https://evil.example/i.png)'\n"
    )
    org = b"'@org/team <b>x</b> [y](https://evil.example) #9': true\n"
    hub.add_repo("acme/.github")
    hub.add_commit("acme/.github", {".github/musl-check.yml": org})
    sha = hub.add_commit(REPO, ripgrep({".github/musl-check.yml": config}))
    set_branch(hub, REPO, "main", sha)
    await post("check_suite", suite_event(hub, sha))
    [run] = hub.runs_for(REPO, sha)
    summary = run["output"]["summary"]
    assert summary.count("unknown key") == 3
    assert_inert(summary, links=[BLOG_URL], html=["<sub>", "</sub>"])


async def test_branch_names_are_echoed_inert_in_fix_replies(
    hub: FakeGitHub, post: Post
) -> None:
    base = hub.add_commit(REPO, ripgrep())
    head = hub.add_commit(REPO, ripgrep({"README.md": b"x\n"}))
    set_branch(hub, REPO, "main", base)
    branch = "x`@org/admins`<img/src=x>(https://evil.example)#123"
    add_pull(hub, REPO, 7, head_sha=head, base_sha=base, head_ref=branch)
    set_permission(hub, REPO, "maintainer", "write")
    await post("issue_comment", comment_event(hub, "/musl-check fix"))
    reply = bot_comments(hub)[-1]["body"]
    assert reply.startswith("@maintainer Pushed ")
    assert branch_sha(hub, REPO, branch) != head
    assert_inert(reply.removeprefix("@maintainer"))


# -- the Fix libc button and default-branch fix pull requests --------------------


async def test_fix_button_does_what_fix_does(hub: FakeGitHub, post: Post) -> None:
    head = open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    set_permission(hub, REPO, "maintainer", "write")
    await post("pull_request", pull_event(hub, "opened", head))
    await post("check_run", button_event(hub, head))
    new = branch_sha(hub, REPO, "update-deps")
    assert new is not None
    assert new != head
    assert_fixed(ripgrep(), read_file(hub, REPO, new, "Cargo.lock"), NEWEST)
    assert f"Pushed {new[:12]}" in bot_comments(hub)[-1]["body"]
    assert violations(hub) == []


async def test_fix_button_needs_write_access(hub: FakeGitHub, post: Post) -> None:
    head = open_pull(hub, ripgrep(), ripgrep({"Cargo.lock": None}))
    set_permission(hub, REPO, "maintainer", "read")
    await post("check_run", button_event(hub, head))
    assert branch_sha(hub, REPO, "update-deps") == head
    assert hub.calls("POST", "/git/") == []


async def test_default_branch_push_opens_one_fix_pull_request(
    hub: FakeGitHub, post: Post
) -> None:
    config = {".github/musl-check.yml": b"fix_pull_requests: true\n"}
    tokei = {**folder_files(TOKEI), **config}
    first = hub.add_commit(REPO, tokei)
    set_branch(hub, REPO, "main", first)
    await post("push", push_event(hub, first))
    second = hub.add_commit(REPO, {**tokei, "README.md": b"more\n"})
    set_branch(hub, REPO, "main", second)
    await post("push", push_event(hub, second))
    [fix] = pulls_of(hub, REPO).values()
    assert fix.base_ref == "main"
    assert fix.head_ref.startswith("musl-check/libc-")
    assert len(hub.calls("POST", "/repos/acme/app/pulls")) == 1
    tip = branch_sha(hub, REPO, fix.head_ref)
    assert tip is not None
    vers = fix.head_ref.removeprefix("musl-check/libc-")
    assert_fixed(tokei, read_file(hub, REPO, tip, "Cargo.lock"), vers)
    assert violations(hub) == []


async def test_default_branch_push_without_the_setting_opens_nothing(
    hub: FakeGitHub, post: Post
) -> None:
    first = hub.add_commit(REPO, folder_files(TOKEI))
    set_branch(hub, REPO, "main", first)
    await post("push", push_event(hub, first))
    assert pulls_of(hub, REPO) == {}
    assert hub.calls("POST", "/git/") == []
