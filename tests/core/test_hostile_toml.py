"""Hostile TOML and Cargo.lock inputs get the right answers.

(Behaviour only: the sizes are moderate, and nothing here is timed.)
"""

from __future__ import annotations

import tomllib

import pytest

from bot.core import lockfile
from bot.core.lockfile import parse_lockfile
from bot.core.sources import HintKind, cargo_config, cross, dist, toolchain
from bot.core.sources.cargo_config import MAX_KEY_PARTS, read_toml, walk_toml
from bot.core.sources.dist import blocks_fixed_libc

CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
TOO_LONG = f"key with more than {MAX_KEY_PARTS} dotted parts; not read"

# -- TOML walker: key paths with absurdly many dotted parts ------------------


def test_long_table_header_is_a_problem_at_its_line() -> None:
    text = "[package]\nname = 'x'\n[" + "a." * 5000 + "libc]\n" + "x = 1\n" * 5000
    result = dist.scan("Cargo.toml", text)
    (problem,) = result.problems
    assert (problem.path, problem.line, problem.message) == ("Cargo.toml", 3, TOO_LONG)
    assert not result.uses
    assert not result.hints


@pytest.mark.parametrize(
    ("module", "path", "text"),
    [
        (
            cargo_config,
            ".cargo/config.toml",
            "# musl\n[" + "a." * 3000 + "crates-io]\nx=1\n",
        ),
        (
            cross,
            "Cross.toml",
            "[target." + "a." * 3000 + "x86_64-unknown-linux-musl]\nimage = 1\n",
        ),
        (toolchain, "rust-toolchain.toml", "[" + "a." * 3000 + "channel]\nx = 1\n"),
    ],
    ids=["cargo-config", "cross", "toolchain"],
)
def test_every_toml_scanner_refuses_a_long_header(
    module: object, path: str, text: str
) -> None:
    result = module.scan(path, text)  # type: ignore[attr-defined]
    (problem,) = result.problems
    assert (problem.line, problem.message) == (2 if text[0] == "#" else 1, TOO_LONG)


def test_long_dotted_key_is_a_problem_at_its_line() -> None:
    text = "[dependencies]\n" + "a." * 40 + 'libc = "=0.2.140"\n'
    lines, problem = read_toml("Cargo.toml", text, ("libc",))
    assert lines == []
    assert problem is not None
    assert (problem.line, problem.message) == (2, TOO_LONG)


def test_long_key_of_an_unwanted_table_is_found_on_its_kept_lines() -> None:
    # The header holds nothing wanted, so its path is parsed only when a kept
    # line of the table (here inside a multi-line array) needs it.
    header = "[" + ".".join(["t"] * (MAX_KEY_PARTS + 1)) + "]\n"
    text = header + "x = [\n 'libc',\n]\n"
    lines, problem = read_toml("Cargo.toml", text, ("libc",))
    assert lines == []
    assert problem is not None
    assert (problem.line, problem.message) == (3, TOO_LONG)
    # Without anything kept in it, the table costs nothing and is no problem.
    assert read_toml("Cargo.toml", header + "x = 1\n", ("libc",)) == ([], None)


def test_key_of_exactly_the_limit_is_read() -> None:
    parts = ["p"] * (MAX_KEY_PARTS - 2)
    text = "[" + ".".join(parts) + "]\nlibc.version = '1'\n"
    (header, line) = walk_toml(text)
    assert header.key == tuple(parts)
    assert line.key == (*parts, "libc", "version")
    assert len(line.key) == MAX_KEY_PARTS


def test_real_dotted_tables_still_give_hints() -> None:
    text = (
        "[package]\nname = 'x'\nrust-version = '1.70'\n"
        "[target.'cfg(target_env = \"musl\")'.dependencies.libc]\n"
        "version = '=0.2.140'\n"
        "[workspace.metadata.dist]\ntargets = ['x86_64-unknown-linux-musl']\n"
    )
    tomllib.loads(text)
    result = dist.scan("Cargo.toml", text)
    assert not result.problems
    assert [(h.line, h.kind, h.value) for h in result.hints] == [
        (3, HintKind.MSRV, "1.70"),
        (5, HintKind.LIBC_PIN, "=0.2.140"),
    ]
    assert [(u.line, u.target) for u in result.uses] == [
        (7, "x86_64-unknown-linux-musl")
    ]


# -- libc requirement comparators --------------------------------------------


