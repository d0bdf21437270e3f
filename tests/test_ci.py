"""The project's own workflow runs `make test` from a bare clone, as written."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.conftest import ROOT

WORKFLOW: dict[str, Any] = yaml.safe_load(
    (ROOT / ".github" / "workflows" / "ci.yml").read_text()
)


def test_ci_runs_make_test_on_each_python() -> None:
    [job] = WORKFLOW["jobs"].values()
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs == ["make test PYTHON=python${{ matrix.python }}"]
    pythons = job["strategy"]["matrix"]["python"]
    requires = re.search(
        r'requires-python = ">=(\d+\.\d+)"', (ROOT / "pyproject.toml").read_text()
    )
    assert requires is not None
    assert requires.group(1) in pythons


def test_ci_actions_are_pinned_and_permissions_minimal() -> None:
    assert WORKFLOW["permissions"] == {}
    for job in WORKFLOW["jobs"].values():
        assert job["permissions"] == {"contents": "read"}
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"])
        checkout = job["steps"][0]
        assert checkout["with"]["persist-credentials"] is False


def test_ci_provides_the_redis_the_tests_use() -> None:
    [job] = WORKFLOW["jobs"].values()
    redis = job["services"]["redis"]
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+-alpine", redis["image"])
    assert "6379:6379" in redis["ports"]
    assert "redis-cli ping" in redis["options"]
