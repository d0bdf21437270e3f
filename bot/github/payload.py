"""Typed reads of webhook payload fields; a missing or odd field is a PayloadError.

A delivery is signed by GitHub, but its shape is still input: a field that is
missing, null or of another type must end the delivery with a clear reason,
before any GitHub request is built from it (a `None` sha or repository name
would otherwise become a request for `acme/None` at commit `None`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

# Commit ids: SHA-1 (40 hex) or, in SHA-256 repositories, 64 hex.
_SHA: Final = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})")
# Owner logins and repository names: letters, digits, `-`, `_`, `.` (GitHub's
# own rules are narrower; this only keeps URL paths to plain names).
_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_MAX_ID: Final = 2**63 - 1
_MISSING: Final = object()


class PayloadError(ValueError):
    """A webhook payload lacks a field the App needs, or has it in another shape."""

    def __init__(self, where: str, problem: str) -> None:
        """Name the field (`check_suite.head_sha`) and what is wrong with it."""
        super().__init__(f"{where} {problem}")
        self.where = where


def _get(data: Any, path: str) -> Any:
    node = data
    walked = "payload"
    for key in path.split("."):
        if node is None:
            raise PayloadError(walked, "is null")
        if not isinstance(node, Mapping):
            raise PayloadError(walked, "is not an object")
        walked = key if walked == "payload" else f"{walked}.{key}"
        node = node.get(key, _MISSING)
        if node is _MISSING:
            raise PayloadError(walked, "is missing")
    if node is None:
        raise PayloadError(path, "is null")
    return node


def mapping(data: Any, path: str) -> Mapping[str, Any]:
    """Return the object at `path` (dot-separated keys)."""
    value = _get(data, path)
    if not isinstance(value, Mapping):
        raise PayloadError(path, "is not an object")
    return value


def integer(data: Any, path: str) -> int:
    """Return the positive integer (an id or a number) at `path`."""
    value = _get(data, path)
    if type(value) is not int or not 0 < value <= _MAX_ID:
        raise PayloadError(path, "is not a positive integer")
    return value


def commit_sha(data: Any, path: str) -> str:
    """Return the commit id (40 or 64 lowercase hex digits) at `path`."""
    value = _get(data, path)
    if not isinstance(value, str) or not _SHA.fullmatch(value):
        raise PayloadError(path, "is not a commit sha")
    return value


def name(data: Any, path: str) -> str:
    """Return the owner login or repository name at `path`."""
    value = _get(data, path)
    # `.` and `..` match the pattern but are dot segments in a URL path.
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value in ("..", "."):
        raise PayloadError(path, "is not a GitHub name")
    return value


def optional(data: Any, path: str) -> Any:
    """Return the value at `path`, or None when it (or an object above) is absent."""
    try:
        return _get(data, path)
    except PayloadError:
        return None


def optional_text(data: Any, path: str) -> str | None:
    """Return the string at `path`, or None when it is absent, null or not a string."""
    value = optional(data, path)
    return value if isinstance(value, str) else None
