"""The JSON check before the 202 agrees with the parser the handler uses later."""

from __future__ import annotations

import json

import orjson
import pytest

from bot.server import LazyEvent, is_json_object
from tests.server.serverkit import WEBHOOKS

REAL = sorted(WEBHOOKS.glob("*/*.json"))

# (body, accepted): every body accepted must parse with orjson into a dict.
CASES = [
    (b'{"a": 1}', True),
    (b' \n{"a": [1, 2.5e3, -0, true, null, "\\u00e9"]}\t', True),
    (b'{"a": 1, "a": 2}', True),  # duplicate keys: both parsers keep the last
    (b'{"a": 18446744073709551615}', True),  # largest unsigned 64-bit integer
    (b'{"a":' + b"[" * 1023 + b"]" * 1023 + b"}", True),  # depth 1024: both allow
    (b'{"a":' + b"[" * 1024 + b"]" * 1024 + b"}", False),  # depth 1025: neither
    (b"", False),
    (b"   ", False),
    (b"[1, 2]", False),
    (b'"text"', False),
    (b"null", False),
    (b"{not json", False),
    (b'{"a": 1,}', False),
    (b'{"a": 1} {"b": 2}', False),
    (b'{"a": 1}\x00', False),
    (b'{"a": NaN}', False),
    (b'{"a": 1e400}', False),
    (b'{"a": "\xff"}', False),  # invalid UTF-8
    (b'{"a": "\\ud800"}', False),  # lone surrogate
    (b'{"a": "\x01"}', False),  # unescaped control character
    (b"\xef\xbb\xbf{}", False),  # a BOM: orjson refuses it, so must we
    (b'{"a": 123456789012345678901234567890}', False),  # beyond 64 bits
    (b'{"a": -9223372036854775809}', False),
]


@pytest.mark.parametrize(("body", "accepted"), CASES)
def test_check_matches_expectation(body: bytes, accepted: bool) -> None:
    assert is_json_object(body) is accepted
    if accepted:
        assert isinstance(orjson.loads(body), dict)


@pytest.mark.parametrize("path", REAL, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_real_payloads_accepted_and_parsed_lazily(path) -> None:  # type: ignore[no-untyped-def]
    body = path.read_bytes()
    assert is_json_object(body)
    event = LazyEvent(body, event=path.parent.name, delivery_id="d-1")
    assert (event.event, event.delivery_id) == (path.parent.name, "d-1")
    assert event.data == json.loads(body)
    assert event.data is event.data  # parsed once


def test_checks_in_a_row_reuse_the_parser() -> None:
    # The parser is reused for every request: a document left alive would
    # make the next parse fail, so every call must still answer.
    bodies = [b'{"a": 1}', b"[1]", b"{bad", b'{"b": {"c": [1, 2]}}'] * 3
    assert [is_json_object(b) for b in bodies] == [True, False, False, True] * 3


def test_data_can_be_replaced() -> None:
    event = LazyEvent(b"{bad", event="push", delivery_id="d-2")
    event.data = {"ref": "refs/heads/main"}
    assert event.data == {"ref": "refs/heads/main"}
    broken = LazyEvent(b"{bad", event="push", delivery_id="d-3")
    with pytest.raises(orjson.JSONDecodeError):
        _ = broken.data
