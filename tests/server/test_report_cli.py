"""`musl-check report --installation ID`: the organisation table from the store."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path

import pytest

from bot.cli import EXIT_OK, EXIT_USAGE, main
from bot.store import RepositoryResult
from bot.store.sqlite import SqliteStore

ROWS = (
    RepositoryResult(
        1, 11, "acme/lib", "b" * 40, "clean", ("0.2.172",), (), "", None,
        1_767_229_200.0,
    ),
    RepositoryResult(
        1, 10, "acme/app", "a" * 40, "at-risk", ("0.2.140", "0.2.150"),
        ("x86_64-unknown-linux-musl",), "https://github.com/acme/app/runs/5", 9,
        1_767_225_600.0,
    ),
    # A terminal escape in repository text is printed escaped, never raw.
    RepositoryResult(1, 12, "acme/odd", "c" * 40, "old-libc", ("\x1b[31m",)),
    RepositoryResult(2, 20, "other/x", "d" * 40, "at-risk"),
)  # fmt: skip


async def fill(path: Path) -> None:
    """Write the installations' rows and one listed, unchecked repository."""
    store = SqliteStore.open(str(path))
    await store.add_repositories(1, [(13, "acme/waiting")])
    for row in ROWS:
        await store.save_repository_result(row)
    await store.close()


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fill a SQLite store and point MUSL_CHECK_STORE at it; return its path."""
    path = tmp_path / "store.sqlite3"
    asyncio.run(fill(path))
    monkeypatch.chdir(tmp_path)  # no .env from elsewhere
    monkeypatch.setenv("MUSL_CHECK_STORE", f"sqlite:///{path}")
    monkeypatch.setenv("GITHUB_WEB_URL", "https://ghe.example/")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_table(store_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--installation", "1")
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[0] == (
        "3 of 4 repositories checked: 1 at-risk, 1 old-libc, 0 musl-libc-ok, 1 clean"
    )
    assert lines[1].split() == [
        "REPOSITORY", "VERDICT", "LIBC", "MUSL", "TARGETS", "CHECKED", "(UTC)",
        "FIX", "PR",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[2:]] == [
        "acme/app",
        "acme/odd",
        "acme/lib",
        "acme/waiting",
    ]
    assert "https://ghe.example/acme/app/pull/9" in lines[2]
    assert "0.2.140 0.2.150" in lines[2]
    assert "\x1b" not in out
    assert "\\x1b[31m" in lines[3]


def test_csv_and_json(store_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--installation", "1", "--format", "csv")
    assert code == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["repository"], r["verdict"]) for r in rows] == [
        ("acme/app", "at-risk"),
        ("acme/odd", "old-libc"),
        ("acme/lib", "clean"),
        ("acme/waiting", "unchecked"),
    ]
    assert rows[0]["last_checked"] == "2026-01-01 00:00"
    code, out, _ = run(capsys, "--installation", "2", "--format", "json")
    data = json.loads(out)
    assert (data["checked"], data["repositories"]) == (1, 1)
    assert data["rows"][0]["repository"] == "other/x"


def test_empty_installation(
    store_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--installation", "99")
    assert (code, out) == (
        EXIT_OK,
        "0 of 0 repositories checked: 0 at-risk, 0 old-libc, 0 musl-libc-ok, 0 clean\n",
    )


def test_missing_or_bad_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MUSL_CHECK_STORE", f"sqlite:///{tmp_path}/none.sqlite3")
    code, _, err = run(capsys, "--installation", "1")
    assert code == EXIT_USAGE
    missing = tmp_path / "none.sqlite3"
    assert err == f"musl-check: error: no store at {missing} (MUSL_CHECK_STORE)\n"
    assert not (tmp_path / "none.sqlite3").exists()
    monkeypatch.setenv("MUSL_CHECK_STORE", "postgres://x")
    code, _, err = run(capsys, "--installation", "1")
    assert code == EXIT_USAGE
    assert "MUSL_CHECK_STORE" in err
    with pytest.raises(SystemExit):
        main(["report"])  # --installation is required
