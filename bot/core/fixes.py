"""Fix planning: which libc to move to, and the exact Cargo.lock edit."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

from bot.core.lockfile import LockedPackage, Lockfile, SourceKind
from bot.core.versions import LIBC_FIXED, Version, parse_rust_version, parse_version


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One line of libc's sparse-index file (`vers`, `cksum`, `yanked`, ...)."""

    vers: str
    cksum: str
    yanked: bool
    rust_version: str | None = None


@dataclass(frozen=True, slots=True)
class LineEdit:
    """Replace line `line` (1-based), whose text is `old`, with `new`."""

    line: int
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class FixPlan:
    """How to fix one lockfile: the command always, the edit when it is safe.

    `edits` is empty when the lock cannot be edited by hand (several libc
    versions, git/path libc, no index data); `reason` then says why.
    """

    path: str
    old_version: str
    new_version: str | None
    command: str
    edits: tuple[LineEdit, ...] = ()
    reason: str = ""


# Documented MSRVs for entries whose index line lacks `rust_version` (DOMAIN 7.3):
# 0.2.163 declares 1.19, 0.2.164-0.2.183 need 1.63, 0.2.184 on need 1.65.
_DOCUMENTED_MSRV: Final = (
    (Version(0, 2, 184), Version(1, 65, 0)),
    (Version(0, 2, 164), Version(1, 63, 0)),
    (Version(0, 2, 163), Version(1, 19, 0)),
)
# 0.2.167 moved to edition 2021, which Cargo older than 1.56 cannot parse.
_EDITION_2021: Final = Version(0, 2, 167)
_CARGO_2021: Final = Version(1, 56, 0)


def _rust_version(entry: IndexEntry, version: Version) -> Version | None:
    """Return the oldest Rust that can build `entry`, None if any can."""
    if entry.rust_version is not None:
        declared = parse_rust_version(entry.rust_version)
        if declared is not None:
            return declared
    for first, msrv in _DOCUMENTED_MSRV:
        if version >= first:
            return msrv
    return None


def choose_libc(
    entries: Sequence[IndexEntry], msrv: Version | None
) -> IndexEntry | None:
    """Return the newest usable libc 0.2 release >= 0.2.146 for a toolchain `msrv`."""
    best: tuple[Version, IndexEntry] | None = None
    for entry in entries:
        version = parse_version(entry.vers)
        if (
            entry.yanked
            or version is None
            or version.pre
            or (version.major, version.minor) != (0, 2)
            or version < LIBC_FIXED
        ):
            continue
        if msrv is not None:
            needs = _rust_version(entry, version)
            if needs is not None and needs > msrv:
                continue
            if msrv < _CARGO_2021 and version >= _EDITION_2021:
                continue
        if best is None or version > best[0]:
            best = (version, entry)
    return None if best is None else best[1]


def _old_libc(lock: Lockfile) -> LockedPackage | None:
    """Return the libc to move: an old crates-io one first, else any old one."""
    old = [
        p
        for p in lock.named("libc")
        if (v := parse_version(p.version)) is not None and v < LIBC_FIXED
    ]
    registry = [p for p in old if p.source_kind is SourceKind.REGISTRY]
    return next(iter(registry or old), None)


_NOT_REGISTRY: Final = {
    SourceKind.GIT: "libc comes from git ({source}): `cargo update` keeps that "
    "revision; point the git dependency or [patch] at libc >= 0.2.146",
    SourceKind.PATH: "libc is a path dependency: update the local copy to >= 0.2.146",
    SourceKind.OTHER_REGISTRY: "libc comes from another registry ({source}): "
    "the crates.io index does not apply",
}

# The reason of a plan made without index data; the CLI rewords it when it
# did not ask the index at all (`--offline`).
INDEX_UNAVAILABLE: Final = "index unavailable"


