"""The whole analysis of one repository snapshot: files in, a Report out."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from bot.core.config import Config
from bot.core.findings import Evidence, Report, decide, nearest_lockfile
from bot.core.fixes import FixPlan, IndexEntry, plan_fix
from bot.core.lockfile import Lockfile, parse_lockfile
from bot.core.scope import ROOT_LOCKFILE, is_lockfile, scanner_for
from bot.core.sources import Hint, HintKind, MuslUse, Problem, SourceResult
from bot.core.sources.docker import scan as scan_docker
from bot.core.sources.docker import scan_with_args as scan_docker_with_args
from bot.core.versions import Version, parse_rust_version

# Real Cargo.lock files reach a few MB; configuration files a few hundred KB.
MAX_LOCKFILE_BYTES: Final = 32 * 1024 * 1024
MAX_CONFIG_BYTES: Final = 2 * 1024 * 1024
_BINARY_PROBE: Final = 8192
# The locked packages the rules read: libc, the crates that call LFS64 symbols
# through it (findings._TRIGGERS) and rustix. Only these are built.
LOCKFILE_NAMES: Final = frozenset({"libc", "getrandom", "tempfile", "rustix"})


def _decode(path: str, data: bytes, limit: int) -> tuple[str | None, Problem | None]:
    """Return the file's text, or why it cannot be read."""
    if len(data) > limit:
        return None, Problem(
            path,
            1,
            f"{path} is {len(data)} bytes, over the {limit}-byte limit; skipped",
        )
    if data.find(b"\0", 0, _BINARY_PROBE) >= 0:
        return None, Problem(path, 1, f"{path} is a binary file; skipped")
    problem = None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        # Still read whole (with replacement characters): not a reason to doubt.
        problem = Problem(
            path, line, f"{path} is not valid UTF-8 (line {line})", unread=False
        )
        text = data.decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff"), problem


# `docker build --build-arg NAME=value` and the `build-args:` input of
# docker/build-push-action (https://github.com/docker/build-push-action#inputs).
_BUILD_ARG_RE: Final = re.compile(
    r"--build-arg(?:=|[ \t]+)[\"']?([A-Za-z_]\w*)=([^\s\"'\\;]+)"
)
_BUILD_ARGS_KEY_RE: Final = re.compile(r"^([ \t-]*)build[-_]args[ \t]*:(.*)$", re.M)
_PAIR_RE: Final = re.compile(r"(?<![\w-])([A-Za-z_]\w*)=([^\s\"',]+)")


def build_args(files: Mapping[str, bytes]) -> dict[str, tuple[str, ...]]:
    """Return the `--build-arg` values the repository's files pass, by name."""
    found: dict[str, list[str]] = {}
    for path, data in files.items():
        if (
            is_lockfile(path)  # the big files: no search through them
            or len(data) > MAX_CONFIG_BYTES
            or b"build-arg" not in data
        ):
            continue
        text = data.decode("utf-8", errors="replace")
        pairs = _BUILD_ARG_RE.findall(text)
        for match in _BUILD_ARGS_KEY_RE.finditer(text):
            pairs += _PAIR_RE.findall(match[2])
            # The block below the key: the lines indented deeper than it, read
            # one at a time (splitting the rest of the text at every key would
            # be quadratic in a file packed with keys).
            pos = match.end() + 1
            while pos < len(text):
                end = text.find("\n", pos)
                end = len(text) if end < 0 else end
                line = text[pos:end]
                pos = end + 1
                if line.strip() and len(line) - len(line.lstrip()) <= len(match[1]):
                    break
                pairs += _PAIR_RE.findall(line)
        for name, value in pairs:
            if "${{" not in value and value not in found.setdefault(name, []):
                found[name].append(value)
    return {name: tuple(values) for name, values in found.items()}


def scan_config_file(
    path: str, data: bytes, ci_args: Mapping[str, tuple[str, ...]] | None = None
) -> SourceResult:
    """Return what the scanner for `path` finds in `data` (empty if none applies).

    `ci_args` are the build-arg values CI passes (`build_args`), for Dockerfiles.
    """
    scanner = scanner_for(path)
    if scanner is None:
        return SourceResult()
    text, problem = _decode(path, data, MAX_CONFIG_BYTES)
    if text is None:
        found = SourceResult()
    elif ci_args and scanner is scan_docker:
        found = scan_docker_with_args(path, text, ci_args)
    else:
        found = scanner(path, text)
    if problem is None:
        return found
    return SourceResult(found.uses, found.hints, (problem, *found.problems))


