"""Choosing the libc release and planning the exact Cargo.lock edit."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.core.fixes import IndexEntry, LineEdit, apply_edits, choose_libc, plan_fix
from bot.core.lockfile import parse_lockfile
from bot.core.versions import LIBC_FIXED, Version, parse_version
from tests.paths import CORPUS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lockfiles"
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"

# The verified checksums of docs/domain.md 7.4 (crates.io-index li/bc/libc snapshot):
# vers, cksum, yanked, rust_version; 1.0.0-alpha.1 sits in publish order.
INDEX_TABLE = """
0.2.139 201de327520df007757c1f0adce6e827fe8562fbc28bfd9c15571c66ca1f5f79 no -
0.2.140 99227334921fae1a979cf0bfdfcc6b3e5ce376ef57e16fb6fb3ea2ed6095f80c no -
0.2.141 3304a64d199bb964be99741b7a14d26972741915b3649639149b2479bb46f4b5 no -
0.2.142 6a987beff54b60ffa6d51982e1aa1146bc42f19bd26be28b0586f252fccf5317 no -
0.2.143 edc207893e85c5d6be840e969b496b53d94cec8be2d501b214f50daa97fa8024 no -
0.2.144 2b00cc1c228a6782d0f076e7b232802e0c5689d41bb5df366f2a6b6621cfdfe1 no -
0.2.145 fc86cde3ff845662b8f4ef6cb50ea0e20c524eb3d29ae048287e06a1b3fa6a81 yes -
0.2.146 f92be4933c13fd498862a9e02a3055f8a8d9c039ce33db97306fd5a6caa7f29b no -
0.2.147 b4668fb0ea861c1df094127ac5f1da3409a82116a4ba74fca2e58ef927159bb3 no -
0.2.150 89d92a4743f9a61002fae18374ed11e7973f530cb3a3255fb354818118b2203c no -
0.2.153 9c198f91728a82281a64e1f4f9eeb25d82cb32a5de251c6bd1b5154d63a8e7bd no -
0.2.154 ae743338b92ff9146ce83992f766a31066a91a8c84a45e0e9f21e7cf6de6d346 yes -
0.2.155 97b3888a4aecf77e811145cadf6eef5901f4782c53886191b2f693f24761847c no -
0.2.158 d8adc4bb1803a324070e64a98ae98f38934d91957a99cfb3a43dcbc01bc56439 no -
0.2.161 8e9489c2807c139ffd9c1794f4af0ebe86a828db53ecdc7fea2111d0fed085d1 no -
0.2.163 1fdaeca4cf44ed4ac623e86ef41f056e848dbeab7ec043ecb7326ba300b36fd0 no 1.19
0.2.164 433bfe06b8c75da9b2e3fbea6e5329ff87748f0b144ef75306e674c3f6f7c13f no 1.63
0.2.165 fcb4d3d38eab6c5239a362fa8bae48c03baf980a6e7079f063942d563ef3533e yes 1.63
0.2.169 b5aba8db14291edd000dfcc4d620c7ebfb122c613afb886ca8803fa4e128a20a no 1.63
0.2.171 c19937216e9d3aa9956d9bb8dfc0b0c8beb6058fc4f7a4dc4d850edf86a237d6 no 1.63
1.0.0-alpha.1 0000000000000000000000000000000000000000000000000000000000000000 no 1.63
0.2.172 d750af042f7ef4f724306de029d18836c26c1765a54a6a3f094cbd23a7267ffa no 1.63
0.2.174 1171693293099992e19cddea4e8b849964e9846f4acee11b3948bcc337be8776 no 1.63
"""
INDEX = tuple(
    IndexEntry(vers, cksum, yanked == "yes", None if rust == "-" else rust)
    for vers, cksum, yanked, rust in (
        row.split() for row in INDEX_TABLE.split("\n") if row
    )
)
CKSUM = {e.vers: e.cksum for e in INDEX}


def case_lockfiles() -> list[Path]:
    """Return the root lockfiles of corpus cases whose expected libc is old."""
    found = []
    for case in sorted(CORPUS.iterdir()):
        expected_file = case / "expected.json"
        if not expected_file.is_file():
            continue
        expected = json.loads(expected_file.read_text(encoding="utf-8"))
        versions = [parse_version(e["version"]) for e in expected["libc"]]
        if any(v is not None and v < LIBC_FIXED for v in versions):
            found.append(case / "Cargo.lock")
    return found


OLD_LOCKS = case_lockfiles()


def libc_checksums(data: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Return (version, checksum) of every libc package as tomllib reads them."""
    metadata = data.get("metadata", {})
    out = []
    for pkg in data["package"]:
        if pkg["name"] == "libc":
            key = f"checksum libc {pkg['version']} ({pkg.get('source')})"
            out.append((pkg["version"], pkg.get("checksum", metadata.get(key))))
    return out


