"""Semantic versions as Cargo writes them, and the libc releases that matter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_VERSION_RE: Final = re.compile(
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?"
)


def _pre_key(pre: str) -> tuple[tuple[int, int | str], ...]:
    # SemVer 2.0 section 11: numeric identifiers sort numerically and before
    # alphanumeric ones.
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))


@dataclass(frozen=True, slots=True)
class Version:
    """A semantic version; `pre` is the pre-release text ("" for a release)."""

    major: int
    minor: int
    patch: int
    pre: str = ""

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        # A release sorts after all of its pre-releases.
        return (
            self.major,
            self.minor,
            self.patch,
            0 if self.pre else 1,
            _pre_key(self.pre) if self.pre else (),
        )

    def __lt__(self, other: Version) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Version) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Version) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Version) -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return f"{base}-{self.pre}" if self.pre else base


def parse_version(text: str) -> Version | None:
    """Return the version `text` spells exactly, or None if it is not semver."""
    match = _VERSION_RE.fullmatch(text.strip())
    if match is None:
        return None
    return Version(
        int(match["major"]),
        int(match["minor"]),
        int(match["patch"]),
        match["pre"] or "",
    )


_RUST_RE: Final = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?")


def parse_rust_version(text: str) -> Version | None:
    """Return the Rust release a toolchain or MSRV string names ("1.70", "1.70.0").

    Channels (`stable`, `beta`, `nightly`, dated nightlies) give None: they follow
    the newest release, which is what callers assume when no version is known.
    """
    match = _RUST_RE.fullmatch(text.strip())
    if match is None:
        return None
    return Version(int(match["major"]), int(match["minor"]), int(match["patch"] or 0))


# libc 0.2.146 is the first release whose musl bindings use no LFS64 symbols.
# https://github.com/rust-lang/libc/pull/3265
LIBC_FIXED: Final = Version(0, 2, 146)
# 0.2.145 removed the symbols but broke 2-argument `open64` callers; it is yanked.
LIBC_YANKED_FIX: Final = Version(0, 2, 145)
