"""Odd payloads (fields missing, null or of another type) end with a clear reason.

Every real payload the App routes is mutated at every field down to three
levels: the delivery must then be ignored or finish with "malformed payload:
<field> ..." (logged without a traceback), and no GitHub request may be built
from a missing value (`acme/None`, commit `None`).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.github import payload
from bot.github.client import ClientFactory
from bot.github.payload import PayloadError
from bot.store.sqlite import SqliteStore
from tests.fake_github import FakeGitHub
from tests.github.conftest import REPO, RIPGREP_CASE, Deliver, adjust, load_payload

NAMES = [
    "check_suite.requested",
    "check_run.rerequested",
    "check_run.requested_action",
    "pull_request.synchronize",
    "push.with-installation",
    "issue_comment.created.with-installation",
    "installation.created",
    "installation_repositories.added",
]
MUTATIONS = ("delete", "null", "retype")


def field_paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Yield the paths of the fields of `node`, three levels deep (lists: item 0)."""
    if len(prefix) >= 3:
        return
    if isinstance(node, dict):
        items: list[tuple[Any, Any]] = list(node.items())
    elif isinstance(node, list) and node:
        items = [(0, node[0])]
    else:
        return
    for key, value in items:
        yield (*prefix, key)
        yield from field_paths(value, (*prefix, key))


def mutated(data: dict[str, Any], path: tuple[Any, ...], how: str) -> dict[str, Any]:
    """Return a copy of `data` with the field at `path` deleted, nulled or retyped."""
    data = copy.deepcopy(data)
    parent: Any = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if how == "delete":
        del parent[key]
    elif how == "null":
        parent[key] = None
    else:
        parent[key] = "odd" if isinstance(parent[key], dict) else {"odd": 1}
    return data


async def errors_of(store: SqliteStore) -> list[str | None]:
    await store.flush()
    rows = store._conn.execute("SELECT error FROM deliveries ORDER BY rowid")
    return [row[0] for row in rows.fetchall()]


@pytest.mark.parametrize("name", NAMES)
async def test_every_field_odd_ends_clearly(
    name: str,
    fake_github: FakeGitHub,
    deliver: Deliver,
    store: SqliteStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP_CASE)
    base = adjust(name, load_payload(name), fake_github, repo=REPO, sha=sha)
    if name.startswith("issue_comment"):
        base["comment"]["body"] = "/musl-check"  # a command, so it is read
    malformed = 0
    with caplog.at_level(logging.WARNING):
        for path in field_paths(base):
            for how in MUTATIONS:
                await deliver(name, payload=mutated(base, path, how))
    for error in await errors_of(store):
        assert error is None or error.startswith("malformed payload: "), error
        malformed += error is not None
    assert malformed > 0
    failures = [r for r in caplog.records if r.exc_info and r.name == "bot.server"]
    assert failures == []
    for request in fake_github.requests:
        assert "None" not in request.path, request.path
    assert fake_github.violations == []


def test_reads_name_the_field_and_the_problem() -> None:
    data = {"a": {"b": None, "c": "x", "n": 7, "s": "ab" * 20}, "l": [1], "t": True}
    cases = [
        (lambda: payload.name(data, "a.b"), "a.b is null"),
        (lambda: payload.name(data, "a.z"), "a.z is missing"),
        (lambda: payload.name(data, "a.b.c"), "a.b is null"),
        (lambda: payload.name(data, "a.c.d"), "a.c is not an object"),
        (lambda: payload.mapping(data, "l"), "l is not an object"),
        (lambda: payload.integer(data, "t"), "t is not a positive integer"),
        (lambda: payload.integer(data, "a.c"), "a.c is not a positive integer"),
        (lambda: payload.commit_sha(data, "a.c"), "a.c is not a commit sha"),
        (lambda: payload.name(data, "a.n"), "a.n is not a GitHub name"),
        (lambda: payload.name([], "a"), "payload is not an object"),
    ]
    for read, message in cases:
        with pytest.raises(PayloadError) as caught:
            read()
        assert str(caught.value) == message
    assert payload.integer(data, "a.n") == 7
    assert payload.commit_sha(data, "a.s") == "ab" * 20
    assert payload.commit_sha({"s": "0f" * 32}, "s") == "0f" * 32
    assert payload.name({"n": "my-repo.rs"}, "n") == "my-repo.rs"
    assert payload.optional(data, "a.c.d") is None
    assert payload.optional_text(data, "a.n") is None
    assert payload.optional_text(data, "a.c") == "x"
    with pytest.raises(PayloadError):
        payload.name({"n": "../x"}, "n")
    with pytest.raises(PayloadError):
        payload.integer({"n": 2**63}, "n")
    with pytest.raises(PayloadError):
        payload.commit_sha({"s": "AB" * 20}, "s")


@pytest.mark.parametrize(
    "value", [".", "..", "a#b", "a?b", "a%2e", "ünï", "a/b", "", "x" * 101]
)
def test_owner_and_repository_names_that_are_no_path_segment_are_refused(
    value: str,
) -> None:
    with pytest.raises(PayloadError, match="is not a GitHub name"):
        payload.name({"repository": {"name": value}}, "repository.name")


@pytest.mark.parametrize("name", ["...", ".github", "a.", "-x_"])
def test_names_with_dots_are_kept(name: str) -> None:
    assert payload.name({"n": name}, "n") == name


async def test_dot_repository_delivery_is_malformed(
    fake_github: FakeGitHub, deliver: Deliver, store: SqliteStore
) -> None:
    sha = fake_github.add_folder(REPO, RIPGREP_CASE)
    data = adjust(
        "check_suite.requested",
        load_payload("check_suite.requested"),
        fake_github,
        repo=REPO,
        sha=sha,
    )
    data["repository"]["name"] = ".."
    resp = await deliver("check_suite.requested", payload=data)
    assert resp.status == 202
    [error] = await errors_of(store)
    assert error == "malformed payload: repository.name is not a GitHub name"
    assert fake_github.requests == []


@pytest.mark.parametrize(
    ("url", "url_vars"),
    [
        ("/repos/{owner}/{repo}/git/refs/heads/{+branch}", {"branch": "x"}),
        ("/repos/{owner}/{repo}/contents/{#path}", {"path": "x"}),
        ("/repos/{owner}/{repo}", {"owner": "..", "repo": "x"}),
        ("/repos/{owner}/{repo}", {"owner": "o", "repo": "."}),
        ("/repos/o/r/git/ref/heads{/parts*}", {"parts": ["a", ".."]}),
    ],
)
async def test_client_refuses_unencoded_or_dot_segment_parameters(
    factory: ClientFactory,
    fake_github: FakeGitHub,
    url: str,
    url_vars: dict[str, Any],
) -> None:
    gh = factory.installation_client(1)
    with pytest.raises(ValueError, match=r"unencoded|dot segment"):
        await gh.getitem(url, {"owner": "o", "repo": "r", **url_vars})
    assert fake_github.requests == []
