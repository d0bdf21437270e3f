"""The Cargo.lock scanner against tomllib, the corpus ground truth and bad input."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import findings
from bot.core.analysis import LOCKFILE_NAMES, read_lockfile
from bot.core.lockfile import Lockfile, SourceKind, parse_lockfile, source_kind
from tests.paths import CORPUS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lockfiles"
LOCKFILES = sorted(CORPUS.rglob("Cargo.lock")) + sorted(FIXTURES.glob("*.lock"))
CASES = sorted(p for p in CORPUS.iterdir() if (p / "expected.json").is_file())
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"

Row = tuple[str, str, str | None, str | None, tuple[str, ...]]


def toml_rows(text: str) -> list[Row]:
    """Return (name, version, source, checksum, dependencies) as tomllib reads them."""
    data: dict[str, Any] = tomllib.loads(text)
    metadata: dict[str, str] = data.get("metadata", {})
    v1 = "version" not in data and any(k.startswith("checksum ") for k in metadata)
    rows: list[Row] = []
    for pkg in data.get("package", []):
        checksum = pkg.get("checksum")
        if checksum is None and v1 and pkg.get("source") is not None:
            key = f"checksum {pkg['name']} {pkg['version']} ({pkg['source']})"
            checksum = metadata.get(key)
            checksum = None if checksum == "<none>" else checksum
        deps = tuple(pkg.get("dependencies", ()))
        rows.append((pkg["name"], pkg["version"], pkg.get("source"), checksum, deps))
    return rows


def rows(lock: Lockfile) -> list[Row]:
    return [
        (p.name, p.version, p.source, p.checksum, p.dependencies) for p in lock.packages
    ]


def kept_only(full: Lockfile, names: frozenset[str]) -> Lockfile:
    """Return what reading with `names` must give: `full` with only those names."""
    packages = tuple(p for p in full.packages if p.name in names)
    return Lockfile(full.path, full.format_version, packages, full.error, names)


def toml_format(text: str) -> int | None:
    """Return the format version by the rule in corpus/README.md, using tomllib."""
    data: dict[str, Any] = tomllib.loads(text)
    if "version" in data:
        return int(data["version"])
    if any(k.startswith("checksum ") for k in data.get("metadata", {})):
        return 1
    if any("checksum" in p for p in data.get("package", [])):
        return 2
    return None


@pytest.mark.parametrize(
    "path", LOCKFILES, ids=lambda p: str(p.relative_to(p.parents[2]))
)
def test_agrees_with_tomllib(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lock = parse_lockfile(text, "Cargo.lock")
    assert lock.error is None
    assert rows(lock) == toml_rows(text)
    assert lock.format_version == toml_format(text)
    lines = text.split("\n")
    for pkg in lock.packages:
        assert lines[pkg.line - 1] == f'version = "{pkg.version}"'
        assert pkg.start_line < pkg.line <= pkg.end_line
        assert lines[pkg.start_line - 1] == "[[package]]"
        assert lines[pkg.end_line - 1].strip()
        after = lines[pkg.end_line :]
        rest = next((line for line in after if line.strip()), "[")
        assert rest.startswith("[")
        assert pkg.source_kind is source_kind(pkg.source)
        if pkg.checksum is None:
            assert pkg.checksum_line is None
        else:
            assert pkg.checksum_line is not None
            assert f'"{pkg.checksum}"' in lines[pkg.checksum_line - 1]


@pytest.mark.parametrize(
    "path", LOCKFILES[::4], ids=lambda p: str(p.relative_to(p.parents[2]))
)
def test_crlf_and_bom_change_nothing(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert parse_lockfile("\ufeff" + text.replace("\n", "\r\n")) == parse_lockfile(text)


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_libc_entries_match_expected_json(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    lockfile = case / "Cargo.lock"
    if not lockfile.is_file():
        assert expected["libc"] == []
        assert expected["lockfile_version"] is None
        return
    lock = parse_lockfile(lockfile.read_text(encoding="utf-8"))
    got = [{"version": p.version, "line": p.line} for p in lock.named("libc")]
    assert got == expected["libc"]
    assert lock.format_version == expected["lockfile_version"]


def test_v1_two_libc_fixture() -> None:
    text = (FIXTURES / "v1-ion-two-libc.lock").read_text(encoding="utf-8")
    lock = parse_lockfile(text)
    git, registry = lock.named("libc")
    assert (git.version, git.source_kind, git.checksum) == (
        "0.2.64",
        SourceKind.GIT,
        None,
    )
    assert registry.source_kind is SourceKind.REGISTRY
    assert (
        registry.checksum_line
        == text.split("\n").index(
            f'"checksum libc 0.2.65 ({CRATES_IO})" = "{registry.checksum}"'
        )
        + 1
    )
    # [[patch.unused]] entries are not packages of the graph
    assert [p.name for p in lock.packages] == ["atty", "libc", "libc", "nix"]
    assert lock.format_version == 1


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        (None, SourceKind.PATH),
        (CRATES_IO, SourceKind.REGISTRY),
        ("sparse+https://index.crates.io/", SourceKind.REGISTRY),
        ("sparse+https://my-intranet:8080/index/", SourceKind.OTHER_REGISTRY),
        ("registry+https://example.com/index", SourceKind.OTHER_REGISTRY),
        ("git+https://github.com/rust-lang/libc#53bdffc0", SourceKind.GIT),
    ],
)
def test_source_kind(source: str | None, kind: SourceKind) -> None:
    assert source_kind(source) is kind


ODD = """\
# This file is automatically @generated by Cargo.
version = 3  # trailing comment
top.dotted = 'x'

