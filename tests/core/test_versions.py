"""Version parsing and ordering as Cargo and SemVer define them."""

import pytest

from bot.core.targets import bundled_musl_breaks
from bot.core.versions import LIBC_FIXED, Version, parse_rust_version, parse_version


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("0.2.9", "0.2.10"),
        ("0.2.145", "0.2.146"),
        ("1.0.0-alpha.1", "1.0.0-alpha.2"),
        ("1.0.0-alpha.2", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.4", "1.0.0"),
        ("0.2.189", "1.0.0-alpha.1"),
    ],
)
def test_order(lower: str, higher: str) -> None:
    low, high = parse_version(lower), parse_version(higher)
    assert low is not None
    assert high is not None
    assert low < high
    assert low <= high
    assert high > low
    assert high >= low
    assert not high < low


@pytest.mark.parametrize("text", ["0.2", "v0.2.1", "0.02.1", "", "0.2.x"])
def test_rejects_non_semver(text: str) -> None:
    assert parse_version(text) is None


def test_round_trip_and_build_metadata() -> None:
    assert str(parse_version("1.0.0-alpha.4")) == "1.0.0-alpha.4"
    assert parse_version("0.2.146+build.1") == LIBC_FIXED
    assert str(LIBC_FIXED) == "0.2.146"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.70", Version(1, 70, 0)),
        ("1.93.0", Version(1, 93, 0)),
        ("stable", None),
        ("nightly-2025-11-01", None),
    ],
)
def test_rust_versions(text: str, expected: Version | None) -> None:
    assert parse_rust_version(text) == expected


@pytest.mark.parametrize(
    ("triple", "rust", "breaks"),
    [
        ("x86_64-unknown-linux-musl", "1.92.0", False),
        ("x86_64-unknown-linux-musl", "1.93.0", True),
        ("aarch64-unknown-linux-musl", "1.80", False),
        ("powerpc64le-unknown-linux-musl", "1.93", True),
        # Only the three above waited for 1.93; the rest had musl 1.2.4 in 1.74.
        ("powerpc64-unknown-linux-musl", "1.80", True),
        ("armv7-unknown-linux-musleabihf", "1.73", False),
        ("armv7-unknown-linux-musleabihf", "1.74", True),
        ("loongarch64-unknown-linux-musl", "1.78", True),
        ("x86_64-unknown-linux-musl", None, True),
    ],
)
def test_bundled_musl_breaks(triple: str, rust: str | None, breaks: bool) -> None:
    version = None if rust is None else parse_rust_version(rust)
    assert bundled_musl_breaks(triple, version) is breaks
