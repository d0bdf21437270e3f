"""The `/musl-check` comment grammar: where a command counts and where it does not."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.commands import (
    HELP_TEXT,
    MAX_BODY_CHARS,
    MAX_COMMANDS,
    Command,
    CommandKind,
    new_commands,
    parse_commands,
)
from tests.paths import WEBHOOKS

RUN = Command(CommandKind.RUN)
FIX = Command(CommandKind.FIX)
HELP = Command(CommandKind.HELP)


def unknown(word: str) -> Command:
    return Command(CommandKind.HELP, word)


GRAMMAR = [
    # plain commands
    ("/musl-check", (RUN,)),
    ("/musl-check run", (RUN,)),
    ("/musl-check fix", (FIX,)),
    ("/musl-check help", (HELP,)),
    ("/musl-check   fix   ", (FIX,)),
    ("/musl-check\tfix", (FIX,)),
    ("/musl-check fix please, thanks", (FIX,)),
    ("/musl-check frobnicate", (unknown("frobnicate"),)),
    ("/musl-check Frobnicate now", (unknown("Frobnicate"),)),
    ("/MUSL-CHECK FIX", (FIX,)),
    ("/Musl-Check Help", (HELP,)),
    ("/musl-check RUN", (RUN,)),
    # position on the line
    ("   /musl-check fix", (FIX,)),
    ("    /musl-check fix", ()),  # indented code
    ("\t/musl-check fix", ()),  # indented code
    ("please /musl-check fix", ()),
    ("- /musl-check fix", ()),
    ("`/musl-check fix`", ()),
    ("\u200b/musl-check", ()),
    ("\u00a0/musl-check", ()),
    # not the command word
    ("/musl-checker", ()),
    ("/musl-check-fix", ()),
    ("/musl-check.", ()),
    ("/musl-check:fix", ()),
    ("musl-check fix", ()),
    ("//musl-check fix", ()),
    # quotes
    ("> /musl-check fix", ()),
    (">/musl-check fix", ()),
    ("   > /musl-check fix", ()),
    ("> > /musl-check fix", ()),
    ("> quoted\n/musl-check fix", (FIX,)),
    ("> ```\n/musl-check fix", (FIX,)),  # a fence in a quote ends with the quote
    # fenced code
    ("```\n/musl-check fix\n```", ()),
    ("```\n/musl-check fix\n```\n/musl-check", (RUN,)),
    ("~~~\n/musl-check fix\n~~~\n/musl-check help", (HELP,)),
    ("```text\n/musl-check fix\n```", ()),
    ("   ```\n/musl-check fix\n   ```\n/musl-check", (RUN,)),
    ("````\n```\n/musl-check fix\n````\n/musl-check", (RUN,)),
    ("````\n/musl-check fix\n```\n/musl-check help\n````", ()),
    ("```\n/musl-check fix\n~~~\n/musl-check help", ()),  # ~~~ does not close ```
    ("~~~\n/musl-check fix\n```\n/musl-check help\n~~~", ()),
    ("```\n/musl-check fix\n``` not a close\n/musl-check\n```", ()),
    ("```\nunclosed\n\n/musl-check fix", ()),
    ("    ```\n/musl-check fix", (FIX,)),  # indented: not a fence
    ("```a`b\n/musl-check fix", (FIX,)),  # backtick in info: not a fence
    ("~~~a`b\n/musl-check fix\n~~~", ()),  # allowed for tildes
    ("``\n/musl-check fix", (FIX,)),  # too short for a fence
    # HTML comments
    ("<!-- /musl-check fix -->", ()),
    ("<!--\n/musl-check fix\n-->", ()),
    ("<!--\n\n/musl-check fix\n\n-->\n/musl-check help", (HELP,)),
    ("<!-- a --> <!--\n/musl-check fix\n-->", ()),
    ("<!-- a -->\n/musl-check fix", (FIX,)),
    ("<!---->\n/musl-check fix", (FIX,)),
    ("<!-->\n/musl-check fix", (FIX,)),
    ("<!--->\n/musl-check fix", (FIX,)),
    ("text <!--\n/musl-check fix\n-->", ()),
    (
        "text <!--\n\n/musl-check fix",
        (FIX,),
    ),  # an inline comment ends with its paragraph
    ("`<!--`\n/musl-check fix", (FIX,)),  # inside a code span: not a comment
    ("/musl-check fix <!-- why -->", (FIX,)),
    ("/musl-check<!-- why -->", (RUN,)),
    ("/musl-check <!--\n/musl-check help\n-->", (RUN,)),
    ("```\n<!--\n```\n/musl-check fix", (FIX,)),  # a comment inside code is code
    # line endings and several commands
    ("hello\r\n/musl-check fix\r\n", (FIX,)),
    ("hello\r/musl-check fix\r", (FIX,)),
    ("/musl-check fix\r\n/musl-check help", (FIX, HELP)),
    ("/musl-check\n/musl-check run\n/musl-check", (RUN,)),
    ("/musl-check help\n/musl-check", (HELP, RUN)),
    ("", ()),
]


@pytest.mark.parametrize(("body", "expected"), GRAMMAR)
def test_grammar(body: str, expected: tuple[Command, ...]) -> None:
    assert parse_commands(body) == expected


def test_unknown_word_is_clipped() -> None:
    (command,) = parse_commands("/musl-check " + "x" * 500)
    assert command.kind is CommandKind.HELP
    assert command.unknown == "x" * 40


def test_commands_are_capped() -> None:
    body = "\n".join(f"/musl-check word{i}" for i in range(100))
    assert len(parse_commands(body)) == MAX_COMMANDS


def test_huge_body_is_bounded() -> None:
    body = "a" * MAX_BODY_CHARS + "\n/musl-check fix"
    assert parse_commands(body) == ()
    body = ("<!--" * 10_000) + "\n/musl-check fix"
    assert parse_commands(body) == ()
    body = "/musl-check fix\n" + ("`" * 3 + "\n") * 20_000
    assert parse_commands(body) == (FIX,)


def test_real_comment_payloads_have_no_command() -> None:
    for name in ("created.json", "created.with-installation.json", "edited.json"):
        payload = json.loads((WEBHOOKS / "issue_comment" / name).read_text())
        assert parse_commands(payload["comment"]["body"]) == ()


def test_real_payload_with_command_added() -> None:
    payload = json.loads((WEBHOOKS / "issue_comment" / "edited.json").read_text())
    old = payload["changes"]["body"]["from"]
    new = payload["comment"]["body"] + "\r\n/musl-check fix\r\n"
    assert new_commands(old, new) == (FIX,)


EDITS = [
    ("typo fix", "typo fixed", ()),
    ("/musl-check", "/musl-check\nthanks!", ()),
    ("/musl-check", "/musl-check\n/musl-check fix", (FIX,)),
    ("/musl-check fix", "/musl-check fix\n/musl-check", (RUN,)),
    ("> /musl-check fix", "/musl-check fix", (FIX,)),
    ("```\n/musl-check fix\n```", "/musl-check fix", (FIX,)),
    ("/musl-check fix", "```\n/musl-check fix\n```", ()),
    ("/musl-check foo", "/musl-check bar", (unknown("bar"),)),
]


@pytest.mark.parametrize(("old", "new", "expected"), EDITS)
def test_new_commands(old: str, new: str, expected: tuple[Command, ...]) -> None:
    assert new_commands(old, new) == expected


def test_help_text_names_every_command() -> None:
    for word in ("/musl-check fix", "/musl-check run", "/musl-check help"):
        assert word in HELP_TEXT
    assert "Rust 1.93 (2026-01-22)" in HELP_TEXT
    assert "musl 1.2.5" in HELP_TEXT
    # The help text itself must not trigger commands when quoted back.
    assert parse_commands(HELP_TEXT) == ()


@given(st.text(max_size=400))
def test_never_raises(body: str) -> None:
    commands = parse_commands(body)
    assert len(commands) <= MAX_COMMANDS
    assert all(isinstance(c, Command) for c in commands)


@given(st.text(alphabet="`~> <!-/muslchekfixr\n\r\t", max_size=200))
def test_never_raises_on_markup_soup(body: str) -> None:
    assert new_commands(body, body) == ()
