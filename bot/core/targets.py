"""The Rust musl target catalogue and which musl each toolchain bundles."""

from __future__ import annotations

import re
from typing import Final

from bot.core.versions import Version

# Official musl triples (rust-lang/rust platform-support.md; docs/domain.md 4.6).
MUSL_TARGETS: Final = frozenset(
    {
        "aarch64-unknown-linux-musl",
        "loongarch64-unknown-linux-musl",
        "powerpc64-unknown-linux-musl",
        "powerpc64le-unknown-linux-musl",
        "x86_64-unknown-linux-musl",
        "arm-unknown-linux-musleabi",
        "arm-unknown-linux-musleabihf",
        "armv5te-unknown-linux-musleabi",
        "armv7-unknown-linux-musleabi",
        "armv7-unknown-linux-musleabihf",
        "i586-unknown-linux-musl",
        "i686-unknown-linux-musl",
        "riscv64gc-unknown-linux-musl",
        "aarch64_be-unknown-linux-musl",
        "hexagon-unknown-linux-musl",
        "mips-unknown-linux-musl",
        "mips64-openwrt-linux-musl",
        "mips64-unknown-linux-muslabi64",
        "mips64el-unknown-linux-muslabi64",
        "mipsel-unknown-linux-musl",
        "powerpc-unknown-linux-musl",
        "powerpc-unknown-linux-muslspe",
        "riscv32gc-unknown-linux-musl",
        "s390x-unknown-linux-musl",
        "thumbv7neon-unknown-linux-musleabihf",
        "wasm32-wali-linux-musl",
        "x86_64-unikraft-linux-musl",
    }
)

# A Rust musl triple as rustc spells it. The look-behind rejects a preceding `-`
# so `cross-x86_64-unknown-linux-musl.tar.gz` (a tool download) and
# `stable-x86_64-unknown-linux-musl` (a toolchain name) are not target mentions;
# vendor-less C prefixes such as `x86_64-linux-musl-gcc` never match.
TRIPLE_RE: Final = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<triple>(?P<arch>aarch64(?:_be)?|arm|armv5te|armv7|"
    r"thumbv7neon|hexagon|i[56]86|loongarch64|mips(?:64)?(?:el)?|"
    r"powerpc(?:64(?:le)?)?|riscv(?:32|64)gc|s390x|wasm32|x86_64)-"
    r"(?P<vendor>unknown|openwrt|unikraft|wali)-linux-"
    r"(?P<env>musl(?:eabihf|eabi|abi64|spe)?))(?![A-Za-z0-9_])"
)

# Targets that moved from musl 1.2.3 straight to 1.2.5 in Rust 1.93.0.
# https://blog.rust-lang.org/2025/12/05/Updating-musl-1.2.5/
HOST_TOOLS_TARGETS: Final = frozenset(
    {
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "powerpc64le-unknown-linux-musl",
    }
)
RUST_MUSL_125: Final = Version(1, 93, 0)
# Other musl targets: crosstool-ng defaulted to musl 1.2.4 from Rust 1.74.0.
RUST_MUSL_124_OTHERS: Final = Version(1, 74, 0)
MUSL_LFS64_REMOVED: Final = Version(1, 2, 4)


def bundled_musl_breaks(triple: str, rust: Version | None) -> bool:
    """Return whether `rust` (None: latest) bundles a musl without LFS64 symbols."""
    if rust is None or triple.startswith("loongarch64-"):
        return True
    if triple in HOST_TOOLS_TARGETS:
        return rust >= RUST_MUSL_125
    return rust >= RUST_MUSL_124_OTHERS