def check_applied(text: str, edits: tuple[LineEdit, ...], new: str) -> str:
    """Apply `edits` and check the result the way a reviewer would."""
    result = apply_edits(text, edits)
    before, after = text.split("\n"), result.split("\n")
    assert len(before) == len(after)
    changed = {
        n for n, (a, b) in enumerate(zip(before, after, strict=True), 1) if a != b
    }
    assert changed == {e.line for e in edits}
    for edit in edits:
        assert before[edit.line - 1].endswith("\r") == after[edit.line - 1].endswith(
            "\r"
        )
    data = tomllib.loads(result)
    assert (new, CKSUM[new]) in libc_checksums(data)
    lock = parse_lockfile(result)
    assert lock.error is None
    for pkg in lock.named("libc"):
        version = parse_version(pkg.version)
        assert version is not None
        assert version >= LIBC_FIXED
    return result


def test_the_corpus_has_old_libc_cases() -> None:
    assert len(OLD_LOCKS) >= 15
    assert CORPUS / "casey__just@935f1130ac" / "Cargo.lock" in OLD_LOCKS


@pytest.mark.parametrize("path", OLD_LOCKS, ids=lambda p: p.parent.name)
def test_plan_fixes_every_old_corpus_lock(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    lock = parse_lockfile(text)
    plan = plan_fix(lock, text, INDEX)
    assert plan is not None
    assert plan.new_version == "0.2.174"
    libcs = lock.named("libc")
    if len(libcs) > 1:
        assert plan.edits == ()
        assert (
            plan.command == f"cargo update -p libc@{plan.old_version} --precise 0.2.174"
        )
        assert plan.reason == f"the lock holds {len(libcs)} libc packages"
        return
    assert plan.command == "cargo update -p libc --precise 0.2.174"
    assert plan.reason == ""
    check_applied(text, plan.edits, "0.2.174")
    if lock.format_version == 1:
        mentions = text.count(f'"libc {plan.old_version} ({CRATES_IO})"')
        assert len(plan.edits) == 2 + mentions
    else:
        assert [e.line for e in plan.edits] == [libcs[0].line, libcs[0].line + 2]


def test_v1_edit_changes_version_dependencies_and_metadata() -> None:
    text = (FIXTURES / "v1-just.lock").read_text(encoding="utf-8")
    plan = plan_fix(parse_lockfile(text), text, INDEX)
    assert plan is not None
    result = check_applied(text, plan.edits, "0.2.174")
    assert "0.2.78" not in result
    assert f'"libc 0.2.174 ({CRATES_IO})",' in result
    assert f'"checksum libc 0.2.174 ({CRATES_IO})" = "{CKSUM["0.2.174"]}"' in result


def test_crlf_lock_keeps_crlf() -> None:
    path = CORPUS / "casey__just@935f1130ac" / "Cargo.lock"
    text = path.read_text(encoding="utf-8").replace("\n", "\r\n")
    plan = plan_fix(parse_lockfile(text), text, INDEX)
    assert plan is not None
    assert plan.edits
    result = check_applied(text, plan.edits, "0.2.174")
    assert result.count("\r\n") == text.count("\r\n")
    assert all("\r" not in e.old + e.new for e in plan.edits)


def test_indentation_and_comments_are_kept() -> None:
    text = (
        "version = 3\n\n[[package]]\n"
        '  name = "libc"\n  version = "0.2.140"  # old\n'
        f'  source = "{CRATES_IO}"\n  checksum = "{CKSUM["0.2.140"]}"\n'
    )
    plan = plan_fix(parse_lockfile(text), text, INDEX, Version(1, 60, 0))
    assert plan is not None
    assert plan.new_version == "0.2.163"
    assert [e.new for e in plan.edits] == [
        '  version = "0.2.163"  # old',
        f'  checksum = "{CKSUM["0.2.163"]}"',
    ]


@pytest.mark.parametrize(
    ("msrv", "chosen"),
    [
        (None, "0.2.174"),
        (Version(1, 93, 0), "0.2.174"),
        (Version(1, 63, 0), "0.2.174"),
        (Version(1, 62, 0), "0.2.163"),
        (Version(1, 56, 0), "0.2.163"),
        (Version(1, 40, 0), "0.2.163"),
        (Version(1, 19, 0), "0.2.163"),
        (Version(1, 13, 0), "0.2.161"),
    ],
)
def test_choose_by_msrv(msrv: Version | None, chosen: str) -> None:
    entry = choose_libc(INDEX, msrv)
    assert entry is not None
    assert entry.vers == chosen


def test_yanked_newest_is_skipped() -> None:
    upto_165 = [e for e in INDEX if e.vers in {"0.2.163", "0.2.164", "0.2.165"}]
    entry = choose_libc(upto_165, None)
    assert entry is not None
    assert entry.vers == "0.2.164"
    only_145 = [e for e in INDEX if e.vers in {"0.2.144", "0.2.145"}]
    assert choose_libc(only_145, None) is None


def test_semver_order_not_string_order() -> None:
    entries = [IndexEntry("0.2.99", "a", False), IndexEntry("0.2.150", "b", False)]
    assert choose_libc(entries, None) == entries[1]


def test_pre_releases_other_lines_and_junk_are_never_chosen() -> None:
    entries = [
        IndexEntry("1.0.0-alpha.4", "a", False),
        IndexEntry("0.3.0", "b", False),
        IndexEntry("0.2.200-rc.1", "c", False),
        IndexEntry("not a version", "d", False),
        IndexEntry("0.2.146", "e", False),
    ]
    entry = choose_libc(entries, None)
    assert entry is not None
    assert entry.vers == "0.2.146"


def test_missing_or_odd_rust_version_uses_the_documented_msrv() -> None:
    entries = [
        IndexEntry("0.2.158", "a", False),
        IndexEntry("0.2.186", "b", False),  # no rust_version: documented 1.65
        IndexEntry("0.2.170", "c", False, "stable"),  # unreadable: documented 1.63
    ]
    assert choose_libc(entries, Version(1, 64, 0)) == entries[2]
    assert choose_libc(entries, Version(1, 62, 0)) == entries[0]
    assert choose_libc(entries, Version(1, 65, 0)) == entries[1]


def test_edition_2021_releases_need_cargo_1_56() -> None:
    entries = [
        IndexEntry("0.2.163", "a", False, "1.19"),
        IndexEntry("0.2.170", "b", False, "1.19"),
    ]
    assert choose_libc(entries, Version(1, 55, 0)) == entries[0]
    assert choose_libc(entries, Version(1, 56, 0)) == entries[1]


def lock_text(*blocks: str, version: int = 3) -> str:
    return f"version = {version}\n\n" + "\n".join(blocks)


def block(version: str, source: str | None = CRATES_IO, checksum: bool = True) -> str:
    out = f'[[package]]\nname = "libc"\nversion = "{version}"\n'
    if source is not None:
        out += f'source = "{source}"\n'
    if checksum and source is not None:
        out += f'checksum = "{CKSUM.get(version, "0" * 64)}"\n'
    return out


@pytest.mark.parametrize(
    "text",
    [
        lock_text(
            block("0.2.146"), '[[package]]\nname = "libcst"\nversion = "0.1.0"\n'
        ),
        lock_text('[[package]]\nname = "app"\nversion = "0.1.0"\n'),
        lock_text(block("0.2.x")),
        (FIXTURES / "v4-zoxide.lock").read_text(encoding="utf-8"),
    ],
    ids=["new-libc", "no-libc", "odd-version", "v4-zoxide"],
)
def test_no_plan_without_old_libc(text: str) -> None:
    assert plan_fix(parse_lockfile(text), text, INDEX) is None


def test_no_index_data_gives_the_command_only() -> None:
    text = lock_text(block("0.2.140"))
    plan = plan_fix(parse_lockfile(text), text, None)
    assert plan is not None
    assert (plan.command, plan.edits, plan.reason) == (
        "cargo update -p libc",
        (),
        "index unavailable",
    )
    assert (plan.old_version, plan.new_version) == ("0.2.140", None)


def test_no_suitable_release() -> None:
    text = lock_text(block("0.2.140"))
    plan = plan_fix(parse_lockfile(text), text, INDEX[:7])
    assert plan is not None
    assert plan.new_version is None
    assert plan.reason == "no suitable libc release in the index"
    assert plan.command == "cargo update -p libc"


def test_several_libc_without_index_name_the_old_one() -> None:
    text = lock_text(block("0.2.140"), block("0.2.150"))
    plan = plan_fix(parse_lockfile(text), text, None)
    assert plan is not None
    assert plan.command == "cargo update -p libc@0.2.140"


def test_new_version_already_in_the_lock() -> None:
    text = lock_text(block("0.2.140"), block("0.2.174"))
    plan = plan_fix(parse_lockfile(text), text, INDEX)
    assert plan is not None
    assert plan.edits == ()
    assert (
        plan.reason == "libc 0.2.174 is already in the lock: cargo must merge the two"
    )
    assert plan.command == "cargo update -p libc@0.2.140 --precise 0.2.174"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (
            "git+https://github.com/rust-lang/libc#53bdffc028632907958bbd03ff88182b2b20a6cc",
            "git",
        ),
        (None, "path dependency"),
        ("registry+https://example.com/index", "another registry"),
    ],
)
def test_non_crates_io_libc_gives_the_command_only(
    source: str | None, words: str
) -> None:
    text = lock_text(block("0.2.140", source))
    plan = plan_fix(parse_lockfile(text), text, INDEX)
    assert plan is not None
    assert plan.edits == ()
    assert plan.new_version is None
    assert words in plan.reason
    assert plan.command == "cargo update -p libc"


