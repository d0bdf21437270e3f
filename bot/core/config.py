"""The repository config file `.github/musl-check.yml`.

The file is optional. An organisation may put a default in its `.github`
repository (same path); a repository's own file overrides it key by key. Every
key is optional; a missing key keeps the organisation's value, else the default.

```yaml
# .github/musl-check.yml
enabled: true                 # false: musl-check skips this repository
failure_conclusion: failure   # or "neutral": report failures without blocking
ignore_paths:                 # files (globs) never read for musl builds
  - "examples/**"
  - docker/legacy/            # a trailing slash ignores a whole folder
ignore_targets:               # musl targets (triples or globs) to disregard
  - i686-unknown-linux-musl
  - "mips*-unknown-linux-musl*"
suggestions: true             # suggested changes inside pull-request diffs
summary_comment: true         # one summary comment per pull request
fix_pull_requests: false      # open a fix pull request after default-branch pushes
latent_notices: true          # notices for old libc when nothing builds for musl
```

Path patterns are matched against repository-relative paths with shell-style
globs (`*` and `**` also match `/`, `?` one character, `[abc]` a set); a pattern
without wildcards matches that file or everything under that folder. Target
patterns are matched against triples in the same way, ignoring case. A list
key given in the repository file replaces the organisation's list.

Mistakes never stop a check: unknown keys, wrong types and malformed YAML are
reported as errors (with the line they are on) and the affected keys keep
their defaults.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Final

import yaml

CONFIG_PATH: Final = ".github/musl-check.yml"
MAX_CONFIG_BYTES: Final = 64 * 1024
MAX_DEPTH: Final = 8
MAX_PATTERNS: Final = 200
MAX_PATTERN_CHARS: Final = 256


@dataclass(frozen=True, slots=True)
class ConfigError:
    """One mistake in a config file; `line` is 1-based (1 for the whole file)."""

    line: int
    message: str


class FailureConclusion(StrEnum):
    """The check-run conclusion used when a finding is a failure."""

    FAILURE = "failure"
    NEUTRAL = "neutral"


@dataclass(frozen=True, slots=True)
class Config:
    """Settings for one repository; `explicit` names the keys its file set."""

    enabled: bool = True
    failure_conclusion: FailureConclusion = FailureConclusion.FAILURE
    ignore_paths: tuple[str, ...] = ()
    ignore_targets: tuple[str, ...] = ()
    suggestions: bool = True
    summary_comment: bool = True
    fix_pull_requests: bool = False
    latent_notices: bool = True
    explicit: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def ignores_path(self, path: str) -> bool:
        """Return whether `path` (repository-relative) matches an ignore pattern."""
        path = _normal_path(path)
        return any(_path_matches(path, pattern) for pattern in self.ignore_paths)

    def ignores_target(self, triple: str) -> bool:
        """Return whether the musl target `triple` matches an ignore pattern."""
        triple = triple.strip().lower()
        return any(
            fnmatch.fnmatchcase(triple, pattern.lower())
            for pattern in self.ignore_targets
        )


_KEYS: Final = tuple(f.name for f in fields(Config) if f.name != "explicit")
_BOOL_KEYS: Final = frozenset(
    {"enabled", "suggestions", "summary_comment", "fix_pull_requests", "latent_notices"}
)
_LIST_KEYS: Final = frozenset({"ignore_paths", "ignore_targets"})


def _normal_path(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _path_matches(path: str, pattern: str) -> bool:
    if pattern.endswith("/"):
        return path.startswith(pattern)
    if not any(c in pattern for c in "*?["):
        return path == pattern or path.startswith(pattern + "/")
    if fnmatch.fnmatchcase(path, pattern):
        return True
    # `**/Dockerfile` also names a Dockerfile at the top level.
    return pattern.startswith("**/") and fnmatch.fnmatchcase(path, pattern[3:])


def _type_name(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _check_events(text: str) -> str | None:
    """Return why `text` is refused (aliases, deep nesting), or None."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.AliasEvent):
            return "YAML aliases (*name) are not allowed"
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return f"nesting deeper than {MAX_DEPTH} levels is not allowed"
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def _whole(message: str) -> tuple[None, dict[str, int], list[ConfigError]]:
    return None, {}, [ConfigError(1, message)]


