"""Leave out the parts of a GitHub workflow that cannot hold a musl use.

Building a Python object for every YAML event costs several times libyaml's
own parse, and most jobs of a workflow, and most steps of the jobs that build
for musl, never mention musl. `split_workflow` finds them by their lines (a
job: a key at the jobs' indentation under a top-level `jobs:`; a step: an item
of a job's `steps:`), so that only the rest is walked event by event:

* a job that mentions no marker becomes blank lines;
* a step that mentions no marker becomes a bare `-` (a null item, so the
  indices of the steps kept do not change) and blank lines.

Line numbers stay those of the file. The parts left out are handed back as
text, both to be checked by libyaml (a syntax error anywhere is still
reported) and so that a question about them can be answered exactly: the
scan reads the whole file when a left-out part holds a word it looks for
(see `yamlcfg._Scan.whole`). Anything but the plain block layout Cargo
projects write (flow style, tabs, odd indentation) is read whole.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# A top-level `jobs:` key whose jobs follow on their own lines (block style).
_JOBS_RE: Final = re.compile(r"^jobs[ \t]*:[ \t]*(?:#[^\n]*)?\r?$", re.M)
# The first line after a key that is neither blank nor a comment.
_FIRST_LINE_RE: Final = re.compile(r"\n( *+)(?=[^ \t\r\n#])")
# A job id GitHub accepts, as the whole key of its line.
_JOB_KEY_RE: Final = re.compile(r"\n *([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:[ \t]*\r?(?=\n)")


@functools.lru_cache(maxsize=32)
def _lines_up_to(indent: int) -> re.Pattern[str]:
    """Return the pattern of lines (not blank, not comments) at most `indent` deep."""
    return re.compile(rf"\n( {{0,{indent}}}+)(?=[^ \t\r\n#])")  # possessive: fast


@functools.lru_cache(maxsize=32)
def _steps_key(indent: int) -> re.Pattern[str]:
    """Return the pattern of a `steps:` line (with no value) `indent` deep."""
    return re.compile(rf"\n {{{indent}}}steps[ \t]*:[ \t]*(?:#[^\n]*)?\r?(?=\n)")


@dataclass(frozen=True, slots=True)
class Split:
    """A workflow with the parts that mention no marker left out.

    `kept` has the lines of the file; `left_out` holds the parts left out as
    YAML documents (to be checked, not located); `steps_left_out` maps a job
    id to the text of its steps left out.
    """

    kept: str
    left_out: str
    steps_left_out: dict[str, str]


def _blocks(text: str, start: int, end: int, indent: int, item: bool) -> list[int]:
    """Return where the blocks at `indent` begin, and where the last one ends.

    A block begins at a line `indent` deep (a sequence item when `item`) and
    runs to the next; the last one ends at a line less deep (or at `end`).
    Returns [] when a line between `start` and the end is less deep than
    `indent` yet not the end (odd layout: only when not `item`).
    """
    starts: list[int] = []
    for line in _lines_up_to(indent).finditer(text, start, end):
        depth = len(line[1])
        here = line.end()
        if depth == indent and (
            not item
            or (
                text.startswith("-", here)
                and text[here + 1 : here + 2] in (" ", "\n", "\r", "")
            )
        ):
            starts.append(line.start())
            continue
        if depth == 0 or item:
            starts.append(line.start())  # the end of the last block
            return starts
        return []
    starts.append(end)
    return starts


def _positions(text: str, markers: Sequence[str]) -> list[int]:
    """Return where each marker occurs in `text`, in order."""
    found: list[int] = []
    for marker in markers:
        at = text.find(marker)
        while at >= 0:
            found.append(at)
            at = text.find(marker, at + 1)
    return sorted(found)


def _has(marks: list[int], start: int, stop: int) -> bool:
    """Return whether a marker starts in [start, stop) (`marks` from `_positions`)."""
    at = bisect.bisect_left(marks, start)
    return at < len(marks) and marks[at] < stop


def _split_steps(
    text: str, start: int, stop: int, marks: list[int]
) -> tuple[list[str], list[str]]:
    """Return the kept pieces of the job at [start, stop) and its steps left out."""
    first = _FIRST_LINE_RE.search(text, start + 1, stop)  # after the key's line
    steps = None
    if first is not None:
        steps = _steps_key(len(first[1])).search(text, start, stop)
    if steps is None:
        return [text[start:stop]], []
    items = _FIRST_LINE_RE.search(text, steps.end(), stop)
    if items is None or not text.startswith("-", items.end()):
        return [text[start:stop]], []
    indent = len(items[1])
    bounds = _blocks(text, steps.end(), stop, indent, item=True)
    pieces = [text[start : bounds[0]]]
    left_out: list[str] = []
    for begin, end in itertools.pairwise(bounds):
        if _has(marks, begin, end):
            pieces.append(text[begin:end])
        else:
            chunk = text[begin:end]
            left_out.append(chunk)
            pieces.append(f"\n{' ' * indent}-" + "\n" * (chunk.count("\n") - 1))
    pieces.append(text[bounds[-1] : stop])
    return pieces, left_out


def split_workflow(text: str, markers: Sequence[str]) -> Split | None:
    """Leave out the jobs and steps of `text` that mention none of `markers`.

    None when nothing would be left out or the jobs are not laid out one key
    per line at one indentation: then the file is read whole.
    """
    jobs = _JOBS_RE.search(text)
    if jobs is None:
        return None
    body = text.find("\n", jobs.start())
    if body < 0:
        return None  # `jobs:` is the last line
    first = _FIRST_LINE_RE.search(text, body)
    if first is None or not first[1]:
        return None  # no jobs
    bounds = _blocks(text, body, len(text), len(first[1]), item=False)
    if not bounds:
        return None
    marks = _positions(text, markers)
    kept = [text[: bounds[0]]]
    dropped_jobs: list[str] = []
    dropped_steps: list[str] = []
    steps_left_out: dict[str, str] = {}
    for start, stop in itertools.pairwise(bounds):
        if not _has(marks, start, stop):
            dropped_jobs.append(text[start:stop])
            kept.append("\n" * text.count("\n", start, stop))
            continue
        key = _JOB_KEY_RE.match(text, start)
        if key is None:  # a quoted id, a value on the key's line: keep it all
            kept.append(text[start:stop])
            continue
        pieces, steps = _split_steps(text, start, stop, marks)
        kept.extend(pieces)
        if steps:
            steps_left_out[key[1]] = "".join(steps)
            dropped_steps.append(steps_left_out[key[1]])
    if not dropped_jobs and not steps_left_out:
        return None
    kept.append(text[bounds[-1] :])
    documents = ["".join(dropped_jobs)] if dropped_jobs else []
    return Split(
        "".join(kept), "\n---\n".join(documents + dropped_steps), steps_left_out
    )