def lockfiles_needed(
    files: Mapping[str, bytes], lockfiles: Iterable[str]
) -> frozenset[str]:
    """Return the nested lockfiles among `lockfiles` that a musl use builds with.

    `files` holds the configuration files (lockfiles in it are skipped); a
    snapshot reads only these nested lockfiles (fuzz and bench workspaces
    that no musl build enters cost no request).
    """
    paths = frozenset(lockfiles)
    ci_args = build_args(files)
    needed: set[str] = set()
    for path in sorted(files):
        if is_lockfile(path):
            continue
        for use in scan_config_file(path, files[path], ci_args).uses:
            lock = nearest_lockfile(use.project, paths)
            if lock is not None and lock != ROOT_LOCKFILE:
                needed.add(lock)
    return frozenset(needed)


def read_lockfile(
    path: str, data: bytes, names: frozenset[str] | None = None
) -> tuple[Lockfile | None, str, Problem | None]:
    """Return the parsed lockfile at `path`, its text, and why it cannot be read.

    The text is "" when the file is not read at all; `names` is passed on to
    `parse_lockfile`.
    """
    text, problem = _decode(path, data, MAX_LOCKFILE_BYTES)
    if text is None:
        return None, "", problem
    lock = parse_lockfile(text, path, names)
    if lock.error is not None:
        problem = Problem(path, lock.error.line, f"{path}: {lock.error.message}")
    else:
        problem = _cut_short(lock) or problem
    return lock, text, problem


def _cut_short(lock: Lockfile) -> Problem | None:
    """Return why a lockfile that parses is still incomplete, if it is.

    Cargo locks every dependency it lists; a kept package naming a kept
    dependency with no entry of its own means the file was cut at a block
    boundary (a truncated push), which parses but has lost packages.
    """
    kept = lock.names or frozenset()
    present = {pkg.name for pkg in lock.packages}
    for pkg in lock.packages:
        for dependency in pkg.dependencies:
            name = dependency.split(" ", 1)[0]
            if name in kept and name not in present:
                return Problem(
                    lock.path,
                    pkg.start_line,
                    f"{lock.path}: {pkg.name} depends on {name}, which has no "
                    "entry: the file is cut short",
                )
    return None


def _msrv(hints: Sequence[Hint]) -> Version | None:
    """Return the oldest Rust the project declares or pins, if any."""
    found = [
        v
        for h in hints
        if h.kind in (HintKind.MSRV, HintKind.TOOLCHAIN)
        and (h.kind is HintKind.MSRV or h.path.startswith("rust-toolchain"))
        and (v := parse_rust_version(h.value)) is not None
    ]
    return min(found) if found else None


def analyse(
    files: Mapping[str, bytes],
    config: Config | None = None,
    index: Sequence[IndexEntry] | None = None,
) -> Report:
    """Analyse a snapshot (repository path -> file bytes) and return the Report."""
    config = config or Config()
    root: Lockfile | None = None
    root_text = ""
    nested: list[Lockfile] = []
    unread_lockfiles: list[str] = []
    uses: list[MuslUse] = []
    hints: list[Hint] = []
    problems: list[Problem] = []
    ignore_paths = bool(config.ignore_paths)
    ignore_targets = bool(config.ignore_targets)
    ci_args = build_args(files)
    for path in sorted(files):
        if ignore_paths and config.ignores_path(path):
            continue
        data = files[path]
        if is_lockfile(path):
            lock, text, problem = read_lockfile(path, data, LOCKFILE_NAMES)
            if problem is not None:
                problems.append(problem)
                if problem.unread:
                    unread_lockfiles.append(path)
            if lock is None:
                continue
            if path == ROOT_LOCKFILE:
                root = lock
                root_text = text
            else:
                nested.append(lock)
            continue
        found = scan_config_file(path, data, ci_args)
        if found.uses:
            if ignore_targets:
                uses.extend(u for u in found.uses if not _ignored(u, config))
            else:
                uses.extend(found.uses)
        if found.hints:
            hints.extend(found.hints)
        if found.problems:
            problems.extend(found.problems)
    fixes: tuple[FixPlan, ...] = ()
    if root is not None:
        plan = plan_fix(root, root_text, index, _msrv(hints))
        fixes = (plan,) if plan is not None else ()
    return decide(
        Evidence(
            root=root,
            nested=tuple(nested),
            uses=tuple(uses),
            hints=tuple(hints),
            problems=tuple(problems),
            fixes=fixes,
            latent_notices=config.latent_notices,
            unread_lockfiles=tuple(unread_lockfiles),
        )
    )


def _ignored(use: MuslUse, config: Config) -> bool:
    targets = use.resolves_to or (use.target,)
    return all(config.ignores_target(t) for t in targets)
