"""The package as users get it: `python -m build`, a fresh venv, the console script.

Builds the sdist and the wheel (the wheel from the sdist, as `python -m build`
does), installs the wheel without extras into a new virtual environment and
runs the installed `musl-check` from a folder outside the repository. pip may
fetch the dependencies from its cache or PyPI; every step has a time limit.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

from bot import __version__
from tests.conftest import Installed, run_limited
from tests.paths import CORPUS
from tests.server.test_server_pages import _free_port, _wait_healthy

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
AT_RISK = CORPUS / "XAMPPRocky__tokei@f6b8cadeba"
RUN_LIMIT_S = 60

pytestmark = pytest.mark.packaging


def test_names_carry_the_one_version(installed: Installed) -> None:
    assert installed.wheel.name == f"musl_check-{__version__}-py3-none-any.whl"
    assert installed.sdist.name == f"musl_check-{__version__}.tar.gz"
    done = run_limited([installed.bin / "musl-check", "-V"], RUN_LIMIT_S)
    assert done.stdout == f"musl-check {__version__}\n"


def test_version_is_written_once() -> None:
    assert "version" not in PYPROJECT["project"]
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{__version__}] - " in changelog


def test_every_package_data_pattern_matches_a_file(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    for package, patterns in PYPROJECT["tool"]["setuptools"]["package-data"].items():
        for pattern in patterns:
            glob = re.escape(f"{package}/{pattern}").replace(r"\*", "[^/]*")
            assert any(re.fullmatch(glob, n) for n in names), pattern


def test_wheel_carries_the_licence(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert f"musl_check-{__version__}.dist-info/licenses/LICENSE" in names
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def test_installed_scan_of_a_corpus_case(installed: Installed, tmp_path: Path) -> None:
    done = run_limited(
        [installed.bin / "musl-check", "scan", AT_RISK, "--format", "json"],
        RUN_LIMIT_S,
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "at-risk"
    assert report["fixes"][0]["new_version"] is not None  # the local index answered


def test_installed_schema_is_the_repository_one(installed: Installed) -> None:
    code = (
        "import importlib.resources as r, sys;"
        "sys.stdout.write(r.files('bot').joinpath('schema/scan.json').read_text())"
    )
    done = run_limited([installed.bin / "python", "-c", code], RUN_LIMIT_S)
    assert done.stdout == (ROOT / "bot" / "schema" / "scan.json").read_text()


def test_installed_serve_without_credentials_serves_the_setup_page(
    installed: Installed, tmp_path: Path
) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(  # noqa: S603 - the installed console script
        [
            installed.bin / "musl-check",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=tmp_path,  # no app.yaml, no .env here
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        assert _wait_healthy(f"{url}/healthz", proc)["status"] == "setup"
        link = (tmp_path / ".musl-check-setup-link").read_text().strip()
        token = link.split("?token=", 1)[1]
        # The token is exchanged for a session cookie, then a redirect to /.
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(f"{url}/?token={token}", timeout=10) as resp:
            page = resp.read().decode()
        assert resp.status == 200
        assert "app.yaml" in page
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=RUN_LIMIT_S)
    assert "Traceback" not in err.decode()


def test_redis_store_without_the_extra_is_one_line(
    installed: Installed, tmp_path: Path, rsa_pem: tuple[str, bytes]
) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GITHUB_APP_ID": "12345",
        "GITHUB_PRIVATE_KEY": rsa_pem[0],
        "GITHUB_WEBHOOK_SECRET": "s3cret",
        "MUSL_CHECK_STORE": "redis://127.0.0.1:6379/0",
    }
    done = run_limited(
        [installed.bin / "musl-check", "serve", "--port", str(_free_port())],
        RUN_LIMIT_S,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "musl-check: MUSL_CHECK_STORE is a redis:// URL but the redis package is "
        "not installed: pip install 'musl-check[redis]' (or use sqlite:///...)"
    ]
