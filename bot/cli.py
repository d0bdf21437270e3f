"""Command line: `musl-check scan [PATH]`, `serve` and `worker`."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from bot import __version__
from bot.core.analysis import MAX_LOCKFILE_BYTES, analyse
from bot.core.config import Config, parse_config
from bot.core.findings import Report, Severity, Verdict
from bot.core.fixes import INDEX_UNAVAILABLE
from bot.core.render import render_json, render_markdown, render_sarif, render_text
from bot.core.scope import CONFIG_PATH, SKIP_DIRS, wanted
from bot.settings import DEFAULT_CRATES_INDEX_URL, DEFAULT_PORT

EXIT_OK: Final = 0
EXIT_FOUND: Final = 1
EXIT_USAGE: Final = 2
_FAIL_LEVELS: Final = {
    "failure": {Severity.FAILURE},
    "warning": {Severity.FAILURE, Severity.WARNING},
    "never": set[Severity](),
}
# Read at most this much of one file: enough to tell the analysis it is too big.
_READ_LIMIT: Final = MAX_LOCKFILE_BYTES + 1
_MAX_FILES: Final = 5000
OFFLINE_REASON: Final = "not asked: --offline"
_COMMAND_ONLY: Final = "the fix is the `cargo update` command, not an exact edit"
# Consumers per `serve` or `worker` process (bot/server/state.py says why 8).
MAX_CONSUMERS_DEFAULT: Final = 8


class InputError(Exception):
    """A problem with what the user asked for, reported in one line."""


def collect_files(root: Path) -> dict[str, bytes]:
    """Return the files under `root` that the analysis reads, by relative path."""
    if not root.exists():
        raise InputError(f"{root}: no such file or directory")
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        base = Path(dirpath)
        for name in sorted(filenames):
            full = base / name
            rel = full.relative_to(root).as_posix()
            if not wanted(rel) or full.is_symlink() or not full.is_file():
                continue
            with full.open("rb") as handle:
                files[rel] = handle.read(_READ_LIMIT)
            if len(files) >= _MAX_FILES:
                return files
    return files


def _load_config(files: dict[str, bytes]) -> Config:
    data = files.get(CONFIG_PATH)
    if data is None:
        return Config()
    config, errors = parse_config(data.decode("utf-8", errors="replace"))
    for error in errors:
        print(f"musl-check: {CONFIG_PATH}: {error}", file=sys.stderr)
    return config


def scan(
    path: str,
    fmt: str,
    fail_on: str,
    *,
    offline: bool = False,
    index_url: str = DEFAULT_CRATES_INDEX_URL,
) -> int:
    """Analyse the checkout at `path`, print the report, return the exit code."""
    files = collect_files(Path(path))
    config = _load_config(files)
    report = analyse(files, config)
    if _wants_index(report):
        if offline:
            report = _reworded(report, OFFLINE_REASON)
            _note(f"--offline: the crates.io index was not asked; {_COMMAND_ONLY}")
        else:
            # Asked only when an exact Cargo.lock edit depends on it, as the
            # App does (bot/github/runner.py): the newest compatible,
            # non-yanked libc and its checksum. Imported here: only such a
            # scan pays for loading the HTTP client (aiohttp).
            from bot.crates import read_libc

            entries, why = read_libc(index_url)
            if entries is None:
                _note(f"the crates.io index could not be read ({why}); {_COMMAND_ONLY}")
            report = analyse(files, config, entries)
    sys.stdout.write(_render(report, fmt))
    failing = _FAIL_LEVELS[fail_on]
    code = EXIT_FOUND if any(f.severity in failing for f in report.findings) else 0
    if code == EXIT_OK and fail_on != "never" and report.verdict is Verdict.AT_RISK:
        # The headline says "at risk": say why the exit status does not.
        _note(
            f"exit status 0: at risk, but no finding reaches --fail-on {fail_on}"
            + (
                " (--fail-on warning fails on the warnings)"
                if fail_on == "failure"
                else ""
            )
        )
    return code


def _wants_index(report: Report) -> bool:
    return any(plan.reason == INDEX_UNAVAILABLE for plan in report.fixes)


def _reworded(report: Report, reason: str) -> Report:
    fixes = tuple(
        dataclasses.replace(plan, reason=reason)
        if plan.reason == INDEX_UNAVAILABLE
        else plan
        for plan in report.fixes
    )
    return dataclasses.replace(report, fixes=fixes)


def _note(text: str) -> None:
    print(f"musl-check: {text}", file=sys.stderr)


def _render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "markdown":
        # No pull-request commands: this report goes to a terminal or a file.
        return render_markdown(report, commands=False)
    if fmt == "sarif":
        return render_sarif(report, version=__version__)
    return render_text(
        report, color=sys.stdout.isatty() and "NO_COLOR" not in os.environ
    )


_SCAN_EPILOG: Final = f"""\
exit status:
  {EXIT_OK}  nothing reaches the --fail-on level
  {EXIT_FOUND}  a finding reaches the --fail-on level
  {EXIT_USAGE}  usage or input error (one line on stderr)

