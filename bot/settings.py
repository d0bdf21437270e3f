"""Settings for the App, read once from the environment (and `.env`) at start-up."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.serialization import load_pem_private_key

DEFAULT_API_URL: Final = "https://api.github.com"
# The web side (OAuth authorize and access-token endpoints, check-run pages).
DEFAULT_WEB_URL: Final = "https://github.com"
DEFAULT_CRATES_INDEX_URL: Final = "https://index.crates.io/"
DEFAULT_STORE_URL: Final = "sqlite:///var/musl-check.sqlite3"
DEFAULT_PORT: Final = 3000
DEFAULT_RESCAN_HOURS: Final = 24.0
# GitHub does not deliver payloads over 25 MB, so nothing bigger is genuine.
MAX_BODY_BYTES: Final = 25 * 1024 * 1024
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS: Final = ("text", "json")
STORE_SCHEMES: Final = ("sqlite:///", "redis://", "rediss://")
# Any of these set means the operator has started configuring the App by hand.
CREDENTIAL_VARS: Final = (
    "GITHUB_APP_ID",
    "GITHUB_PRIVATE_KEY",
    "GITHUB_PRIVATE_KEY_PATH",
    "GITHUB_WEBHOOK_SECRET",
)
MAX_KEY_FILE_BYTES: Final = 64 * 1024
# A session-cookie signing key shorter than this is refused (the setup page
# generates 43 characters: 32 random bytes, URL-safe base64).
MIN_SESSION_SECRET_CHARS: Final = 32
_ENV_LINE: Final = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_APP_ID: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class SettingsError(ValueError):
    """Raised with one message naming every missing or invalid setting."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the App needs to run; secrets are kept out of repr()."""

    app_id: str
    private_key: str = field(repr=False)
    webhook_secrets: tuple[str, ...] = field(repr=False)
    api_url: str = DEFAULT_API_URL
    crates_index_url: str = DEFAULT_CRATES_INDEX_URL
    store_url: str = field(default=DEFAULT_STORE_URL, repr=False)  # may hold a password
    port: int = DEFAULT_PORT
    log_level: str = "INFO"
    log_format: str = "text"
    max_body_bytes: int = MAX_BODY_BYTES
    # Hours between rescans of every repository's default branch; 0 = never.
    rescan_hours: float = DEFAULT_RESCAN_HOURS
    web_url: str = DEFAULT_WEB_URL
    # The App's user authorization (dashboard sign-in); "" when not configured.
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    session_secret: str = field(default="", repr=False)
    public_url: str = ""  # the address users and GitHub reach; "" = as asked

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from `env`, or raise SettingsError naming every problem."""
        errors: list[str] = []
        app_id = _get(env, "GITHUB_APP_ID")
        if app_id is None:
            errors.append("GITHUB_APP_ID is not set")
        elif not _APP_ID.match(app_id):
            errors.append("GITHUB_APP_ID must be the App's numeric id or client id")
        private_key = _private_key(env, errors)
        secrets = tuple(
            s.strip() for s in env.get("GITHUB_WEBHOOK_SECRET", "").split(",")
        )
        secrets = tuple(s for s in secrets if s)
        if not secrets:
            errors.append("GITHUB_WEBHOOK_SECRET is not set")
        api_url = _url(env, "GITHUB_API_URL", DEFAULT_API_URL, errors).rstrip("/")
        index_url = _url(env, "CRATES_INDEX_URL", DEFAULT_CRATES_INDEX_URL, errors)
        if not index_url.endswith("/"):
            index_url += "/"
        store_url = _get(env, "MUSL_CHECK_STORE") or DEFAULT_STORE_URL
        if not store_url.startswith(STORE_SCHEMES):
            errors.append(
                "MUSL_CHECK_STORE must start with sqlite:/// or redis:// "
                f"(got {_scheme(store_url)!r})"
            )
        web_url = _url(env, "GITHUB_WEB_URL", DEFAULT_WEB_URL, errors).rstrip("/")
        port = _port(env, errors)
        rescan_hours = _rescan_hours(env, errors)
        log_level = (_get(env, "LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            errors.append(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        log_format = (_get(env, "LOG_FORMAT") or "text").lower()
        if log_format not in LOG_FORMATS:
            errors.append("LOG_FORMAT must be text or json")
        client_id = _get(env, "GITHUB_CLIENT_ID")
        client_secret = _get(env, "GITHUB_CLIENT_SECRET")
        if (client_id is None) != (client_secret is None):
            errors.append(
                "set both GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET, or neither"
            )
        session_secret = _get(env, "MUSL_CHECK_SESSION_SECRET")
        if (
            session_secret is not None
            and len(session_secret) < MIN_SESSION_SECRET_CHARS
        ):
            errors.append(
                "MUSL_CHECK_SESSION_SECRET must be at least "
                f"{MIN_SESSION_SECRET_CHARS} characters"
            )
        if errors or app_id is None:
            raise SettingsError("musl-check cannot start: " + "; ".join(errors))
        return cls(
            app_id=app_id,
            private_key=private_key,
            webhook_secrets=secrets,
            api_url=api_url,
            crates_index_url=index_url,
            store_url=store_url,
            port=port,
            log_level=log_level,
            log_format=log_format,
            rescan_hours=rescan_hours,
            web_url=web_url,
            client_id=client_id or "",
            client_secret=client_secret or "",
            session_secret=session_secret or "",
            public_url=(_get(env, "PUBLIC_URL") or "").rstrip("/"),
        )


def needs_setup(env: Mapping[str, str]) -> bool:
    """Return True when no App credential is set: serve the first-run setup page."""
    return all(_get(env, name) is None for name in CREDENTIAL_VARS)


def parse_env_file(text: str) -> dict[str, str]:
    """Parse simple KEY=VALUE lines (comments, blank lines, `export`, quotes)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            continue
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def read_env(environ: Mapping[str, str], path: Path = Path(".env")) -> dict[str, str]:
    """Return `environ` over the values of the `.env` file at `path`, if any."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
        text = ""
    return {**parse_env_file(text), **environ}


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _private_key(env: Mapping[str, str], errors: list[str]) -> str:
    inline = _get(env, "GITHUB_PRIVATE_KEY")
    path = _get(env, "GITHUB_PRIVATE_KEY_PATH")
    if inline is not None and path is not None:
        errors.append("set only one of GITHUB_PRIVATE_KEY and GITHUB_PRIVATE_KEY_PATH")
        return ""
    if inline is not None:
        name = "GITHUB_PRIVATE_KEY"
        # `.env` files and PaaS dashboards keep one line: accept `\n` escapes.
        pem = inline if "\n" in inline else inline.replace("\\n", "\n")
    elif path is not None:
        name = "GITHUB_PRIVATE_KEY_PATH"
        try:
            with Path(path).open("rb") as f:
                data = f.read(MAX_KEY_FILE_BYTES + 1)
            pem = data.decode("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not PEM text"
            errors.append(f"GITHUB_PRIVATE_KEY_PATH cannot be read ({reason})")
            return ""
    else:
        errors.append("GITHUB_PRIVATE_KEY (or GITHUB_PRIVATE_KEY_PATH) is not set")
        return ""
    pem = pem.strip() + "\n"
    try:
        if len(pem) > MAX_KEY_FILE_BYTES:
            raise ValueError("too long")
        load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        # Never echo the value: it is (meant to be) a private key.
        errors.append(f"{name} is not a valid unencrypted PEM private key")
        return ""
    return pem


def _url(env: Mapping[str, str], name: str, default: str, errors: list[str]) -> str:
    value = _get(env, name) or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        # The value is not echoed: a URL may carry credentials.
        errors.append(f"{name} must be an http(s) URL")
    return value


def _scheme(url: str) -> str:
    return url.split(":", 1)[0] if ":" in url else url[:20]


_N = TypeVar("_N", int, float)


def _number(
    env: Mapping[str, str],
    errors: list[str],
    name: str,
    parse: Callable[[str], _N],
    bounds: tuple[_N, _N],
    default: _N,
    what: str,
) -> _N:
    """Return variable `name` parsed and within `bounds`, else `default`
    (recording in `errors` that it must be `what`)."""
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        value = None
    if value is None or not bounds[0] <= value <= bounds[1]:  # also nan, inf
        errors.append(f"{name} must be {what} (got {raw!r})")
        return default
    return value


def _rescan_hours(env: Mapping[str, str], errors: list[str]) -> float:
    return _number(
        env,
        errors,
        "MUSL_CHECK_RESCAN_HOURS",
        float,
        (0.0, 24.0 * 366),
        DEFAULT_RESCAN_HOURS,
        "a number of hours from 0 (off) to 8784",
    )


def _port(env: Mapping[str, str], errors: list[str]) -> int:
    return _number(
        env, errors, "PORT", int, (1, 65535), DEFAULT_PORT, "an integer from 1 to 65535"
    )
