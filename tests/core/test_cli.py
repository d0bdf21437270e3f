"""`musl-check scan`: formats, exit codes, input errors and hostile repositories."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.paths import CORPUS

AT_RISK = CORPUS / "XAMPPRocky__tokei@f6b8cadeba"  # getrandom 0.2.7: fails
OK_CASE = CORPUS / "ajeetdsouza__zoxide@e3ef7c9b41"
LATENT = CORPUS / "containers__youki@17073e8afb"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_at_risk_fails_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["scan", str(AT_RISK)], capsys)
    assert code == 1
    assert "Cargo.lock:639" in out
    assert "\x1b[" not in out  # no colour when not a terminal


def test_fail_on_never_and_warning(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["scan", str(AT_RISK), "--fail-on", "never"], capsys)[0] == 0
    assert run(["scan", str(OK_CASE), "--fail-on", "warning"], capsys)[0] == 0
    assert run(["scan", str(LATENT), "--fail-on", "failure"], capsys)[0] == 0


@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "sarif"])
def test_every_format(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["scan", str(AT_RISK), "--format", fmt], capsys)
    assert code == 1
    assert out
    if fmt in {"json", "sarif"}:
        json.loads(out)


def test_markdown_report_names_no_pull_request_commands(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Written for a terminal or a file: no `/musl-check fix`, no Fix button.
    _code, out, _ = run(["scan", str(AT_RISK), "--format", "markdown"], capsys)
    assert out.startswith("### musl-check: at risk")
    assert "cargo update -p libc" in out
    assert "/musl-check" not in out
    assert "Fix libc" not in out


def test_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(["scan", str(tmp_path / "nope")], capsys)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "no such file or directory" in err


def test_not_a_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    code, _, err = run(["scan", str(target)], capsys)
    assert code == 2
    assert "not a directory" in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scan", "--format", "xml"])
    assert exc.value.code == 2


def test_empty_repository(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(["scan", str(tmp_path), "--format", "json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["verdict"] == "clean"
    assert report["lockfiles"] == []
    assert report["findings"] == []


def _hostile_repo(tmp_path: Path) -> Path:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".cargo").mkdir()
    # Each file names a musl triple, so no cheap pre-filter can skip it.
    musl = "# x86_64-unknown-linux-musl\n"
    bomb = (
        musl
        + "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
    )
    (tmp_path / ".github" / "workflows" / "bomb.yml").write_text(bomb)
    (tmp_path / ".github" / "workflows" / "deep.yml").write_text(musl + "[" * 100_000)
    (tmp_path / ".github" / "workflows" / "bin.yml").write_bytes(b"\x00\xff" * 5000)
    (tmp_path / ".cargo" / "config.toml").write_text(
        "[build\ntarget = 'x86_64-unknown-linux-musl'"
    )
    (tmp_path / "Cross.toml").write_bytes(
        b"[target.x86_64-unknown-linux-musl]\n\xff\xfe"
    )
    (tmp_path / "Dockerfile").write_text("FROM rust:alpine\n" * 1000)
    return tmp_path


def test_hostile_files_become_findings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    repo = _hostile_repo(tmp_path)
    (repo / "Cargo.lock").write_text('version = 3\n[[package]\nname = "libc"\n')
    code, out, _ = run(["scan", str(repo), "--format", "json"], capsys)
    report = json.loads(out)
    unreadable = {f["path"] for f in report["findings"] if f["rule"] == "unreadable"}
    assert {
        ".github/workflows/deep.yml",
        ".github/workflows/bin.yml",
        ".cargo/config.toml",
        "Cross.toml",
        "Cargo.lock",
    } <= unreadable
    # Aliases are never expanded: the bomb costs nothing and names no target.
    assert not [u for u in report["musl_uses"] if u["path"].endswith("bomb.yml")]
    assert code in {0, 1}


def test_huge_lockfile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    block = (
        '[[package]]\nname = "crate-{n}"\nversion = "1.0.{n}"\n'
        'source = "registry+https://github.com/rust-lang/crates.io-index"\n'
        'checksum = "{c}"\ndependencies = [\n "libc",\n]\n\n'
    )
    parts = ["# This file is automatically @generated by Cargo.\nversion = 3\n\n"]
    size, n = 0, 0
    while size < 20 * 1024 * 1024:
        part = block.format(n=n, c="ab" * 32)
        parts.append(part)
        size += len(part)
        n += 1
    parts.append(
        '[[package]]\nname = "libc"\nversion = "0.2.140"\n'
        'source = "registry+https://github.com/rust-lang/crates.io-index"\n'
        f'checksum = "{"cd" * 32}"\n'
    )
    (tmp_path / "Cargo.lock").write_text("".join(parts))
    code, out, _ = run(["scan", str(tmp_path), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 0
    assert report["verdict"] == "old-libc"
    assert report["lockfiles"][0]["libc"][0]["version"] == "0.2.140"


def test_oversized_lockfile_is_a_finding(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with (tmp_path / "Cargo.lock").open("wb") as handle:
        handle.truncate(40 * 1024 * 1024)
    code, out, _ = run(["scan", str(tmp_path), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 0
    assert [f["rule"] for f in report["findings"]] == ["unreadable"]
    assert "limit" in report["findings"][0]["message"]


def test_symlinks_are_not_followed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copy(AT_RISK / "Cargo.lock", tmp_path / "real.lock")
    (tmp_path / "Cargo.lock").symlink_to(tmp_path / "real.lock")
    code, out, _ = run(["scan", str(tmp_path), "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out)["lockfiles"] == []


def test_python_dash_m_bot(tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", "scan", str(AT_RISK), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["verdict"] == "at-risk"


def test_core_imports_no_network_stack() -> None:
    code = (
        "import sys, bot.core.analysis, bot.core.render, bot.core.commands;"
        "bad = {'aiohttp', 'gidgethub'} & set(sys.modules);"
        "print(sorted(bad)); raise SystemExit(bool(bad))"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout


def test_repository_config_is_honoured(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copytree(AT_RISK, tmp_path / "repo")
    config = tmp_path / "repo" / ".github" / "musl-check.yml"
    config.write_text("ignore_paths: ['.github/workflows/']\nbogus: 1\n")
    code, out, err = run(["scan", str(tmp_path / "repo"), "--format", "json"], capsys)
    report = json.loads(out)
    assert report["verdict"] == "old-libc"  # the only musl builds were ignored
    assert code == 0
    assert err.startswith("musl-check: .github/musl-check.yml: ")
    assert "bogus" in err