def test_v1_ion_prefers_the_registry_libc() -> None:
    text = (FIXTURES / "v1-ion-two-libc.lock").read_text(encoding="utf-8")
    plan = plan_fix(parse_lockfile(text), text, INDEX)
    assert plan is not None
    assert plan.old_version == "0.2.65"
    assert plan.command == "cargo update -p libc@0.2.65 --precise 0.2.174"
    assert plan.edits == ()


def test_lock_without_libc_checksum_is_not_edited() -> None:
    text = lock_text(block("0.2.140", checksum=False))
    plan = plan_fix(parse_lockfile(text), text, INDEX)
    assert plan is not None
    assert plan.reason == "the lock has no checksum for libc"


def test_unreadable_lock_is_not_edited() -> None:
    text = lock_text(block("0.2.140"), "[[package]]\nname = 1\n")
    lock = parse_lockfile(text)
    assert lock.error is not None
    plan = plan_fix(lock, text, INDEX)
    assert plan is not None
    assert plan.reason == "the lockfile could not be read completely"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[: t.index('version = "0.2.78"')],  # text shorter than the lock
        lambda t: t.replace('version = "0.2.78"', 'version = "0.2.78" x', 1),
        lambda t: t.replace('" = "aa7087f49d', '" = "ff7087f49d', 1),
        lambda t: t.replace('"checksum libc 0.2.78', '"checksum  libc 0.2.78', 1),
    ],
    ids=["short", "version-line", "checksum-value", "checksum-key"],
)
def test_text_that_does_not_match_the_lock_is_not_edited(mangle: Any) -> None:
    text = (CORPUS / "casey__just@935f1130ac" / "Cargo.lock").read_text(
        encoding="utf-8"
    )
    plan = plan_fix(parse_lockfile(text), mangle(text), INDEX)
    assert plan is not None
    assert plan.edits == ()
    assert plan.reason == "the lockfile text does not have Cargo's layout"


def test_apply_edits_checks_the_old_text() -> None:
    text = "a\r\nb\nc"
    assert (
        apply_edits(text, [LineEdit(2, "b", "B"), LineEdit(1, "a", "A")]) == "A\r\nB\nc"
    )
    with pytest.raises(ValueError, match="line 3 is 'c', expected 'x'"):
        apply_edits(text, [LineEdit(3, "x", "y")])
    with pytest.raises(ValueError, match="line 4 is not in the text"):
        apply_edits(text, [LineEdit(4, "", "y")])
    with pytest.raises(ValueError, match="line 0 is not in the text"):
        apply_edits(text, [LineEdit(0, "", "y")])
