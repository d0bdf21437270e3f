"""The GitHub Action (action.yml) and the pre-commit hook, run here.

The action's `run:` steps are executed with bash as the runner would (inputs
through `env`, outputs through $GITHUB_OUTPUT) against the installed package;
its `uses:` steps cannot run here, so they are checked for a pinned commit and
for consuming what the scan step produced. The hook runs through the real
`pre-commit try-repo` on a git repository made from a corpus case.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.scope import SKIP_DIRS, wanted
from tests.conftest import ROOT, Installed, run_limited
from tests.paths import CORPUS

AT_RISK = CORPUS / "XAMPPRocky__tokei@f6b8cadeba"  # getrandom 0.2.7: fails
OK_CASE = CORPUS / "ajeetdsouza__zoxide@e3ef7c9b41"
ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())
HOOKS: list[dict[str, Any]] = yaml.safe_load(
    (ROOT / ".pre-commit-hooks.yaml").read_text()
)
_EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")

pytestmark = pytest.mark.packaging


def _evaluate(text: str, context: dict[str, str]) -> str:
    """Expand the `${{ name }}` expressions the action uses (a closed set)."""
    return _EXPR.sub(lambda m: context[m.group(1)], text)


def _run_action(
    installed: Installed, workspace: Path, tmp_path: Path, **inputs: str
) -> tuple[list[subprocess.CompletedProcess[str]], dict[str, str]]:
    """Run every `run:` step in order; return the results and the outputs."""
    context = {
        f"inputs.{name}": str(spec.get("default", ""))
        for name, spec in ACTION["inputs"].items()
    }
    context |= {f"inputs.{k.replace('_', '-')}": v for k, v in inputs.items()}
    context["runner.temp"] = str(tmp_path)
    outputs: dict[str, str] = {}
    done: list[subprocess.CompletedProcess[str]] = []
    for step in ACTION["runs"]["steps"]:
        if "run" not in step:
            continue
        output_file = tmp_path / "github_output"
        output_file.write_text("")
        env = {
            "PATH": f"{installed.bin}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "CRATES_INDEX_URL": os.environ["CRATES_INDEX_URL"],
            "GITHUB_ACTION_PATH": str(installed.src),
            "GITHUB_OUTPUT": str(output_file),
        }
        env |= {k: _evaluate(v, context) for k, v in step.get("env", {}).items()}
        assert "${{" not in step["run"], "expressions reach scripts only via env"
        assert step["shell"] == "bash"
        result = run_limited(
            ["bash", "-e", "-c", step["run"]], 600, cwd=workspace, env=env
        )
        done.append(result)
        for line in output_file.read_text().splitlines():
            key, _, value = line.partition("=")
            context[f"steps.{step['id']}.outputs.{key}"] = value
            outputs[key] = value
        if result.returncode != 0:
            break
    return done, outputs


def test_action_uses_are_pinned_to_commits() -> None:
    uses = [s["uses"] for s in ACTION["runs"]["steps"] if "uses" in s]
    assert uses
    for ref in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), ref
    [upload] = [
        s for s in ACTION["runs"]["steps"] if "upload-sarif" in s.get("uses", "")
    ]
    assert upload["with"]["sarif_file"] == "${{ steps.scan.outputs.sarif }}"
    assert upload["if"] == "inputs.upload == 'true'"


def test_action_on_an_at_risk_checkout(installed: Installed, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(AT_RISK, workspace)
    done, outputs = _run_action(installed, workspace, tmp_path)
    install, scan, fail = done
    assert install.returncode == 0, install.stderr
    assert scan.returncode == 0, scan.stderr  # the report is uploaded before failing
    assert outputs["exit-code"] == "1"
    sarif = json.loads(Path(outputs["sarif"]).read_text())
    assert sarif["version"] == "2.1.0"
    [run] = sarif["runs"]
    assert run["tool"]["driver"]["name"] == "musl-check"
    assert any(r["level"] == "error" for r in run["results"])
    assert fail.returncode == 1
    assert fail.stdout.startswith("::error title=musl-check::")


def test_action_passes_a_fine_checkout_and_honours_fail_on(
    installed: Installed, tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(OK_CASE, workspace)
    done, outputs = _run_action(installed, workspace, tmp_path)
    assert [d.returncode for d in done] == [0, 0, 0]
    assert outputs["exit-code"] == "0"
    shutil.rmtree(workspace)
    shutil.copytree(AT_RISK, workspace)
    done, outputs = _run_action(installed, workspace, tmp_path, fail_on="never")
    assert [d.returncode for d in done] == [0, 0, 0]


def test_action_stops_on_a_usage_error(installed: Installed, tmp_path: Path) -> None:
    done, outputs = _run_action(installed, tmp_path, tmp_path, path="missing")
    assert [d.returncode for d in done] == [0, 2]
    assert outputs["exit-code"] == "2"


def test_hook_files_are_what_the_scanner_reads() -> None:
    [hook] = HOOKS
    files = re.compile(hook["files"])
    paths = [
        p.relative_to(case).as_posix()
        for case in CORPUS.iterdir()
        if case.is_dir()
        for p in case.rglob("*")
        if p.is_file() and p.name != "expected.json"
    ]
    paths += [
        "Dockerfile", "docker/Dockerfile.musl", "ci/build.dockerfile",
        "Containerfile", "GNUmakefile", "Justfile", ".justfile", "sub/Cargo.lock",
        ".cargo/config", "rust-toolchain", "dist.toml", ".cirrus.yml",
        ".github/workflows/nested/x.yml", "src/main.rs", "Cargo.lockx",
    ]  # fmt: skip
    assert len(paths) > 100
    for path in paths:
        if SKIP_DIRS.isdisjoint(path.split("/")):
            assert bool(files.search(path)) == wanted(path), path


def _git(repo: Path, *args: str) -> None:
    done = run_limited(["git", "-C", repo, *args], 60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("case", "status"), [(AT_RISK, 1), (OK_CASE, 0)])
def test_hook_through_pre_commit_try_repo(
    case: Path, status: int, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(case, repo)
    _git(repo, "init", "--quiet")
    _git(repo, "add", ".")
    # The hook is installed from a git repository holding this checkout's files.
    hook_repo = tmp_path_factory.getbasetemp() / "hook-repo"
    if not hook_repo.exists():
        shutil.copytree(
            ROOT,
            hook_repo,
            ignore=shutil.ignore_patterns(
                ".git",
                ".venv",
                "__pycache__",
                "*.egg-info",
                "build",
                "dist",
                ".*_cache",
            ),
        )
        _git(hook_repo, "init", "--quiet")
        _git(hook_repo, "add", ".")
        _git(
            hook_repo,
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "hook",
        )
    env = os.environ | {
        "PRE_COMMIT_HOME": str(tmp_path_factory.getbasetemp() / "pre-commit-home"),
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    done = run_limited(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "try-repo",
            hook_repo,
            "musl-check",
            "--all-files",
        ],
        900,
        cwd=repo,
        env=env,
    )
    assert done.returncode == status, done.stdout + done.stderr
    assert "musl-check" in done.stdout
    if status:
        assert "Cargo.lock:639" in done.stdout


def _readme_blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    install = text.split("## Install\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", install, flags=re.S)


def test_readme_install_section_shows_each_way() -> None:
    shell = "\n".join(_readme_blocks("sh"))
    for command in ("pipx install", "pip install", "docker build", "docker compose up"):
        assert command in shell
    workflow, pre_commit = (yaml.safe_load(b) for b in _readme_blocks("yaml"))
    [job] = workflow["jobs"].values()
    assert job["permissions"]["security-events"] == "write"  # the SARIF upload
    assert [s["uses"].split("@")[0] for s in job["steps"]] == [
        "actions/checkout",
        "musl-check/musl-check",
    ]
    assert len(_readme_blocks("yaml")[0].strip().splitlines()) <= 6
    [hook] = pre_commit["repos"][0]["hooks"]
    assert hook["id"] in {h["id"] for h in HOOKS}