[[package]]
name = "a"   # why not
version = '1.0.0'
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "\\u0061bc\\t\\"\\\\\\U0001F600"
dependencies = ["b", # note
  "c 1.0.0 (registry+https://example.com/index)",

  # a comment line inside the array
]
replace = { name = "x", version = "1", nested = { deep = [1, 2] } }
empty = {}
weird.dotted = 1
flags = [[1, 2], [true, 1979-05-27T07:32:00Z, 1979-05-27 07:32:00], 1_000, -3,
  'lit', \"\"\"multi "quoted" ""
line\"\"\", '''lit
multi''', 3.5e2]

[[package]]
"name" = "b\\tc"
  version   =   "2.0.0"
dependencies = []
[root]
name = "root"
dependencies = ["a 1.0.0"]

[[package]]
name = "c"
version = "1.0.0"
source = "registry+https://example.com/index"
[[patch.unused]]
name = "libc"
version = "0.2.1"

[metadata]
"checksum a 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)" = "x"
other = 1
"""


def test_statement_parser_agrees_with_tomllib() -> None:
    lock = parse_lockfile(ODD)
    assert lock.error is None
    assert rows(lock) == toml_rows(ODD)
    assert lock.format_version == 3
    a, b, c = lock.packages
    assert (a.line, a.checksum_line, a.start_line, a.end_line) == (7, 9, 5, 21)
    assert (b.line, b.start_line, b.end_line) == (25, 23, 26)
    assert (c.line, c.start_line, c.end_line, c.checksum) == (33, 31, 34, None)
    assert c.source_kind is SourceKind.OTHER_REGISTRY


def test_metadata_checksum_with_escapes_and_no_version_key() -> None:
    text = (
        '[[package]]\nname = "a"\nversion = "1.0.0"\n'
        f'source = "{CRATES_IO}"\n\n[[package]]\nname = "p"\nversion = "0.1.0"\n\n'
        "[metadata]\n# odd but legal\n"
        f'"checksum a 1.0.0 ({CRATES_IO})" = "\\u0061b"\n'
        '"not a checksum" = "x"\n'
        '"checksum b" = 1\n'
        "dotted.key = 'y'\n"
    )
    lock = parse_lockfile(text)
    assert lock.error is None
    assert rows(lock) == toml_rows(text)
    assert lock.format_version == 1
    assert lock.packages[0].checksum_line == 12
    assert lock.packages[1].checksum is None


def test_no_checksums_anywhere_has_no_format_version() -> None:
    text = '[[package]]\nname = "app"\nversion = "0.1.0"\n'
    lock = parse_lockfile(text)
    assert lock.format_version is None
    assert lock.packages[0].source_kind is SourceKind.PATH
    assert lock.packages[0].end_line == 3


def test_metadata_is_opaque_when_a_version_key_exists() -> None:
    text = (
        'version = 4\n\n[[package]]\n\'name\' = "a"\nversion = "1.0.0"\n'
        f'source = "{CRATES_IO}"\n\n[metadata]\n'
        f'"checksum a 1.0.0 ({CRATES_IO})" = "y"\n'
    )
    lock = parse_lockfile(text)
    assert lock.format_version == 4
    assert lock.packages[0].name == "a"
    assert lock.packages[0].checksum is None
    assert rows(lock)[0][:3] == toml_rows(text)[0][:3]


@pytest.mark.parametrize(
    ("text", "line", "message", "kept"),
    [
        ('[[package]]\nname = "a"\n', 1, "without a string `version`", 0),
        ('[[package]]\nversion = "1"\n', 1, "without a string `name`", 0),
        ('[[package]]\nname = 1\nversion = "1"\n', 1, "without a string `name`", 0),
        ('[[package]]\nname = "a"\nversion = "1"\nsource = 1\n', 1, "`source`", 0),
        ('[[package]]\nname = "a"\nversion = "1"\nchecksum = []\n', 1, "`checksum`", 0),
        ('[[package]]\nname = "a"\nversion = "1"\ndependencies = 1\n', 1, "list", 0),
        ('[[package]]\nname = "a"\nversion = "1"\ndependencies = [1]\n', 1, "list", 0),
        ('[[package]]\nname.x = "a"\nversion = "1"\n', 1, "`name`", 0),
        (
            '[[package]]\nname = "a"\nversion = "1"\n\n[[package]]\nname = "b"\n'
            'version = "2"\ndependencies = [\n "a",\n',
            10,
            "unterminated array",
            1,
        ),
        ("\x00\x01\x02 binary", 1, "expected a key", 0),
        ("[[package]\n", 1, "malformed [table] header", 0),
        ("[[package]] x\n", 1, "after a [table] header", 0),
        ('name = "a" x\n', 1, "after a value", 0),
        ("\n\nname\n", 3, "expected `key = value`", 0),
        ("name = \n", 1, "expected a value", 0),
        ('name = "abc\n', 1, "unterminated string", 0),
        ("name = 'abc\n", 1, "unterminated string", 0),
        ('name = "\\q"\n', 1, "invalid escape \\q", 0),
        ('name = "\\uD800"\n', 1, "invalid unicode escape", 0),
        ('"\\U00110000" = 1\n', 1, "invalid unicode escape", 0),
        ('[[package]]\nname = "a"\nname = "b"\n', 3, "duplicate key `name`", 0),
        ('version = "3"\n', 1, "must be an integer", 0),
        ("x = " + "[" * 100, 1, "nested too deeply", 0),
        ("x = [1 2]\n", 1, "expected `,` or `]`", 0),
        ("x = {a = 1 b = 2}\n", 1, "expected `,` or `}`", 0),
        ("x = {a 1}\n", 1, "expected `=`", 0),
    ],
)
def test_bad_input_gives_an_error(
    text: str, line: int, message: str, kept: int
) -> None:
    lock = parse_lockfile(text)
    assert lock.error is not None
    assert lock.error.line == line
    assert message in lock.error.message
    assert len(lock.packages) == kept
    for names in (frozenset({"a"}), frozenset({"b", "libc"})):
        assert parse_lockfile(text, names=names) == kept_only(lock, names)


def test_bad_input_is_really_bad_for_tomllib() -> None:
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(
            '[[package]]\nname = "a"\nversion = "1"\ndependencies = [\n "a",\n'
        )


def test_twenty_megabytes_parse() -> None:
    block = (
        '[[package]]\nname = "crate-{i}"\nversion = "1.{i}.0"\n'
        f'source = "{CRATES_IO}"\n'
        'checksum = "{i:064x}"\ndependencies = [\n "libc",\n "serde 1.0.{i}",\n]\n\n'
    )
    count = 20_000_000 // len(block)
    text = "version = 3\n\n" + "".join(block.format(i=i) for i in range(count))
    assert len(text) > 20_000_000
    lock = parse_lockfile(text)
    assert lock.error is None
    assert len(lock.packages) == count
    last = lock.packages[-1]
    assert last.line == 3 + (count - 1) * 10 + 2
    assert last.dependencies == ("libc", f"serde 1.0.{count - 1}")


@pytest.mark.parametrize(
    "text",
    [
        'name = "' + "a" * 20_000_000,
        "x = " + "[" * 20_000_000,
        "[[package]]\n" * 2_000_000,
        "x = [" + '"a", ' * 2_000_000,
    ],
    ids=["long-string", "deep-array", "empty-packages", "long-array"],
)
def test_huge_bad_input_is_bounded(text: str) -> None:
    lock = parse_lockfile(text)
    assert lock.error is not None


# -- property tests: generated lockfiles against tomllib ---------------------

NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
VERSIONS = st.from_regex(
    r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})"
    r"(-[a-z0-9.]{1,5})?(\+[a-z0-9]{1,4})?",
    fullmatch=True,
)
SOURCES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            CRATES_IO,
            "sparse+https://index.crates.io/",
            "registry+https://example.com/index",
            "sparse+https://my.registry/api/v1/crates/",
        ]
    ),
    st.from_regex(
        r"git\+https://github\.com/[a-z]{1,8}/[a-z]{1,8}(\?(branch|rev|tag)=[a-z0-9+]{1,8})?"
        r"#[0-9a-f]{40}",
        fullmatch=True,
    ),
)
CHECKSUMS = st.from_regex(r"[0-9a-f]{64}", fullmatch=True)
ODD_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), max_codepoint=0x1F700)
    | st.sampled_from(['"', "\\", "'", "#", "\t", "\n", "="]),
    max_size=10,
)


def basic(value: str, escape_more: bool) -> str:
    """Spell `value` as a TOML basic string."""
    out = []
    for char in value:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F or (escape_more and code > 0x7E):
            out.append(f"\\u{code:04X}" if code < 0x10000 else f"\\U{code:08X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


@st.composite
def string_value(draw: st.DrawFn, value: str, canonical: bool) -> str:
    if canonical:
        return f'"{value}"'
    literal_ok = "'" not in value and all(
        0x20 <= ord(c) != 0x7F or c == "\t" for c in value
    )
    style = draw(st.sampled_from(["basic", "escaped", "literal"]))
    if style == "literal" and literal_ok:
        return f"'{value}'"
    return basic(value, escape_more=style == "escaped")


@st.composite
def lockfiles(draw: st.DrawFn) -> tuple[str, str, list[Row], list[int]]:
    """Return (text, text-without-BOM, expected rows, expected version lines)."""
    fmt = draw(st.sampled_from([1, 2, 3, 4]))
    packages = draw(
        st.lists(
            st.tuples(NAMES, VERSIONS, SOURCES, CHECKSUMS, st.lists(NAMES, max_size=4)),
            max_size=6,
            unique_by=lambda p: (p[0], p[1], p[2]),
        )
    )
    lines: list[str] = ["# This file is automatically @generated by Cargo."]
    if draw(st.booleans()):
        lines.append("# It is not intended for manual editing.")
    if fmt >= 3:
        lines += [f"version = {fmt}", ""]
    expected: list[Row] = []
    version_lines: list[int] = []
    metadata: list[str] = []
    for name, version, source, checksum, deps in packages:
        canonical = draw(st.booleans())
        if not canonical and fmt != 1 and draw(st.booleans()):
            name = draw(ODD_TEXT)
        dep_strings = [
            f"{d} {version} ({source})" if fmt == 1 and source else d for d in deps
        ]
        inline = checksum if fmt >= 2 and source is not None else None
        entries: list[tuple[str, str]] = [
            ("name", draw(string_value(name, canonical))),
            ("version", draw(string_value(version, canonical))),
        ]
        if source is not None:
            entries.append(("source", draw(string_value(source, canonical))))
        if inline is not None:
            entries.append(("checksum", f'"{inline}"'))
        if fmt == 1 and source is not None:
            metadata.append(f'"checksum {name} {version} ({source})" = "{checksum}"')
        if not canonical:
            entries = draw(st.permutations(entries))
            if draw(st.booleans()):
                entries.append(("replace", '"x 1.0.0"'))
        lines.append("[[package]]")
        for key, value in entries:
            if not canonical and draw(st.booleans()):
                lines.append("# a comment")
            if key == "version":
                version_lines.append(len(lines) + 1)
            pad = (
                draw(st.sampled_from([" = ", "=", "  =  "])) if not canonical else " = "
            )
            tail = draw(st.sampled_from(["", "  # note"])) if not canonical else ""
            lines.append(f"{key}{pad}{value}{tail}")
        if dep_strings:
            if canonical or draw(st.booleans()):
                lines += ["dependencies = [", *(f' "{d}",' for d in dep_strings), "]"]
            else:
                lines.append(
                    "dependencies = [" + ", ".join(f'"{d}"' for d in dep_strings) + "]"
                )
        lines.append("")
        metadata_checksum = checksum if fmt == 1 and source is not None else None
        expected.append(
            (name, version, source, inline or metadata_checksum, tuple(dep_strings))
        )
    if draw(st.booleans()):
        lines += ["[[patch.unused]]", 'name = "libc"', 'version = "0.2.1"', ""]
    if metadata:
        lines += ["[metadata]", *metadata]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + newline
    bom = "\ufeff" if draw(st.booleans()) else ""
    if fmt == 1 and not metadata:
        expected = [(n, v, s, None, d) for n, v, s, _, d in expected]
    return bom + text, text, expected, version_lines


@settings(max_examples=300, deadline=None)
@given(lockfiles())
def test_generated_lockfiles_agree_with_tomllib(
    generated: tuple[str, str, list[Row], list[int]],
) -> None:
    text, plain, expected, version_lines = generated
    assert toml_rows(plain) == expected  # the generator itself is right
    lock = parse_lockfile(text)
    assert lock.error is None
    assert rows(lock) == expected
    assert [p.line for p in lock.packages] == version_lines
    assert lock.format_version == toml_format(plain)


@settings(max_examples=200, deadline=None)
@given(lockfiles(), st.data())
def test_generated_lockfiles_filtered_keep_exactly_the_names(
    generated: tuple[str, str, list[Row], list[int]], data: st.DataObject
) -> None:
    text = generated[0]
    full = parse_lockfile(text)
    present = sorted({p.name for p in full.packages})
    chosen = data.draw(st.lists(st.sampled_from(present)) if present else st.just([]))
    names = frozenset([*chosen, *data.draw(st.lists(NAMES | ODD_TEXT, max_size=2))])
    assert parse_lockfile(text, names=names) == kept_only(full, names)


# Text that breaks a lockfile wherever it lands (or, between statements, is
# still valid and must then change nothing either).
DAMAGE = ['"', "[", "]]", " = x", "\\q", "\x00", "'", "{", "\nname = 1\n", "\n= 1\n"]


@settings(max_examples=300, deadline=None)
@given(lockfiles(), st.sampled_from(DAMAGE), st.floats(0, 1), st.data())
def test_damaged_lockfiles_give_the_same_error_when_filtered(
    generated: tuple[str, str, list[Row], list[int]],
    damage: str,
    where: float,
    data: st.DataObject,
) -> None:
    text = generated[0]
    at = int(where * len(text))
    damaged = text[:at] + damage + text[at:]
    full = parse_lockfile(damaged)
    present = sorted({p.name for p in full.packages}) or ["libc"]
    names = frozenset(data.draw(st.lists(st.sampled_from(present), min_size=1)))
    assert parse_lockfile(damaged, names=names) == kept_only(full, names)


@pytest.mark.parametrize(
    "path", LOCKFILES, ids=lambda p: str(p.relative_to(p.parents[2]))
)
def test_filtered_read_is_the_subset_of_the_full_read(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    full = parse_lockfile(text, "Cargo.lock")
    present = sorted({p.name for p in full.packages})
    for names in (
        LOCKFILE_NAMES,
        frozenset(),
        frozenset({"libc"}),
        frozenset(present[::7]),  # names spread over the file
        frozenset(present),  # every package: the full read
        frozenset({"lib", "libc-", "ibc", "libc "}),  # near misses of libc
    ):
        lock = parse_lockfile(text, "Cargo.lock", names)
        assert lock == kept_only(full, names)
    assert parse_lockfile(text, names=frozenset(present)).packages == full.packages


@pytest.mark.parametrize(
    "path", LOCKFILES, ids=lambda p: str(p.relative_to(p.parents[2]))
)
def test_damaged_corpus_lockfiles_give_the_same_error_when_filtered(
    path: Path,
) -> None:
    text = path.read_text(encoding="utf-8")
    libc = max(text.find('name = "libc"'), 0)
    errors = 0
    for at in (len(text) // 3, len(text) - 2, libc, libc + 20):
        for damage in DAMAGE:
            damaged = text[:at] + damage + text[at:]
            full = parse_lockfile(damaged)
            errors += full.error is not None
            lock = parse_lockfile(damaged, names=LOCKFILE_NAMES)
            assert lock == kept_only(full, LOCKFILE_NAMES)
    assert errors >= len(DAMAGE)


def test_a_name_that_was_not_kept_cannot_be_asked_for() -> None:
    text = (FIXTURES / "v1-ion-two-libc.lock").read_text(encoding="utf-8")
    lock = parse_lockfile(text, names=frozenset({"libc"}))
    assert len(lock.named("libc")) == 2
    with pytest.raises(ValueError, match="'nix' was not kept"):
        lock.named("nix")
    assert parse_lockfile(text).named("nix")


def test_analysis_keeps_every_package_the_rules_read() -> None:
    triggers = {name for name, _, _ in findings._TRIGGERS}
    assert {"libc", "rustix", *triggers} <= LOCKFILE_NAMES


@pytest.mark.parametrize(
    "path",
    [c / "Cargo.lock" for c in CASES if (c / "Cargo.lock").is_file()],
    ids=lambda p: p.parent.name,
)
def test_read_lockfile_returns_the_decoded_text(path: Path) -> None:
    data = b"\xef\xbb\xbf" + path.read_bytes()
    lock, text, problem = read_lockfile("Cargo.lock", data, LOCKFILE_NAMES)
    assert problem is None
    assert text == data.decode("utf-8-sig")
    assert lock == kept_only(parse_lockfile(text), LOCKFILE_NAMES)


def test_read_lockfile_without_text() -> None:
    lock, text, problem = read_lockfile("Cargo.lock", b"\x00\x01binary")
    assert (lock, text) == (None, "")
    assert problem is not None
    assert "binary" in problem.message


def test_twenty_megabytes_filtered() -> None:
    block = (
        '[[package]]\nname = "crate-{i}"\nversion = "1.{i}.0"\n'
        f'source = "{CRATES_IO}"\n'
        'checksum = "{i:064x}"\ndependencies = [\n "libc",\n]\n\n'
    )
    count = 20_000_000 // len(block)
    text = "version = 3\n\n" + "".join(block.format(i=i) for i in range(count))
    text += '[[package]]\nname = "libc"\nversion = "0.2.140"\n'
    lock = parse_lockfile(text, names=LOCKFILE_NAMES)
    assert lock.error is None
    (libc,) = lock.packages
    assert (libc.start_line, libc.line, libc.end_line) == (
        3 + count * 9,
        5 + count * 9,
        5 + count * 9,
    )
    broken = text[: len(text) // 2] + "]]" + text[len(text) // 2 :]
    assert parse_lockfile(broken, names=LOCKFILE_NAMES) == kept_only(
        parse_lockfile(broken), LOCKFILE_NAMES
    )
