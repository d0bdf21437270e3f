"""Validate what the App sends and what the fake answers against GitHub's OpenAPI."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

from jsonschema import validators
from openapi_schema_validator import OAS30Validator

from tests.paths import OPENAPI

SPEC_PATH: Final = OPENAPI
# Path parameters that may hold slashes.
_GREEDY: Final = frozenset({"path", "ref", "basehead"})


@cache
def spec() -> dict[str, Any]:
    """Return GitHub's OpenAPI subset (loaded once)."""
    return json.loads(SPEC_PATH.read_text())


@dataclass(frozen=True)
class Operation:
    """One OpenAPI operation matched by a request."""

    template: str
    method: str
    definition: dict[str, Any]

    def parameters(self, where: str) -> dict[str, dict[str, Any]]:
        """Return this operation's parameters located `where` (query, path)."""
        found = {}
        items = [*spec()["paths"][self.template].get("parameters", [])]
        items += self.definition.get("parameters", [])
        for item in items:
            if "$ref" in item:
                item = resolve(item["$ref"])
            if item.get("in") == where:
                found[item["name"]] = item
        return found


def resolve(ref: str) -> dict[str, Any]:
    """Return the component a local `$ref` points at."""
    node: Any = spec()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in spec()["paths"]:
        pattern = re.sub(
            r"\{([^}]+)\}",
            lambda m: "(.+)" if m.group(1) in _GREEDY else "([^/]+)",
            template,
        )
        literal = len(re.sub(r"\{[^}]+\}", "", template))
        out.append((literal, re.compile(pattern + "$"), template))
    out.sort(key=lambda t: -t[0])
    return [(p, t) for _, p, t in out]


def find_operation(method: str, path: str) -> Operation | None:
    """Return the operation for `method path`, if the subset has it."""
    for pattern, template in _templates():
        if pattern.match(path):
            definition = spec()["paths"][template].get(method.lower())
            if definition is not None:
                return Operation(template, method.lower(), definition)
    return None


def _nullable_enum(validator: Any, enums: Any, instance: Any, schema: Any) -> Any:
    # OpenAPI 3.0 `nullable: true` next to `enum` admits null (GitHub sends a
    # null `conclusion` for unfinished runs); plain JSON Schema enum does not.
    if instance is None and schema.get("nullable"):
        return
    yield from OAS30Validator.VALIDATORS["enum"](validator, enums, instance, schema)


Validator = validators.extend(OAS30Validator, {"enum": _nullable_enum})


@cache
def _validator(key: str) -> Any:
    schema = json.loads(key)
    root = {**schema, "components": spec()["components"]}
    return Validator(root, format_checker=OAS30Validator.FORMAT_CHECKER)


def _json_schema(content: dict[str, Any]) -> dict[str, Any] | None:
    for media in ("application/json", *content):
        if "json" in media or media.startswith("application/vnd.github"):
            entry = content.get(media)
            if entry and "schema" in entry:
                return dict(entry["schema"])
    return None


def errors(schema: dict[str, Any], value: Any) -> list[str]:
    """Return the schema violations of `value`."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"[:500]
        for e in validator.iter_errors(value)
    ]


def request_errors(op: Operation, body: Any, has_body: bool) -> list[str]:
    """Return what is wrong with a request body for `op`."""
    spec_body = op.definition.get("requestBody")
    if spec_body is None:
        return ["operation takes no body"] if has_body else []
    if not has_body:
        return ["request body required"] if spec_body.get("required") else []
    schema = _json_schema(spec_body.get("content", {}))
    return [] if schema is None else errors(schema, body)


def response_errors(op: Operation, status: int, value: Any) -> list[str]:
    """Return what is wrong with a JSON response the fake gives for `op`."""
    response = op.definition["responses"].get(str(status))
    if response is None:
        return [f"status {status} not documented"]
    if "$ref" in response:
        response = resolve(response["$ref"])
    schema = _json_schema(response.get("content", {}))
    return [] if schema is None else errors(schema, value)
