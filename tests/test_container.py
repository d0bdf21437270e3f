"""Dockerfile and compose.yaml, checked as far as this machine can.

No base image can be pulled here, so nothing is built: the Dockerfile is read
with a Dockerfile parser (dockerfile-parse) and compose.yaml with PyYAML, and
what they ask of musl-check is put to the real CLI parser and the real app.
The HEALTHCHECK command itself is run against a live server.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from dockerfile_parse import DockerfileParser

from bot.cli import _parser
from bot.server import Role, create_app
from bot.settings import Settings
from tests.threadserver import serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
# A full X.Y.Z Python release on a named Debian release, or a digest.
PINNED = re.compile(r"python:\d+\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?")


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    assert parser.structure, "the Dockerfile did not parse"
    return parser


def _instructions(parser: DockerfileParser, name: str) -> list[str]:
    return [i["value"] for i in parser.structure if i["instruction"] == name]


def _final_stage(parser: DockerfileParser) -> list[dict[str, Any]]:
    last_from = max(
        n for n, i in enumerate(parser.structure) if i["instruction"] == "FROM"
    )
    return list(parser.structure[last_from:])


def test_multi_stage_on_a_pinned_slim_python(dockerfile: DockerfileParser) -> None:
    assert dockerfile.is_multistage
    images = [i for i in dockerfile.parent_images if i != "build"]
    assert len(dockerfile.parent_images) >= 2
    for image in images:
        assert PINNED.fullmatch(image), image
    # The venv built in the first stage runs on the same interpreter.
    assert len(set(images)) == 1


def test_runs_as_a_non_root_user(dockerfile: DockerfileParser) -> None:
    users = [i["value"] for i in _final_stage(dockerfile) if i["instruction"] == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit()  # numeric: runtimes can tell it is not root
    assert user != "0"
    assert group not in {"0", "root"}
    # The user exists in the image and owns the volume.
    [create] = [
        i["value"]
        for i in _final_stage(dockerfile)
        if i["instruction"] == "RUN" and "useradd" in i["value"]
    ]
    assert f"--uid {user}" in create
    assert f"chown {user}:{group} /data" in create


def test_cmd_is_a_real_serve_command(dockerfile: DockerfileParser) -> None:
    cmd = json.loads(dockerfile.cmd)
    assert cmd[0] == "musl-check"
    args = _parser().parse_args(cmd[1:])  # exits (SystemExit) if not a real command
    assert args.command == "serve"


def test_store_lives_on_the_volume(dockerfile: DockerfileParser) -> None:
    volumes = [
        json.loads(v) if v.startswith("[") else v.split()
        for v in _instructions(dockerfile, "VOLUME")
    ]
    [[volume]] = volumes
    store = dockerfile.envs["MUSL_CHECK_STORE"]
    assert store.startswith(f"sqlite:///{volume}/")
    assert _instructions(dockerfile, "WORKDIR")[-1] == volume  # .env, setup link


def _healthcheck_command(dockerfile: DockerfileParser) -> list[str]:
    [value] = _instructions(dockerfile, "HEALTHCHECK")
    exec_form = value.split("CMD", 1)[1].strip()
    command: list[str] = json.loads(exec_form)
    return command


@pytest.mark.parametrize("role", [Role.ALL, Role.WORKER])
def test_healthcheck_asks_the_real_healthz(
    dockerfile: DockerfileParser, role: Role, rsa_pem: tuple[str, bytes], tmp_path: Path
) -> None:
    command = _healthcheck_command(dockerfile)
    assert command[0] == "python"
    assert "/healthz" in command[-1]
    settings = Settings(
        app_id="1",
        private_key=rsa_pem[0],
        webhook_secrets=("s",),
        store_url=f"sqlite:///{tmp_path}/store.sqlite3",
    )
    app = create_app(settings, role=role)
    with serve_in_thread(app) as url:
        port = url.rsplit(":", 1)[1]
        healthy = subprocess.run(  # noqa: S603 - the Dockerfile's own command
            [sys.executable, *command[1:]],
            env={"PORT": port},
            capture_output=True,
            timeout=30,
            check=False,
        )
    assert healthy.returncode == 0, healthy.stderr
    # Nothing listening: the same command fails, so the check can fail.
    unhealthy = subprocess.run(  # noqa: S603 - the Dockerfile's own command
        [sys.executable, *command[1:]],
        env={"PORT": port},
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert unhealthy.returncode != 0


def test_healthcheck_route_is_served() -> None:
    settings = Settings(app_id="1", private_key="k", webhook_secrets=("s",))
    for role in Role:
        app: web.Application = create_app(settings, role=role)
        paths = {r.canonical for r in app.router.resources()}
        assert "/healthz" in paths


def test_dockerignore_keeps_only_the_package() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*"
    kept = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied = set()
    for source in _instructions(
        DockerfileParser(path=str(ROOT / "Dockerfile")), "COPY"
    ):
        if not source.startswith("--from"):
            copied |= set(source.split()[:-1])
    assert copied <= kept
    assert all((ROOT / name).exists() for name in kept)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def test_compose_runs_web_worker_and_redis(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"web", "worker", "redis"}
    web_args = _parser().parse_args(services["web"]["command"][1:])
    assert (web_args.command, web_args.ingress_only) == ("serve", True)
    worker_args = _parser().parse_args(services["worker"]["command"][1:])
    assert worker_args.command == "worker"
    for name in ("web", "worker"):
        service = services[name]
        assert service["command"][0] == "musl-check"
        assert service["build"] == "."
        store = service["environment"]["MUSL_CHECK_STORE"]
        assert store.startswith("redis://redis:")  # the redis service, by name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        # Both read the .env the setup page writes into the shared volume.
        assert "app-data:/data" in service["volumes"]
    redis = services["redis"]
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+-alpine", redis["image"])
    assert "healthcheck" in redis
    assert set(compose["volumes"]) == {"app-data", "redis-data"}
