"""`musl-check scan`: formats, exit codes, input errors and hostile repositories."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bot import __version__
from bot.cli import main
from tests.fixes.index_data import CKSUM, IndexServer, index_app
from tests.paths import CORPUS
from tests.threadserver import serve_in_thread

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


CASES = sorted(p for p in CORPUS.iterdir() if (p / "expected.json").is_file())
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "bot" / "schema" / "scan.json").read_text()
)


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("offline", [False, True], ids=["index", "offline"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_json_output_follows_the_schema(
    case: Path, offline: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["scan", str(case), "--format", "json", "--fail-on", "never"]
    _, out, _ = run([*args, "--offline"] if offline else args, capsys)
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(out))


def test_schema_rejects_what_the_contract_forbids() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    good = {"schema": 1, "verdict": "clean", "lockfiles": [], "musl_uses": []}
    assert not validator.is_valid(good)  # `findings` is required
    assert validator.is_valid({**good, "findings": []})
    assert not validator.is_valid({**good, "findings": [], "verdict": "fine"})


def test_scan_asks_the_index_for_an_exact_edit(
    capsys: pytest.CaptureFixture[str], local_crates_index: IndexServer
) -> None:
    before = len(local_crates_index.requests)
    code, out, err = run(["scan", str(AT_RISK), "--format", "json"], capsys)
    assert code == 1
    assert err == ""
    [fix] = json.loads(out)["fixes"]
    # docs/domain.md 7.4: 0.2.172 is the newest non-yanked release in the table.
    assert fix["new_version"] == "0.2.172"
    assert fix["reason"] == ""
    assert {e["new"] for e in fix["edits"]} >= {f'checksum = "{CKSUM["0.2.172"]}"'}
    assert len(local_crates_index.requests) == before + 1


def test_scan_does_not_ask_when_no_fix_needs_it(
    capsys: pytest.CaptureFixture[str], local_crates_index: IndexServer
) -> None:
    before = len(local_crates_index.requests)
    code, _, err = run(["scan", str(OK_CASE)], capsys)
    assert (code, err) == (0, "")
    assert len(local_crates_index.requests) == before


def test_offline_says_it_did_not_ask(
    capsys: pytest.CaptureFixture[str], local_crates_index: IndexServer
) -> None:
    before = len(local_crates_index.requests)
    code, out, err = run(
        ["scan", str(AT_RISK), "--format", "json", "--offline"], capsys
    )
    assert code == 1
    [fix] = json.loads(out)["fixes"]
    assert (fix["new_version"], fix["reason"]) == (None, "not asked: --offline")
    assert "unavailable" not in out + err
    assert err.splitlines() == [
        "musl-check: --offline: the crates.io index was not asked; the fix is the "
        "`cargo update` command, not an exact edit"
    ]
    assert len(local_crates_index.requests) == before
    _, markdown, _ = run(
        ["scan", str(AT_RISK), "--format", "markdown", "--offline"], capsys
    )
    assert "not asked: --offline" in markdown
    assert "unavailable" not in markdown


@pytest.mark.parametrize("status", [404, 503])
def test_index_error_is_one_line_naming_it(
    status: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_in_thread(index_app(IndexServer(status=status))) as url:
        monkeypatch.setenv("CRATES_INDEX_URL", url)
        code, out, err = run(["scan", str(AT_RISK), "--format", "json"], capsys)
    assert code == 1
    assert json.loads(out)["fixes"][0]["reason"] == "index unavailable"
    assert err.splitlines() == [
        f"musl-check: the crates.io index could not be read (it answered HTTP "
        f"{status}); the fix is the `cargo update` command, not an exact edit"
    ]


def test_unreachable_index_is_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serve_in_thread(index_app(IndexServer())) as url:
        pass  # closed again: nothing listens on its port now
    monkeypatch.setenv("CRATES_INDEX_URL", url)
    code, _, err = run(["scan", str(AT_RISK)], capsys)
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith("musl-check: the crates.io index could not be read (")
    assert "cannot connect" in line


_LONE_LIBC_LOCK = """\
# This file is automatically @generated by Cargo.
# It is not intended for manual editing.
version = 3

[[package]]
name = "demo"
version = "0.1.0"
dependencies = [
 "libc",
]

[[package]]
name = "libc"
version = "0.2.140"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "99227334921fae1a979cf0bfdfcc6b3e5ce376ef57e16fb6fb3ea2ed6095f80c"
"""
_MUSL_WORKFLOW = """\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: cargo build --release --target x86_64-unknown-linux-musl
"""


def test_at_risk_exit_0_says_why(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Old libc and a musl build, but no known caller of an LFS64 symbol: at
    # risk with a warning only, so the default --fail-on failure exits 0.
    (tmp_path / "Cargo.lock").write_text(_LONE_LIBC_LOCK)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "release.yml").write_text(_MUSL_WORKFLOW)
    code, out, err = run(["scan", str(tmp_path), "--format", "json"], capsys)
    report = json.loads(out)
    assert (code, report["verdict"]) == (0, "at-risk")
    assert {f["severity"] for f in report["findings"]} == {"warning"}
    assert err.splitlines() == [
        "musl-check: exit status 0: at risk, but no finding reaches --fail-on "
        "failure (--fail-on warning fails on the warnings)"
    ]
    code, _, err = run(["scan", str(tmp_path), "--fail-on", "warning"], capsys)
    assert (code, err) == (1, "")
    code, _, err = run(["scan", str(tmp_path), "--fail-on", "never"], capsys)
    assert (code, err) == (0, "")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--version", "-V"):
        with pytest.raises(SystemExit) as exc:
            main([flag])
        assert exc.value.code == 0
        assert capsys.readouterr().out == f"musl-check {__version__}\n"


@pytest.mark.parametrize("command", ["scan", "serve", "worker"])
def test_help_gives_every_option_a_sentence_and_its_default(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    options = out.split("options:\n", 1)[1].split("\n\n", 1)[0]
    entries = _help_entries(options)
    assert len(entries) >= 3
    for name, text in entries.items():
        if name != "-h, --help":
            assert "(default: " in text, (name, text)
    if command == "scan":
        assert "path" in out.split("positional arguments:", 1)[1]
    statuses = out.split("exit status:\n", 1)[1]
    assert [line.split()[0] for line in statuses.splitlines()[:3]] == ["0", "1", "2"]


def _help_entries(block: str) -> dict[str, str]:
    """Return argparse's option entries: the flags and their whole help text."""
    entries: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            name, _, text = line.strip().partition("  ")
            entries[name] = text.strip()
        else:
            entries[name] += " " + line.strip()
    return entries


def test_a_scan_without_a_fix_loads_no_http_client(tmp_path: Path) -> None:
    # The pre-commit hook runs the scanner on every commit: it starts fast.
    code = (
        "import sys; from bot.cli import main; rc = main(['scan', sys.argv[1]]);"
        "print('aiohttp' in sys.modules); raise SystemExit(rc)"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code, str(OK_CASE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"
