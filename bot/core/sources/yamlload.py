"""Safe YAML loading with line numbers and limits, for the CI scanners.

Files are composed (never constructed) with libyaml's C loader, so anchors and
aliases stay shared nodes: an alias bomb costs no more than its text, and the
walker visits every node once. libyaml itself refuses nesting deeper than 1000
levels; the walker stops far earlier. GitHub workflows can be loaded in part
(`load_workflow`, see `prune.py`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import yaml
from yaml._yaml import CParser  # libyaml binding (the C loaders build on it)
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from bot.core.sources import Problem
from bot.core.sources.prune import Split, split_workflow
from bot.core.sources.shell import strip_comment

MAX_TEXT_CHARS: Final = 2_000_000
MAX_EVENTS: Final = 400_000
MAX_DEPTH: Final = 64
Path = tuple[str | int, ...]
# YAML 1.1 line breaks besides \n (libyaml counts each as a new line).
_RARE_BREAKS: Final = ("\r", "\x85", "\u2028", "\u2029")
_BREAK_RE: Final = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


class _LimitError(Exception):
    """The document is too large or too deep to analyse."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class Scalar(NamedTuple):
    """A scalar (mapping key or value) of active configuration.

    `path` holds the keys and sequence indices from the document root (for a
    key: ending with the key itself); lines and columns are 0-based marks.
    """

    path: Path
    value: str
    is_key: bool
    line: int
    column: int
    end_line: int
    end_column: int
    style: str


@dataclass(frozen=True, slots=True)
class Document:
    """The active scalars of one YAML file, in order, plus its source lines."""

    scalars: tuple[Scalar, ...]
    lines: tuple[str, ...]


def split_lines(text: str) -> tuple[str, ...]:
    """Split `text` into lines the way libyaml counts them."""
    # (Text of ASCII only can hold none but `\r`; `isascii` costs nothing.)
    if "\r" in text or (not text.isascii() and any(ch in text for ch in _RARE_BREAKS)):
        return tuple(_BREAK_RE.split(text))
    return tuple(text.split("\n"))


def _disables(key: object, value: str) -> bool:
    """Return whether `key: value` switches its step or job off (`if: false`)."""
    if key == "if":
        return value.replace(" ", "").lower() in ("false", "${{false}}", "0")
    return key == "when" and value == "never"


def _skipped(path: Path, skip_keys: frozenset[str]) -> bool:
    last = path[-1]
    if last == "exclude" and len(path) >= 2 and path[-2] == "matrix":
        return True
    return last in skip_keys


def _walk(text: str, skip_keys: frozenset[str]) -> list[Scalar]:
    """Return the scalars of `text` from libyaml's event stream (aliases unexpanded)."""
    out: list[Scalar] = []
    loader = yaml.CSafeLoader(text)
    try:
        disabled = _events(loader, out, skip_keys)
    finally:
        loader.dispose()
    if not disabled:
        return out
    return [s for s in out if not any(s.path[: len(d)] == d for d in disabled)]


def _events(
    loader: yaml.CSafeLoader, out: list[Scalar], skip_keys: frozenset[str]
) -> list[Path]:
    """Append the scalars of the event stream to `out`; return disabled paths.

    Every value scalar is kept (jobs are indexed by their values); a key only
    when it can name a target, since nothing else ever looks at keys.
    """
    # Frame: [path, is_mapping, expecting_key, key, next_index, skipped,
    #         key_skipped, key_path]; the key's path is built once for key+value.
    stack: list[list[Any]] = []
    disabled: list[Path] = []
    watch = skip_keys | {"exclude"}
    switches = ("if", "when")
    budget = MAX_EVENTS
    get_event = loader.get_event
    append = out.append
    new = tuple.__new__
    frame: list[Any] = []
    while True:
        event: Any = get_event()
        kind = type(event)
        budget -= 1
        if budget < 0 and kind is not StreamEndEvent:
            raise _LimitError(event.start_mark.line + 1, "too many YAML nodes")
        if kind is ScalarEvent:
            value = event.value
            if not stack:
                path: Path = ()
                is_key = skipped = False
            elif not frame[1]:
                path = (*frame[0], frame[4])
                frame[4] += 1
                is_key, skipped = False, frame[5]
            elif frame[2]:
                frame[2] = False
                frame[3] = value
                path = frame[7] = (*frame[0], value)
                skipped = frame[6] = frame[5] or (
                    value in watch and _skipped(path, skip_keys)
                )
                if skipped or not (  # can name a target (see `_Scan`)
                    "musl" in value or "alpine" in value or "-linux-" in value
                ):
                    continue
                is_key = True
            else:
                frame[2] = True
                path = frame[7]
                is_key, skipped = False, frame[6]
                if frame[3] in switches and _disables(frame[3], value):
                    disabled.append(frame[0])
            if not skipped:
                start, end = event.start_mark, event.end_mark
                append(
                    new(
                        Scalar,
                        (
                            path,
                            value,
                            is_key,
                            start.line,
                            start.column,
                            end.line,
                            end.column,
                            event.style or "",
                        ),
                    )
                )
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            stack.pop()
            if stack:
                frame = stack[-1]
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            if not stack:
                path, skipped = (), False
            elif len(stack) >= MAX_DEPTH:
                raise _LimitError(event.start_mark.line + 1, "YAML nested too deeply")
            elif not frame[1]:
                path = (*frame[0], frame[4])
                frame[4] += 1
                skipped = frame[5]
            elif frame[2]:  # a complex (collection) key
                frame[3], frame[2] = "?", False
                path = frame[7] = (*frame[0], "?")
                skipped = frame[6] = frame[5]
            else:
                frame[2] = True
                path = frame[7]
                skipped = frame[6]
            frame = [
                path,
                kind is MappingStartEvent,
                True,
                None,
                0,
                skipped,
                skipped,
                (),
            ]
            stack.append(frame)
        elif kind is StreamEndEvent:
            return disabled
        elif kind is AliasEvent and stack:
            # An alias is not expanded: its lines are scanned where the anchor
            # stands, so an alias bomb costs no more than its text.
            if not frame[1]:
                frame[4] += 1
            elif frame[2]:
                frame[3], frame[2] = "*", False
                frame[7] = (*frame[0], "*")
                frame[6] = frame[5]
            else:
                frame[2] = True