def _key_lines(text: str) -> dict[str, int]:
    """Return the 1-based line of each top-level key of the YAML mapping."""
    node = yaml.compose(text, Loader=yaml.CSafeLoader)
    pairs = node.value if isinstance(node, yaml.MappingNode) else []
    return {str(key.value): key.start_mark.line + 1 for key, _value in pairs}


def _load(text: str | bytes) -> tuple[object, dict[str, int], list[ConfigError]]:
    """Return the YAML document in `text` with its key lines, or None and why."""
    if isinstance(text, bytes):
        if len(text) > MAX_CONFIG_BYTES:
            return _whole(f"file is larger than {MAX_CONFIG_BYTES} bytes; ignored")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _whole(f"file is not UTF-8 (byte {exc.start}); ignored")
    if len(text) > MAX_CONFIG_BYTES:
        return _whole(f"file is larger than {MAX_CONFIG_BYTES} bytes; ignored")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return _whole(f"file holds an invalid character at {exc.start}; ignored")
    try:
        refused = _check_events(text)
        if refused is not None:
            return _whole(refused + "; file ignored")
        data = yaml.load(text, Loader=yaml.CSafeLoader)
        return data, _key_lines(text) if isinstance(data, dict) else {}, []
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = " ".join(str(exc.problem).split())
        line = mark.line + 1 if mark else 1
        return (
            None,
            {},
            [ConfigError(line, f"malformed YAML at {where}{problem}; file ignored")],
        )
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        return _whole(f"malformed YAML ({reason}); file ignored")
    except ValueError as exc:  # e.g. an integer past Python's digit limit
        return _whole(f"unreadable value ({' '.join(str(exc).split())}); file ignored")


def _patterns(key: str, value: object, errors: list[str]) -> tuple[str, ...] | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        errors.append(f"{key}: expected a list of patterns, got {_type_name(value)}")
        return None
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            errors.append(f"{key}: {item!r} is not a pattern; skipped")
        elif len(item) > MAX_PATTERN_CHARS:
            errors.append(
                f"{key}: a pattern is longer than {MAX_PATTERN_CHARS}; skipped"
            )
        else:
            out.append(item.strip())
    if len(out) > MAX_PATTERNS:
        errors.append(f"{key}: only the first {MAX_PATTERNS} patterns are used")
    return tuple(out[:MAX_PATTERNS])


def parse_config(text: str | bytes) -> tuple[Config, list[str]]:
    """Return the config in `text` (defaults where unset or wrong) and its errors."""
    config, errors = check_config(text)
    return config, [e.message for e in errors]


def check_config(text: str | bytes) -> tuple[Config, list[ConfigError]]:
    """Return the config in `text` and its errors, each on its line."""
    data, lines, problems = _load(text)
    if data is None:
        return Config(), problems
    if not isinstance(data, dict):
        message = f"expected a mapping of settings, got {_type_name(data)}"
        return Config(), [ConfigError(1, message)]
    values: dict[str, object] = {}
    for key, value in data.items():
        errors: list[str] = []
        if not isinstance(key, str) or key not in _KEYS:
            close = difflib.get_close_matches(str(key).replace("-", "_"), _KEYS, 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(f"unknown key {str(key)[:80]!r}{hint}")
        elif key in _BOOL_KEYS:
            if isinstance(value, bool):
                values[key] = value
            else:
                errors.append(f"{key}: expected true or false, got {_type_name(value)}")
        elif key in _LIST_KEYS:
            patterns = _patterns(key, value, errors)
            if patterns is not None:
                values[key] = patterns
        else:  # failure_conclusion
            text_value = value.strip().lower() if isinstance(value, str) else None
            if text_value in ("failure", "neutral"):
                values[key] = FailureConclusion(text_value)
            else:
                errors.append(f"{key}: expected failure or neutral, got {value!r:.80}")
        line = lines.get(str(key), 1)
        problems.extend(ConfigError(line, message) for message in errors)
    config = replace(Config(), **values)  # type: ignore[arg-type]  # checked above
    return replace(config, explicit=frozenset(values)), problems


def merge_config(org: Config | None, repo: Config | None) -> Config:
    """Return `org` with every key `repo` set explicitly replaced by repo's value."""
    base = org or Config()
    if repo is None:
        return base
    values = {key: getattr(repo, key) for key in repo.explicit}
    return replace(base, **values, explicit=base.explicit | repo.explicit)