def test_comparator_with_a_long_run_of_spaces() -> None:
    text = '[dependencies]\nlibc = "' + " " * 20_000 + '!"\n'
    assert dist.scan("Cargo.toml", text).hints == ()
    assert not blocks_fixed_libc(" " * 20_000 + "!")
    assert not blocks_fixed_libc("=" + " " * 20_000 + "!")


@pytest.mark.parametrize(
    ("requirement", "blocks"),
    [
        (" " * 10_000 + "=0.2.140" + " " * 10_000, True),
        ("\t= 0.2.140 ,\n< 0.2.146\u3000", True),
        ("  >= 0.2.100 ,  < 0.2.146  ", True),
        (" ^0.2.140 ", False),
        (" 0.2 ", False),
        ("= 0.2.140-rc.1 ", True),
        ("= 0.2.140 x", False),
    ],
)
def test_comparators_with_spaces_around_them(requirement: str, blocks: bool) -> None:
    assert blocks_fixed_libc(requirement) is blocks


# -- Cargo.lock: multi-line strings and the statement parser's budget --------


@pytest.mark.parametrize("quote", ['"""', "'''"])
def test_long_multiline_string_is_skipped(quote: str) -> None:
    body = ("x" * 50 + quote[0] + "\n" + quote[0] * 2 + "y") * 2000
    text = f"version = 3\na = {quote}{body}{quote}\n" + (
        f'[[package]]\nname = "libc"\nversion = "0.2.1"\nsource = "{CRATES_IO}"\n'
    )
    assert tomllib.loads(text)["a"] == body
    lock = parse_lockfile(text)
    assert lock.error is None
    assert lock.format_version == 3
    (libc,) = lock.packages
    assert (libc.name, libc.version, libc.start_line) == ("libc", "0.2.1", 2003)


def test_unterminated_multiline_string_is_an_error() -> None:
    text = 'version = 3\na = """' + 'x"' * 100_000 + "\n"
    lock = parse_lockfile(text)
    assert lock.error is not None
    assert lock.error.line == 2


def _slow(text: str, names: frozenset[str] | None = None) -> lockfile.Lockfile:
    return parse_lockfile(text, names=names, slow_budget=SMALL_BUDGET)


SMALL_BUDGET = 900  # small texts reach a small budget
BLOCK = '[[package]]\nname = "libc"\nversion = "0.2.1"\n'


@pytest.mark.parametrize(
    ("tail", "line"),
    [
        # 60 characters before the tail, 9 per statement: the 94th statement
        # (line 98) goes past the budget.
        ("".join(f"a{i:03} = 1\n" for i in range(200)), 98),
        ("a = [" + "1, " * 400 + "]\n", 5),  # one long array
        ("a = [" + "{}, " * 400 + "]\n", 5),  # inline tables
        ("a." * 600 + "a = 1\n", 5),  # one long dotted key
    ],
    ids=["statements", "array", "inline-tables", "dotted-key"],
)
def test_statement_parser_budget(tail: str, line: int) -> None:
    # A first package outside the Cargo shape (a comment) also counts.
    text = "version = 3\n[[package]] # c\n" + BLOCK.split("\n", 1)[1] + tail
    tomllib.loads(text)
    for names in (None, frozenset({"libc"}), frozenset({"other"})):
        lock = _slow(text, names)
        assert lock.error is not None
        assert lock.error.line == line
        assert "not in the shape Cargo writes" in lock.error.message


def test_cargo_shaped_text_does_not_use_the_budget() -> None:
    block = BLOCK + f'source = "{CRATES_IO}"\ndependencies = [\n "a",\n]\n\n'
    text = "version = 3\n\n" + block * 1000
    lock = _slow(text)
    assert lock.error is None
    assert len(lock.packages) == 1000
    # 12 + 98 * 9 = 894 characters are read; 12 + 99 * 9 = 903 are too many.
    stmts = "".join(f"a{i:03} = 1\n" for i in range(99))
    assert _slow("version = 3\n" + stmts[:-9]).error is None
    assert _slow("version = 3\n" + stmts).error is not None


def test_full_size_budget_on_blank_lines() -> None:
    text = "version = 3\n" + "\n" * 2_100_000 + BLOCK
    lock = parse_lockfile(text)
    assert lock.error is not None
    assert f"more than {lockfile.MAX_SLOW_CHARS} characters" in lock.error.message
    # 12 characters on line 1, then one per blank line.
    assert lock.error.line == 1_999_990
    # The same package after a short gap is read.
    (libc,) = parse_lockfile("version = 3\n" + "\n" * 1000 + BLOCK).packages
    assert libc.start_line == 1002
