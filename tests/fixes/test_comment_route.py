"""Which `/musl-check` comments the route acts on (real issue_comment payloads)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bot.core.commands import CommandKind
from bot.github.routes.issue_comment import CommentCommands
from tests.paths import WEBHOOKS as ALL_WEBHOOKS

WEBHOOKS = ALL_WEBHOOKS / "issue_comment"


def payload(name: str, body: str, **user: str) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(json.loads((WEBHOOKS / name).read_text()))
    # None of the octokit examples is on a pull request: add the marker object.
    data["issue"]["pull_request"] = {"url": "https://api.github.com/pulls/1"}
    data["comment"]["body"] = body
    data["comment"]["user"].update(user)
    data.setdefault("installation", {"id": 1})
    return data


def kinds(data: dict[str, Any]) -> list[CommandKind] | None:
    found = CommentCommands.from_event(data)
    return None if found is None else [c.kind for c in found.commands]


def test_fix_command_on_a_pull_request() -> None:
    data = payload("created.with-installation.json", "Thanks!\n/musl-check fix\n")
    assert kinds(data) == [CommandKind.FIX]


@pytest.mark.parametrize(
    "body",
    [
        "> /musl-check fix",
        "```\n/musl-check fix\n```",
        "Run `/musl-check fix` later",
        "no command here",
    ],
)
def test_quoted_fenced_and_inline_commands_are_ignored(body: str) -> None:
    assert kinds(payload("created.with-installation.json", body)) is None


def test_bot_comments_are_ignored() -> None:
    data = payload(
        "created.with-installation.json",
        "/musl-check fix",
        type="Bot",
        login="musl-check[bot]",
    )
    assert kinds(data) is None


def test_issue_comments_are_ignored() -> None:
    data = payload("created.with-installation.json", "/musl-check fix")
    del data["issue"]["pull_request"]
    assert kinds(data) is None


def test_edited_comment_acts_only_on_new_commands() -> None:
    data = payload("edited.json", "/musl-check fix\nmore text")
    data["changes"] = {"body": {"from": "/musl-check fix"}}
    assert kinds(data) is None
    data["changes"] = {"body": {"from": "/musl-check"}}
    assert kinds(data) == [CommandKind.FIX]
    del data["changes"]
    assert kinds(data) is None


def test_unknown_word_becomes_help() -> None:
    found = CommentCommands.from_event(
        payload("created.with-installation.json", "/musl-check frobnicate")
    )
    assert found is not None
    assert found.commands[0].kind is CommandKind.HELP
    assert found.commands[0].unknown == "frobnicate"