def plan_fix(
    lock: Lockfile,
    text: str,
    entries: Sequence[IndexEntry] | None,
    msrv: Version | None = None,
) -> FixPlan | None:
    """Return how to move the lock's libc < 0.2.146 to a fixed release, if it has one.

    `text` is the lockfile text `lock` was parsed from (BOM already removed).
    """
    old = _old_libc(lock)
    if old is None:
        return None
    libcs = lock.named("libc")
    spec = f"libc@{old.version}" if len(libcs) > 1 else "libc"
    if old.source_kind is not SourceKind.REGISTRY:
        reason = _NOT_REGISTRY[old.source_kind].format(source=old.source)
        return FixPlan(
            lock.path, old.version, None, f"cargo update -p {spec}", (), reason
        )
    if entries is None:
        return FixPlan(
            lock.path,
            old.version,
            None,
            f"cargo update -p {spec}",
            (),
            INDEX_UNAVAILABLE,
        )
    chosen = choose_libc(entries, msrv)
    if chosen is None:
        return FixPlan(
            lock.path,
            old.version,
            None,
            f"cargo update -p {spec}",
            (),
            "no suitable libc release in the index",
        )
    new = chosen.vers
    plan = FixPlan(
        lock.path, old.version, new, f"cargo update -p {spec} --precise {new}"
    )
    reason = _edit_blocker(lock, old, new)
    if reason:
        return replace(plan, reason=reason)
    edits = _edits(lock, old, text, new, chosen.cksum)
    if edits is None:
        return replace(plan, reason="the lockfile text does not have Cargo's layout")
    return replace(plan, edits=edits)


def _edit_blocker(lock: Lockfile, old: LockedPackage, new: str) -> str:
    """Return why the lock cannot be edited by hand ("" when it can)."""
    libcs = lock.named("libc")
    if lock.error is not None:
        return "the lockfile could not be read completely"
    if any(p.version == new for p in libcs):
        return f"libc {new} is already in the lock: cargo must merge the two"
    if len(libcs) > 1:
        return f"the lock holds {len(libcs)} libc packages"
    if old.checksum is None or old.checksum_line is None:
        return "the lock has no checksum for libc"
    return ""


def _split(line: str) -> tuple[str, str]:
    """Return a line's text and its CR (kept apart so edits never touch it)."""
    return (line[:-1], "\r") if line.endswith("\r") else (line, "")


def _edits(
    lock: Lockfile, old: LockedPackage, text: str, new: str, cksum: str
) -> tuple[LineEdit, ...] | None:
    """Return the line edits moving `old` to `new`, None if the text is unexpected."""
    lines = [_split(line)[0] for line in text.split("\n")]
    checksum_line = old.checksum_line or 0
    if not (0 < old.line <= len(lines) and 0 < checksum_line <= len(lines)):
        return None
    version_text = lines[old.line - 1]
    quoted_old, quoted_new = f'"{old.version}"', f'"{new}"'
    statement = rf"[ \t]*version[ \t]*=[ \t]*{re.escape(quoted_old)}[ \t]*(?:#.*)?"
    if re.fullmatch(statement, version_text) is None:
        return None
    edits = {old.line: version_text.replace(quoted_old, quoted_new, 1)}
    sum_text = lines[checksum_line - 1]
    if f'"{old.checksum}"' not in sum_text:
        return None
    new_sum = sum_text.replace(f'"{old.checksum}"', f'"{cksum}"', 1)
    if lock.format_version == 1:
        # v1 names the version in every dependency string and in the checksum key.
        ref_old = f'"libc {old.version} ({old.source})"'
        ref_new = f'"libc {new} ({old.source})"'
        key_old = f'"checksum libc {old.version} ({old.source})"'
        if key_old not in new_sum:
            return None
        new_sum = new_sum.replace(key_old, f'"checksum libc {new} ({old.source})"', 1)
        for number, line in enumerate(lines, 1):
            if ref_old in line:
                edits[number] = line.replace(ref_old, ref_new)
    edits[checksum_line] = new_sum
    return tuple(LineEdit(n, lines[n - 1], edits[n]) for n in sorted(edits))


def apply_edits(text: str, edits: Sequence[LineEdit]) -> str:
    """Return `text` with `edits` applied; raise ValueError if a line is not `old`.

    `old` and `new` are line texts without the line break, which is kept as is.
    """
    lines = text.split("\n")
    for edit in edits:
        if not 0 < edit.line <= len(lines):
            raise ValueError(f"line {edit.line} is not in the text")
        current, cr = _split(lines[edit.line - 1])
        if current != edit.old:
            raise ValueError(f"line {edit.line} is {current!r}, expected {edit.old!r}")
        lines[edit.line - 1] = edit.new + cr
    return "\n".join(lines)
