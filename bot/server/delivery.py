"""A webhook delivery's body: its signature, its JSON check, its lazy parse."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, Final

import orjson
import simdjson
from gidgethub.sansio import Event

SIGNATURE_PREFIX: Final = "sha256="


def verify_signature(body: bytes, signature: str, secrets_: Sequence[str]) -> bool:
    """Return True if `signature` is `sha256=` + HMAC of `body` with any secret."""
    if not signature.startswith(SIGNATURE_PREFIX):
        return False
    try:
        given = bytes.fromhex(signature[len(SIGNATURE_PREFIX) :])
    except ValueError:  # not hex: no secret can match
        return False
    ok = False
    for secret in secrets_:
        digest = hmac.digest(secret.encode("utf-8"), body, "sha256")
        # Check every secret (no early exit) so timing does not reveal which matched.
        ok |= hmac.compare_digest(digest, given)
    return ok


def signature_digest(signature: str) -> str:
    """Return a verified `signature`'s HMAC as lowercase hex (one spelling per body).

    `bytes.fromhex` accepts upper case and spaces: a replayed header respelled
    that way must still name the same body.
    """
    return bytes.fromhex(signature[len(SIGNATURE_PREFIX) :]).hex()


def sign(body: bytes, secret: str) -> str:
    """Return the X-Hub-Signature-256 value GitHub would send for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


# The JSON check before the 202 builds no Python objects: simdjson checks
# structure, UTF-8, escapes and numbers, with the same nesting limit as orjson
# (1024), in a fraction of the time orjson.loads takes to build and free a
# tree (bench/json_check.py prints both). The handler parses the body later,
# in the background (LazyEvent). Only the event loop's thread uses this parser.
_JSON_CHECK: Final = simdjson.Parser()
_BOM: Final = b"\xef\xbb\xbf"


def is_json_object(body: bytes) -> bool:
    """Return True if `body` is one JSON object that orjson will also accept."""
    if body.startswith(_BOM):  # simdjson skips a BOM; orjson (rightly) does not
        return False
    try:
        # The parsed document is dropped at once: the parser may then be reused.
        return type(_JSON_CHECK.parse(body)) is simdjson.Object
    except (ValueError, RuntimeError):
        # ValueError: malformed JSON or UTF-8; RuntimeError: nested too deep,
        # or an integer beyond 64 bits (GitHub sends none: refused as well).
        return False


class LazyEvent(Event):
    """A gidgethub Event whose body is parsed (orjson) when `data` is first read.

    The body was checked by `is_json_object` before the delivery was accepted.
    """

    def __init__(self, body: bytes, *, event: str, delivery_id: str) -> None:
        """Hold `body` unparsed; the Event fields are those of gidgethub."""
        self.event = event
        self.delivery_id = delivery_id
        self._body: bytes | None = body
        self._data: Any = None

    @property
    def data(self) -> Any:
        """The payload, parsed on first use."""
        if self._body is not None:
            self._data = orjson.loads(self._body)
            self._body = None
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data, self._body = value, None
