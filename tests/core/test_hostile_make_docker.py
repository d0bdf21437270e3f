"""Makefile and Dockerfile scans on hostile, packed input: same answers, linear work.

Each linear rewrite is checked against the plain regex form it replaced, on
random short lines, and the scans are checked on packed inputs of a few
thousand items (what they find, never how long they take).
"""

from __future__ import annotations

import random
import re

import pytest

from bot.core.sources import UseKind, docker, make

MUSL = "x86_64-unknown-linux-musl"
N = 3000


# The regex forms the scanners used before; quadratic or worse on packed input,
# so only run here on short lines.
def _cut_comment_regex(code: str) -> str:
    for match in re.finditer(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|(?<!\S)#", code):
        if match.group() == "#":
            return code[: match.start()]
    return code


def _third_party_regex(code: str, start: int) -> bool:
    if code[start - 1 : start] == ":":
        return False
    found = re.search(r"[^\s\"'`(]*$", code[:start])
    token = found.group() if found else ""
    if set(re.split(r"[/=@]", token)) & make.THIRD_PARTY_TOOLS:
        return True
    last = re.split(r"[/=:@]", token)[-1]
    parts = [
        part
        for part in last.split("-")
        if part and not re.match(r"[v+]?\d|.*[$}{]", part)
    ]
    return "-".join(parts) in make.THIRD_PARTY_TOOLS


def _arch_values_regex(text: str, var: str) -> tuple[str, ...]:
    assign = re.compile(
        rf"\b{re.escape(var)}\s*[:?+]?=\s*[\"']?({make.ARCH_PATTERN})(?![\w-])"
    )
    return tuple(dict.fromkeys(assign.findall(text))) or ("x86_64", "aarch64")


_APK_RUST_RE = re.compile(
    r"\bapk\b[^;&|]*\badd\b[^;&|]*(?<![\w-])(?:rust|cargo)(?![\w-])"
)


def _random_lines(pieces: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    return [
        "".join(rng.choice(pieces) for _ in range(rng.randrange(12)))
        for _ in range(count)
    ]


def test_cut_comment_matches_the_regex_form() -> None:
    pieces = ['"', "'", "\\", "#", " ", "a", "\t", '\\"', "\n", "\u00a0", "x#"]
    for line in _random_lines(pieces, 6000, 1):
        assert make.cut_comment(line) == _cut_comment_regex(line), repr(line)


def test_third_party_matches_the_regex_form() -> None:
    pieces = [
        MUSL, "-", "sccache", "cross", "v0.5", "1", "/", "=", ":", "@", " ", ",",
        "$x", "{", "(", '"', "\n", "cargo", "nextest", "\u00a0", "mdbook",
    ]  # fmt: skip
    for line in _random_lines(pieces, 6000, 2):
        downloads = make._Downloads(line)
        for match in make.LOOSE_TRIPLE_RE.finditer(line):
            got = downloads.third_party(match.start())
            assert got == _third_party_regex(line, match.start()), repr(line)


def test_arch_index_matches_the_regex_form() -> None:
    pieces = [
        "ARCH", "A", "a.ARCH", ".", " ", "=", ":=", "?=", "+=", "x86_64",
        "aarch64", "\n", '"', "-", "ARCH=x86_64", "é", "arm",
    ]  # fmt: skip
    # More than make._DIRECT_LOOKUPS: both the direct search and the index.
    variables = ["ARCH", "A", "a.ARCH", "ARCH.", ".", "a", "é", "RCH", "AR", "x"]
    for text in _random_lines(pieces, 3000, 3):
        for order in (variables, variables[::-1]):  # each var by both paths
            index = make.ArchIndex(text)
            for var in order:
                want = _arch_values_regex(text, var)
                assert index.values(var) == want, (text, var)
                assert index.values(var) == want  # the memoised answer
    text = "ARCH=x86_64 a.ARCH=aarch64 a.ARCH=a.ARCH=arm"
    index = make.ArchIndex(text)
    for dummy in range(make._DIRECT_LOOKUPS):
        index.values(f"V{dummy}")
    # By the index now: the same as the direct search.
    assert index.values("a.ARCH") == _arch_values_regex(text, "a.ARCH")
    assert index.values("a.ARCH") == ("aarch64", "arm")
    assert make.arch_values("ARCH = aarch64 ARCH=x86_64", "ARCH") == (
        "aarch64",
        "x86_64",
    )


def test_apk_check_matches_the_regex_form() -> None:
    pieces = ["apk", "add", "rust", "cargo", " ", ";", "&", "|", "-", "x", "apkadd"]
    for line in _random_lines(pieces, 6000, 4):
        want = _APK_RUST_RE.search(line) is not None
        assert docker._apk_adds_rust(line) is want, repr(line)


def test_make_unterminated_escaped_quotes() -> None:
    text = f'{MUSL}\n"' + '\\"' * N + f" # {MUSL}-not-this\nb {MUSL}\n"
    uses = make.scan("Makefile", text).uses
    assert [(u.line, u.target) for u in uses] == [(1, MUSL), (3, MUSL)]


def test_make_packed_triples_on_one_line() -> None:
    text = ",".join([MUSL] * N) + "\n"
    uses = make.scan("Makefile", text).uses
    assert [(u.line, u.target) for u in uses] == [(1, MUSL)]


def test_make_packed_downloads_on_one_line() -> None:
    text = " ".join([f"sccache-v0.5-{MUSL}.tar.gz"] * N) + "\n"
    assert make.scan("Makefile", text).uses == ()
    # Only the first triple follows the tool's name; the rest are artifacts.
    text = "sccache-v0.5-" + "-".join([MUSL] * N) + "\n"
    assert [u.line for u in make.scan("Makefile", text).uses] == [1]
    text = "cross/" + ",".join([MUSL] * N) + "\n"
    assert make.scan("Makefile", text).uses == ()


def test_make_templated_lines_share_one_lookup() -> None:
    text = "e := aarch64\n" + "$e-unknown-linux-musl\n" * N
    uses = make.scan("Makefile", text).uses
    assert len(uses) == N
    assert {u.resolves_to for u in uses} == {("aarch64-unknown-linux-musl",)}
    assert all(u.kind is UseKind.MAKE and u.implicit for u in uses)


def test_docker_packed_inputs() -> None:
    text = 'FROM alpine\nRUN "' + '\\"' * N + f" # {MUSL}\nRUN cargo build\n"
    result = docker.scan("Dockerfile", text)
    assert [(u.line, u.target) for u in result.uses] == [(1, "alpine")]

    text = "FROM alpine\nRUN " + ",".join(["-" + MUSL] * N) + "\n"
    assert [u.line for u in docker.scan("Dockerfile", text).uses] == [2]

    text = "FROM alpine\nRUN " + "apk add " * N + "\n"
    assert docker.scan("Dockerfile", text).uses == ()
    text = "FROM alpine\nRUN " + "apk add " * N + "rust\n"
    assert [u.line for u in docker.scan("Dockerfile", text).uses] == [1]


def test_docker_many_templated_variables() -> None:
    lines = "".join(
        f"RUN cargo build --target $A{i}-unknown-linux-musl\n" for i in range(N)
    )
    text = "ARG A7=aarch64\nFROM alpine\n" + lines
    uses = [u for u in docker.scan("Dockerfile", text).uses if u.line > 2]
    assert len(uses) == N
    assert uses[7].resolves_to == ("aarch64-unknown-linux-musl",)
    assert uses[8].resolves_to == (
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
    )


@pytest.mark.parametrize("builds_last", [True, False])
def test_docker_many_stages(builds_last: bool) -> None:
    stages = "".join(f"FROM s{i - 1} AS s{i}\n" for i in range(1, N))
    last = "RUN cargo build\n" if builds_last else ""
    text = "FROM alpine AS s0\n" + stages + last
    uses = docker.scan("Dockerfile", text).uses
    assert [u.line for u in uses] == ([1] if builds_last else [])
