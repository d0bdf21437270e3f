"""Scan `Cross.toml` (cross-rs configuration) for musl targets.

`[target.<triple>]` / `[target.<triple>.env]` sections, `[build] default-target`
and image or Dockerfile strings naming a triple (`rust-cross-<triple>:latest`).
The same keys under `[package.metadata.cross]` in Cargo.toml go through
`cross_uses` too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from bot.core.sources import MuslUse, SourceResult, UseKind
from bot.core.sources.cargo_config import (
    TomlLine,
    checked,
    read_toml,
    strict_triples,
)
from bot.core.sources.make import loose_triples

_WANTED: Final = ("-linux-musl",)
# Keys whose value names a container image or its Dockerfile: a triple there is
# the build environment for that target even when hyphen-prefixed.
_IMAGE_KEYS: Final = frozenset({"image", "dockerfile", "name", "file"})


def cross_uses(
    path: str, line: TomlLine, key: tuple[str, ...], kind: UseKind
) -> Iterator[MuslUse]:
    """Yield the uses on one line of cross configuration (`key` relative to it)."""
    is_image = not line.header and bool(_IMAGE_KEYS.intersection(key[2:] or key[-1:]))
    found = loose_triples(line.code) if is_image else strict_triples(line.code)
    for triple in dict.fromkeys(found):
        yield MuslUse(path, line.line, triple, kind, resolves_to=(triple,))


def scan(path: str, text: str) -> SourceResult:
    """Return the musl targets a Cross.toml configures."""
    if "-linux-musl" not in text:
        return SourceResult()
    lines, problem = read_toml(path, text, _WANTED)
    if problem is not None:
        return SourceResult(problems=(problem,))
    uses = [
        use for line in lines for use in cross_uses(path, line, line.key, UseKind.CROSS)
    ]
    return checked(path, text, SourceResult(tuple(uses)))