environment:
  CRATES_INDEX_URL  sparse index asked for libc releases
                    (default: {DEFAULT_CRATES_INDEX_URL})
"""


_SERVER_EPILOG: Final = """\
exit status:
  0  stopped by a signal (SIGINT, SIGTERM) after finishing in-flight work
  1  cannot start: port in use, store or GitHub unusable (one line on stderr)
  2  a setting is missing or invalid (one line on stderr)
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="musl-check",
        description="Will this Rust project's musl build break on musl 1.2.5?",
    )
    parser.add_argument(
        "-V",
        "--version",
        action="version",
        version=f"%(prog)s {__version__}",
        help="print the version and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scan_p = sub.add_parser(
        "scan",
        help="analyse a local checkout",
        description="Analyse a local checkout and print the report.",
        epilog=_SCAN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan_p.add_argument(
        "path",
        nargs="?",
        default=".",
        help="the checkout's root directory (default: the current directory)",
    )
    scan_p.add_argument(
        "--format",
        choices=("text", "json", "markdown", "sarif"),
        default="text",
        help="output format; json follows bot/schema/scan.json, sarif suits "
        "GitHub code scanning (default: text)",
    )
    scan_p.add_argument(
        "--fail-on",
        choices=("failure", "warning", "never"),
        default="failure",
        help="lowest finding severity that makes the exit status 1 (default: failure)",
    )
    scan_p.add_argument(
        "--offline",
        action="store_true",
        help="do not ask the crates.io index for the newest libc; the fix is then "
        "the cargo update command only (default: ask when a fix needs it)",
    )
    serve_p = sub.add_parser(
        "serve",
        help="run the GitHub App",
        description="Run the GitHub App; without credentials, the first-run "
        "setup page that registers it.",
        epilog=_SERVER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _server_options(serve_p)
    serve_p.add_argument(
        "--ingress-only",
        action="store_true",
        help="verify and record webhooks only; `musl-check worker` processes "
        "them (default: off, this process does both)",
    )
    worker_p = sub.add_parser(
        "worker",
        help="process the deliveries web instances record (shared store)",
        description="Process the deliveries that `serve --ingress-only` "
        "instances record in the shared store; it serves /healthz, /metrics "
        "and / on --port.",
        epilog=_SERVER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _server_options(worker_p)
    report_p = sub.add_parser(
        "report",
        help="print an installation's repository table from the store",
    )
    report_p.add_argument("--installation", type=int, required=True, metavar="ID")
    report_p.add_argument("--format", choices=("text", "csv", "json"), default="text")
    return parser


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="0.0.0.0",  # noqa: S104 - a server, reached by GitHub
        help="address to listen on (default: 0.0.0.0, every interface)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port to listen on (default: $PORT, else {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--consumers",
        type=int,
        default=MAX_CONSUMERS_DEFAULT,
        help="deliveries processed at once in this process"
        f" (default: {MAX_CONSUMERS_DEFAULT})",
    )


def report(installation_id: int, fmt: str) -> int:
    """Print the organisation table the store holds for the installation."""
    # Loaded here, as `serve` loads the server: `scan` needs no store.
    import asyncio

    from bot import orgview
    from bot.settings import DEFAULT_STORE_URL, DEFAULT_WEB_URL, read_env
    from bot.store import StoreError, open_store

    env = read_env(os.environ)
    url = env.get("MUSL_CHECK_STORE") or DEFAULT_STORE_URL
    sqlite_path = url.removeprefix("sqlite:///")
    if sqlite_path != url and not Path(sqlite_path).is_file():
        # Opening would create an empty store: say there is none instead.
        raise InputError(f"no store at {sqlite_path} (MUSL_CHECK_STORE)")
    try:
        store = open_store(url)
    except StoreError as err:
        raise InputError(f"MUSL_CHECK_STORE: {err}") from err
    web_url = (env.get("GITHUB_WEB_URL") or DEFAULT_WEB_URL).rstrip("/")

    async def read() -> str:
        try:
            table = await orgview.load_table(store, installation_id)
        finally:
            await store.close()
        render = {"csv": orgview.render_csv, "json": orgview.render_json}.get(
            fmt, orgview.render_text
        )
        return render(table, web_url)

    sys.stdout.write(asyncio.run(read()))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    args = _parser().parse_args(argv)
    if args.command in ("serve", "worker"):
        from bot.server import Role, serve  # the scanner needs no aiohttp

        if args.command == "worker":
            role = Role.WORKER
        else:
            role = Role.WEB if args.ingress_only else Role.ALL
        return serve(args.host, args.port, role, consumers=max(1, args.consumers))
    try:
        if args.command == "report":
            return report(args.installation, args.format)
        return scan(
            args.path,
            args.format,
            args.fail_on,
            offline=args.offline,
            index_url=os.environ.get("CRATES_INDEX_URL", "").strip()
            or DEFAULT_CRATES_INDEX_URL,
        )
    except InputError as err:
        print(f"musl-check: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        print(
            f"musl-check: error: {err.filename or args.path}: {err.strerror}",
            file=sys.stderr,
        )
        return EXIT_USAGE