def _too_big_or_binary(path: str, text: str) -> Problem | None:
    if len(text) > MAX_TEXT_CHARS:
        return Problem(path, 1, f"file too large to analyse ({len(text)} characters)")
    nul = text.find("\x00")
    if nul >= 0:
        return Problem(path, text.count("\n", 0, nul) + 1, "binary content (NUL byte)")
    return None


def _parse(path: str, text: str, skip_keys: frozenset[str]) -> list[Scalar] | Problem:
    try:
        return _walk(text, skip_keys)
    except _LimitError as exc:
        return Problem(path, exc.line, exc.message)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return Problem(path, line, f"invalid YAML: {exc.problem or exc.context}")
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        return Problem(path, line, f"invalid YAML: {exc.reason}")
    except (yaml.YAMLError, UnicodeError) as exc:
        return Problem(path, 1, f"invalid YAML: {type(exc).__name__}")


def load_yaml(
    path: str, text: str, skip_keys: frozenset[str] = frozenset()
) -> Document | Problem:
    """Parse `text` with the C loader, or return a Problem naming the bad line."""
    problem = _too_big_or_binary(path, text)
    if problem is not None:
        return problem
    scalars = _parse(path, text, skip_keys)
    if isinstance(scalars, Problem):
        return scalars
    return Document(tuple(scalars), split_lines(text))


def load_workflow(
    path: str, text: str, skip_keys: frozenset[str], markers: Sequence[str]
) -> tuple[Document | Problem, Split | None]:
    """Like `load_yaml`, but walk only the jobs and steps that mention a marker.

    The parts left out (see `prune.split_workflow`) are still parsed by
    libyaml, so a syntax error anywhere is reported as before (the whole file
    is then read for the exact message). Returns the Split when parts were
    left out; the scan reads the whole file when a question needs them.
    """
    problem = _too_big_or_binary(path, text)
    if problem is not None:
        return problem, None
    split = split_workflow(text, markers)
    if split is not None:
        try:
            events = CParser(split.left_out).raw_parse()
        except (yaml.YAMLError, UnicodeError):
            events = MAX_EVENTS  # read it whole for the exact error and line
        if events < MAX_EVENTS:
            scalars = _parse(path, split.kept, skip_keys)
            if not isinstance(scalars, Problem):
                return Document(tuple(scalars), split_lines(text)), split
    return load_yaml(path, text, skip_keys), None


@dataclass(frozen=True, slots=True)
class Segment:
    """One source line of a scalar: 1-based `line`, comment-free `text`."""

    line: int
    text: str


def segments(scalar: Scalar, lines: Sequence[str], needle: str = "") -> list[Segment]:
    """Return the source lines a scalar spans, without shell comments.

    With `needle`, the lines of a multi-line scalar that lack it are left out
    (stripping a comment only cuts text, so it cannot add the needle).
    """
    if scalar.line == scalar.end_line:
        value = scalar.value
        return [
            Segment(
                scalar.line + 1, strip_comment(value) if "\n" not in value else value
            )
        ]
    if scalar.style in ("|", ">"):
        last = scalar.end_line if scalar.end_column == 0 else scalar.end_line + 1
        spans = [
            (i, raw)
            for i in range(scalar.line + 1, min(last, len(lines)))
            if needle in (raw := lines[i])
        ]
    else:
        spans = []
        for i in range(scalar.line, min(scalar.end_line + 1, len(lines))):
            raw = lines[i]
            if i == scalar.end_line:
                raw = raw[: scalar.end_column]
            if i == scalar.line:
                raw = raw[scalar.column :]
            if needle in raw:
                spans.append((i, raw))
    return [Segment(i + 1, strip_comment(raw)) for i, raw in spans]
