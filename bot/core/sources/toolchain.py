"""Scan `rust-toolchain.toml` and legacy `rust-toolchain` files.

`targets = [...]` installs the std for each target (one use per triple line);
`channel` pins the Rust release, which decides which musl is bundled.
"""

from __future__ import annotations

import re
from typing import Final

from bot.core.sources import Hint, HintKind, MuslUse, SourceResult, UseKind
from bot.core.sources.cargo_config import (
    MAX_CONFIG_BYTES,
    checked,
    first_string,
    read_toml,
    strict_triples,
    value_text,
)
from bot.core.sources.make import loose_triples

# A legacy file holds a bare toolchain name such as `1.70.0` or `nightly-2023-06-01`.
_CHANNEL_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_WANTED: Final = ("-linux-musl", "channel")


def _channel_uses(path: str, line: int, channel: str) -> list[MuslUse]:
    # `stable-x86_64-unknown-linux-musl` names a musl *host* toolchain: it builds
    # for musl by default (docs/domain.md 4.6 notes).
    return [
        MuslUse(path, line, triple, UseKind.TOOLCHAIN, resolves_to=(triple,))
        for triple in dict.fromkeys(loose_triples(channel))
    ]


def _scan_legacy(path: str, text: str) -> SourceResult:
    if len(text) > MAX_CONFIG_BYTES or "\x00" in text:
        return SourceResult()
    for number, raw in enumerate(text.split("\n"), 1):
        channel = raw.strip()
        if not channel or channel.startswith("#"):
            continue
        if _CHANNEL_RE.fullmatch(channel) is None:
            return SourceResult()
        hint = Hint(path, number, HintKind.TOOLCHAIN, channel)
        return SourceResult(tuple(_channel_uses(path, number, channel)), (hint,))
    return SourceResult()


def scan(path: str, text: str) -> SourceResult:
    """Return the musl targets and the pinned channel of a toolchain file."""
    if "[toolchain]" not in text and "=" not in text:
        return _scan_legacy(path, text)
    if "channel" not in text and "musl" not in text:
        return SourceResult()
    lines, problem = read_toml(path, text, _WANTED)
    if problem is not None:
        return SourceResult(problems=(problem,))
    uses: list[MuslUse] = []
    hints: list[Hint] = []
    for line in lines:
        if line.key == ("toolchain", "channel") and not line.header:
            channel = first_string(value_text(line))
            if channel:
                hints.append(Hint(path, line.line, HintKind.TOOLCHAIN, channel))
                uses.extend(_channel_uses(path, line.line, channel))
            continue
        uses.extend(
            MuslUse(path, line.line, triple, UseKind.TOOLCHAIN, resolves_to=(triple,))
            for triple in dict.fromkeys(strict_triples(line.code))
        )
    return checked(path, text, SourceResult(tuple(uses), tuple(hints)))
