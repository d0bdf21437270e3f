"""Settings.from_env, needs_setup and the .env reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import (
    MAX_BODY_BYTES,
    Settings,
    SettingsError,
    needs_setup,
    parse_env_file,
    read_env,
)
from tests.server.serverkit import ROTATED, SECRET


def test_defaults(env: dict[str, str], pem: str) -> None:
    del env["MUSL_CHECK_STORE"]
    s = Settings.from_env(env)
    assert s.app_id == "12345"
    assert s.private_key.strip() == pem.strip()
    assert s.webhook_secrets == (SECRET, ROTATED)
    assert s.api_url == "https://api.github.com"
    assert s.crates_index_url == "https://index.crates.io/"
    assert s.store_url == "sqlite:///var/musl-check.sqlite3"
    assert (s.port, s.log_level, s.log_format) == (3000, "INFO", "text")
    assert s.max_body_bytes == MAX_BODY_BYTES == 25 * 1024 * 1024


def test_all_variables(env: dict[str, str]) -> None:
    env |= {
        "GITHUB_API_URL": "http://127.0.0.1:8080/api/v3/",
        "CRATES_INDEX_URL": "http://127.0.0.1:9000/index",
        "MUSL_CHECK_STORE": "redis://127.0.0.1:6379/2",
        "PORT": "8080",
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "JSON",
        "GITHUB_WEBHOOK_SECRET": f" {SECRET} , ,{ROTATED},",
    }
    s = Settings.from_env(env)
    assert s.api_url == "http://127.0.0.1:8080/api/v3"
    assert s.crates_index_url == "http://127.0.0.1:9000/index/"
    assert s.store_url == "redis://127.0.0.1:6379/2"
    assert (s.port, s.log_level, s.log_format) == (8080, "DEBUG", "json")
    assert s.webhook_secrets == (SECRET, ROTATED)


def test_escaped_one_line_key(env: dict[str, str], pem: str) -> None:
    env["GITHUB_PRIVATE_KEY"] = pem.strip().replace("\n", "\\n")
    assert Settings.from_env(env).private_key == pem.strip() + "\n"


def test_key_from_path(env: dict[str, str], pem: str, tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text(pem)
    del env["GITHUB_PRIVATE_KEY"]
    env["GITHUB_PRIVATE_KEY_PATH"] = str(key)
    assert Settings.from_env(env).private_key == pem.strip() + "\n"


def test_every_problem_in_one_message() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"PORT": "eighty", "LOG_LEVEL": "loud", "LOG_FORMAT": "xml"})
    msg = str(info.value)
    for part in (
        "GITHUB_APP_ID is not set",
        "GITHUB_PRIVATE_KEY (or GITHUB_PRIVATE_KEY_PATH) is not set",
        "GITHUB_WEBHOOK_SECRET is not set",
        "PORT must be an integer from 1 to 65535 (got 'eighty')",
        "LOG_LEVEL must be one of",
        "LOG_FORMAT must be text or json",
    ):
        assert part in msg


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"GITHUB_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nnope\n"},
            "GITHUB_PRIVATE_KEY is not a valid",
        ),
        ({"GITHUB_PRIVATE_KEY": "é" * 10}, "GITHUB_PRIVATE_KEY is not a valid"),
        ({"GITHUB_PRIVATE_KEY": "A" * 70_000}, "GITHUB_PRIVATE_KEY is not a valid"),
        ({"GITHUB_PRIVATE_KEY_PATH": "/x.pem"}, "set only one of"),
        ({"GITHUB_APP_ID": "12 34"}, "GITHUB_APP_ID must be"),
        ({"PORT": "70000"}, "PORT must be an integer"),
        ({"PORT": "0"}, "PORT must be an integer"),
        (
            {"GITHUB_API_URL": "ftp://user:hunter2@x"},
            "GITHUB_API_URL must be an http(s) URL",
        ),
        ({"CRATES_INDEX_URL": "index.crates.io"}, "CRATES_INDEX_URL must be"),
        ({"MUSL_CHECK_STORE": "postgres://u:pw@db/x"}, "got 'postgres'"),
        ({"GITHUB_WEBHOOK_SECRET": " , "}, "GITHUB_WEBHOOK_SECRET is not set"),
    ],
)
def test_invalid_values(
    env: dict[str, str], change: dict[str, str], message: str
) -> None:
    env |= change
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    text = str(info.value)
    assert message in text
    assert "hunter2" not in text
    assert "pw@" not in text
    assert "nope" not in text


def test_unreadable_key_path(env: dict[str, str], tmp_path: Path) -> None:
    del env["GITHUB_PRIVATE_KEY"]
    env["GITHUB_PRIVATE_KEY_PATH"] = str(tmp_path / "missing.pem")
    with pytest.raises(SettingsError, match=r"GITHUB_PRIVATE_KEY_PATH cannot be read"):
        Settings.from_env(env)
    binary = tmp_path / "bin.pem"
    binary.write_bytes(b"\xff\xfe\x00")
    env["GITHUB_PRIVATE_KEY_PATH"] = str(binary)
    with pytest.raises(SettingsError, match=r"cannot be read \(not PEM text\)"):
        Settings.from_env(env)


def test_secrets_not_in_repr(settings: Settings, pem: str) -> None:
    for text in (repr(settings), str(settings)):
        assert "BEGIN" not in text
        assert pem.splitlines()[1] not in text
        assert SECRET not in text
        assert ROTATED not in text
        assert "12345" in text
    redis = Settings("1", "k", ("s",), store_url="redis://:pw@host/0")
    assert "pw" not in repr(redis)


def test_needs_setup() -> None:
    assert needs_setup({})
    assert needs_setup({"PORT": "8080", "GITHUB_APP_ID": "  "})
    assert not needs_setup({"GITHUB_WEBHOOK_SECRET": "x"})
    assert not needs_setup({"GITHUB_PRIVATE_KEY_PATH": "/k.pem"})


def test_partial_config_stops_with_message() -> None:
    env = {"GITHUB_APP_ID": "1"}
    assert not needs_setup(env)
    with pytest.raises(SettingsError, match="GITHUB_WEBHOOK_SECRET is not set"):
        Settings.from_env(env)


def test_parse_env_file() -> None:
    text = (
        "# comment\n\nexport A=1\nB = 'two words'\nC=\"x=y\"\nnot a line\n"
        "D=\n  E=spaced  \nF='\n"
    )
    assert parse_env_file(text) == {
        "A": "1",
        "B": "two words",
        "C": "x=y",
        "D": "",
        "E": "spaced",
        "F": "'",
    }


def test_read_env_prefers_real_environment(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("PORT=1111\nLOG_LEVEL=DEBUG\n")
    assert read_env({"PORT": "2222"}, path) == {"PORT": "2222", "LOG_LEVEL": "DEBUG"}
    assert read_env({"X": "1"}, tmp_path / "absent") == {"X": "1"}
    path.write_bytes(b"\xff\xfe")
    assert read_env({}, path) == {}


def test_sign_in_settings_optional_and_secret(env: dict[str, str]) -> None:
    s = Settings.from_env(env)
    assert (s.client_id, s.client_secret, s.session_secret) == ("", "", "")
    session_secret = "s" * 43
    s = Settings.from_env(
        env
        | {
            "GITHUB_CLIENT_ID": "Iv23liABC",
            "GITHUB_CLIENT_SECRET": "client-secret-value",
            "MUSL_CHECK_SESSION_SECRET": session_secret,
        }
    )
    assert s.client_id == "Iv23liABC"
    assert s.client_secret == "client-secret-value"
    assert s.session_secret == session_secret
    assert "client-secret-value" not in repr(s)
    assert session_secret not in repr(s)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"GITHUB_CLIENT_ID": "Iv23liABC"}, "set both GITHUB_CLIENT_ID"),
        ({"GITHUB_CLIENT_SECRET": "x"}, "set both GITHUB_CLIENT_ID"),
        ({"MUSL_CHECK_SESSION_SECRET": "short"}, "at least 32 characters"),
    ],
)
def test_sign_in_settings_checked(
    env: dict[str, str], extra: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message) as info:
        Settings.from_env(env | extra)
    assert "short" not in str(info.value).replace("shorter", "")
