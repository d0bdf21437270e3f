"""Packed inputs that once took super-linear time get the right answers.

(Behaviour only: the sizes are moderate, and nothing here is timed.)
"""

from __future__ import annotations

from bot.core import analysis, commands, config, diffs
from bot.core.commands import CommandKind
from bot.core.sources import shell, workflows


def test_backtick_runs_in_a_comment_body() -> None:
    body = "a " + "`" * 5000 + " " + "x" * 5000 + "\n/musl-check fix\n"
    (command,) = commands.parse_commands(body)
    assert command.kind is CommandKind.FIX


def test_code_spans_hide_comment_openers_as_commonmark_pairs_them() -> None:
    # `<!--` inside a code span opens no HTML comment: the command counts.
    assert commands.parse_commands("x `<!--` y\n/musl-check\n")
    assert commands.parse_commands("x ``a`<!--`b`` y\n/musl-check\n")
    # An unmatched run is literal text: the comment is open, the command hidden.
    assert not commands.parse_commands("x ``<!--` y\n/musl-check\n")
    assert not commands.parse_commands("`a` <!-- `b`\n/musl-check\n-->\n")


def test_rustup_with_many_options() -> None:
    line = "rustup default " + "-a " * 2000 + "1.70.0"
    assert shell.find_toolchain_pins(line) == ["1.70.0"]
    assert shell.find_toolchain_pins("rustup default " + "-a " * 2000 + "!") == []
    pins = shell.find_toolchain_pins("rustup toolchain install --profile minimal 1.80")
    assert pins == ["1.80"]


def test_unclosed_expressions_on_a_line() -> None:
    text = (
        "jobs:\n  a:\n    steps:\n      - run: cargo build --target"
        " x86_64-unknown-linux-musl " + "${{" * 20000 + "\n"
    )
    result = workflows.scan(".github/workflows/ci.yml", text)
    assert [(u.line, u.target) for u in result.uses] == [
        (4, "x86_64-unknown-linux-musl")
    ]


def test_integer_past_the_digit_limit_in_the_config() -> None:
    parsed, errors = config.parse_config("enabled: " + "1" * 5000 + "\n")
    assert parsed == config.Config()
    assert len(errors) == 1
    assert "file ignored" in errors[0]


def test_hunk_header_with_a_huge_line_number() -> None:
    assert diffs.parse_patch("@@ -1 +" + "9" * 5000 + " @@\n+x\n") == ()
    (hunk,) = diffs.parse_patch("@@ -1,0 +2 @@\n+x\n")
    assert hunk.first == 2


def test_workflow_packed_with_build_args_keys() -> None:
    # Each key's block used to split the whole rest of the text: quadratic.
    text = "jobs:\n" + "  - build-args: A=b\n" * 20000 + "      C=d\n"
    assert analysis.build_args({".github/workflows/x.yml": text.encode()}) == {
        "A": ("b",),
        "C": ("d",),
    }
