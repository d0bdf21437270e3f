"""The OpenAPI subset is what tests/fixtures/trim_openapi.py makes, and stands alone."""

from __future__ import annotations

import json
from typing import Any

from tests.fixtures.trim_openapi import OUTSIDE_FAKE, dump, fake_operations, trim
from tests.paths import OPENAPI

TEXT = OPENAPI.read_text(encoding="utf-8")
SPEC: dict[str, Any] = json.loads(TEXT)


def test_subset_is_exactly_the_trimmed_description() -> None:
    # Trimming the committed file changes nothing: it holds no unused
    # operation or component, and it is written the way the script writes it.
    assert dump(trim(SPEC)) == TEXT


def test_every_reference_resolves() -> None:
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SPEC)
    assert refs
    for ref in refs:
        node: Any = SPEC
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


def test_keeps_what_the_app_and_fake_use() -> None:
    for method, path in OUTSIDE_FAKE:
        assert method in SPEC["paths"][path]
    assert "get" in SPEC["paths"]["/app"]  # the start-up check
    served = {m for m, _ in fake_operations()}
    assert served >= {"get", "post", "patch"}
    assert "x-webhooks" not in SPEC
    assert '"x-octokit":' not in TEXT
