"""`.github/musl-check.yml`: parsing, errors, layering and ignore patterns."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bot.core.config as config_module
from bot.core.config import (
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    MAX_PATTERNS,
    Config,
    ConfigError,
    FailureConclusion,
    check_config,
    merge_config,
    parse_config,
)
from tests.paths import CORPUS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "config"


def load(name: str) -> tuple[Config, list[str]]:
    return parse_config((FIXTURES / name).read_text())


def test_defaults() -> None:
    config = Config()
    assert config.enabled
    assert config.failure_conclusion is FailureConclusion.FAILURE
    assert config.ignore_paths == ()
    assert config.ignore_targets == ()
    assert config.suggestions
    assert config.summary_comment
    assert not config.fix_pull_requests
    assert config.latent_notices


@pytest.mark.parametrize("text", ["", "# nothing\n", "---\n", "~\n", "null\n"])
def test_empty_file_gives_defaults(text: str) -> None:
    assert parse_config(text) == (Config(), [])
    assert parse_config(text)[0].explicit == frozenset()


def test_comment_only_fixture() -> None:
    assert load("empty.yml") == (Config(), [])


def test_every_key() -> None:
    config, errors = load("full.yml")
    assert errors == []
    assert config == Config(
        enabled=False,
        failure_conclusion=FailureConclusion.NEUTRAL,
        ignore_paths=("examples/**", "docker/legacy/", "**/Dockerfile.alpine"),
        ignore_targets=("i686-unknown-linux-musl", "mips*-unknown-linux-musl*"),
        suggestions=False,
        summary_comment=False,
        fix_pull_requests=True,
        latent_notices=False,
    )
    assert len(config.explicit) == 8


def test_bytes_input() -> None:
    data = (FIXTURES / "full.yml").read_bytes()
    assert parse_config(data) == load("full.yml")


def test_mistakes_are_reported_and_valid_keys_kept() -> None:
    config, errors = load("mistakes.yml")
    assert errors == [
        "enabled: expected true or false, got text",
        "unknown key 'failure-conclusion' (did you mean 'failure_conclusion'?)",
        "failure_conclusion: expected failure or neutral, got 'action_required'",
        "ignore_targets: 42 is not a pattern; skipped",
        "ignore_targets: '' is not a pattern; skipped",
        "suggestions: expected true or false, got a number",
        "unknown key 'colour'",
    ]
    assert config.enabled  # default kept
    assert config.failure_conclusion is FailureConclusion.FAILURE
    assert config.ignore_paths == ("examples/",)  # a single string is a list of one
    assert config.ignore_targets == ("x86_64-unknown-linux-musl",)
    assert not config.latent_notices
    assert config.explicit == {"ignore_paths", "ignore_targets", "latent_notices"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("enabled: ~", "enabled: expected true or false, got nothing"),
        ("enabled: [1]", "enabled: expected true or false, got a list"),
        ("enabled: {a: 1}", "enabled: expected true or false, got a mapping"),
        ("enabled: 2024-01-22", "enabled: expected true or false, got date"),
        (
            "ignore_paths: {a: 1}",
            "ignore_paths: expected a list of patterns, got a mapping",
        ),
        (
            "ignore_paths: true",
            "ignore_paths: expected a list of patterns, got true/false",
        ),
        ("1: true", "unknown key '1'"),
        (
            "failure_conclusion: 3",
            "failure_conclusion: expected failure or neutral, got 3",
        ),
    ],
)
def test_wrong_types(text: str, error: str) -> None:
    assert parse_config(text) == (Config(), [error])


def test_booleans_and_case() -> None:
    config, errors = parse_config("enabled: no\nfailure_conclusion: ' Neutral '\n")
    assert errors == []
    assert not config.enabled
    assert config.failure_conclusion is FailureConclusion.NEUTRAL


def test_long_and_many_patterns() -> None:
    config, errors = parse_config("ignore_paths: ['" + "a" * 300 + "', ok]")
    assert config.ignore_paths == ("ok",)
    assert errors == ["ignore_paths: a pattern is longer than 256; skipped"]
    many = "ignore_targets:\n" + "".join(f"  - t{i}\n" for i in range(250))
    config, errors = parse_config(many)
    assert len(config.ignore_targets) == MAX_PATTERNS
    assert errors == [
        f"ignore_targets: only the first {MAX_PATTERNS} patterns are used"
    ]


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("malformed.yml", "malformed YAML at line 3, column 16:"),
        ("alias-bomb.yml", "YAML aliases (*name) are not allowed"),
        ("python-tag.yml", "malformed YAML at line 1, column 10: could not determine"),
        ("list.yml", "expected a mapping of settings, got a list"),
    ],
)
def test_refused_files(name: str, start: str) -> None:
    config, errors = load(name)
    assert config == Config()
    assert len(errors) == 1
    assert errors[0].startswith(start)
    assert "\n" not in errors[0]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5), "nesting deeper than"),
        # libyaml's own depth limit (1000) answers first here
        ("[" * 50_000, "malformed YAML at line 1, column 1001: exceeded maximum"),
        ("a: \x00", "malformed YAML (unacceptable character #x0000"),
        ("a: \ud800", "file holds an invalid character at 3"),
        ("{? [1]: 2}", "malformed YAML at line 1, column 4: found unhashable key"),
        ("a: 1\n" * 20_000, "file is larger than"),
    ],
)
def test_hostile_text(text: str, start: str) -> None:
    config, errors = parse_config(text)
    assert config == Config()
    assert errors[0].startswith(start), errors


@pytest.mark.parametrize(
    ("data", "start"),
    [
        (b"enabled: \xff\xfe", "file is not UTF-8 (byte 9)"),
        (b"#" * (MAX_CONFIG_BYTES + 1), "file is larger than"),
    ],
)
def test_hostile_bytes(data: bytes, start: str) -> None:
    config, errors = parse_config(data)
    assert config == Config()
    assert errors[0].startswith(start)


def test_depth_limit_is_inclusive() -> None:
    # the top-level mapping is the first level
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert parse_config(f"a: {nested}")[1] == ["unknown key 'a'"]


def test_merge_org_and_repo() -> None:
    org, org_errors = load("org.yml")
    repo, repo_errors = load("repo.yml")
    assert org_errors == repo_errors == []
    merged = merge_config(org, repo)
    assert merged.failure_conclusion is FailureConclusion.FAILURE  # repo wins
    assert merged.ignore_paths == ("fuzz/**",)  # lists are replaced, not joined
    assert not merged.summary_comment  # from the org
    assert merged.fix_pull_requests  # from the org
    assert merged.enabled  # default
    assert merged.explicit == org.explicit | repo.explicit


def test_repo_setting_a_default_value_still_overrides() -> None:
    org, _ = parse_config("summary_comment: false")
    repo, _ = parse_config("summary_comment: true")
    assert repo == Config()  # equal to the defaults...
    assert merge_config(org, repo).summary_comment  # ...but set on purpose


def test_merge_with_missing_layers() -> None:
    org, _ = load("org.yml")
    repo, _ = load("repo.yml")
    assert merge_config(None, None) == Config()
    assert merge_config(org, None) == org
    assert merge_config(None, repo) == repo
    assert merge_config(None, repo).ignore_paths == ("fuzz/**",)


PATHS = [
    ("examples/**", "examples/a/Dockerfile", True),
    ("examples/**", "examples", False),
    ("examples/*", "examples/a/b.yml", True),  # `*` crosses `/`
    ("docker/legacy/", "docker/legacy/Dockerfile", True),
    ("docker/legacy/", "docker/legacy2/Dockerfile", False),
    ("docker", "docker/x/Dockerfile", True),
    ("docker", "docker", True),
    ("docker", "dockerfiles/x", False),
    (".github/workflows/nightly.yml", ".github/workflows/nightly.yml", True),
    (".github/workflows/nightly.yml", ".github/workflows/nightly.yml.bak", False),
    ("**/Dockerfile", "Dockerfile", True),
    ("**/Dockerfile", "a/b/Dockerfile", True),
    ("**/Dockerfile", "Dockerfile.alpine", False),
    ("*.Dockerfile", "ci/x86.Dockerfile", True),
    ("ci/?.yml", "ci/a.yml", True),
    ("ci/[ab].yml", "ci/c.yml", False),
    ("Docs/", "docs/x", False),  # case-sensitive
    ("examples/**", "./examples/a", True),
    ("examples/**", "/examples/a", True),
]


@pytest.mark.parametrize(("pattern", "path", "ignored"), PATHS)
def test_ignores_path(pattern: str, path: str, ignored: bool) -> None:
    assert Config(ignore_paths=(pattern,)).ignores_path(path) is ignored


def test_ignores_path_on_corpus_files() -> None:
    case = CORPUS / "dani-garcia__vaultwarden@44e9e1a58e"
    files = sorted(str(p.relative_to(case)) for p in case.rglob("*") if p.is_file())
    config, _ = parse_config("ignore_paths: ['docker/', '**/Dockerfile.alpine']")
    kept = [f for f in files if not config.ignores_path(f)]
    assert kept
    assert all(not f.startswith("docker/") for f in kept)
    assert len(kept) < len(files)


TARGETS = [
    ("i686-unknown-linux-musl", "i686-unknown-linux-musl", True),
    ("i686-unknown-linux-musl", "x86_64-unknown-linux-musl", False),
    ("mips*-unknown-linux-musl*", "mips64el-unknown-linux-muslabi64", True),
    ("mips*-unknown-linux-musl*", "mipsel-unknown-linux-musl", True),
    ("*-musleabi*", "armv7-unknown-linux-musleabihf", True),
    ("*-musleabi*", "aarch64-unknown-linux-musl", False),
    ("X86_64-Unknown-Linux-Musl", "x86_64-unknown-linux-musl", True),
    ("x86_64-unknown-linux-musl", " X86_64-unknown-linux-musl ", True),
]


@pytest.mark.parametrize(("pattern", "triple", "ignored"), TARGETS)
def test_ignores_target(pattern: str, triple: str, ignored: bool) -> None:
    assert Config(ignore_targets=(pattern,)).ignores_target(triple) is ignored


def test_nothing_ignored_by_default() -> None:
    assert not Config().ignores_path("Cargo.lock")
    assert not Config().ignores_target("x86_64-unknown-linux-musl")


def test_docstring_example_is_valid() -> None:
    doc = config_module.__doc__ or ""
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    config, errors = parse_config(example)
    assert errors == []
    assert config.explicit == set(config_module._KEYS)
    assert config.ignores_target("mips64-unknown-linux-muslabi64")
    assert config.ignores_path("docker/legacy/Dockerfile")


@given(st.text(max_size=300))
def test_never_raises(text: str) -> None:
    config, errors = parse_config(text)
    assert isinstance(config, Config)
    assert all(isinstance(e, str) for e in errors)


@given(
    st.dictionaries(
        st.sampled_from((*config_module._KEYS, "other")),
        st.one_of(st.booleans(), st.text(max_size=10), st.lists(st.text(max_size=5))),
    )
)
def test_any_mapping_is_handled(data: dict[str, object]) -> None:
    import yaml

    config, errors = parse_config(yaml.safe_dump(data))
    assert config.explicit <= set(data)
    assert len(errors) + len(config.explicit) >= len(data)


def test_errors_carry_their_lines() -> None:
    text = (
        "# musl-check\n"
        "enabled: true\n"
        "bogus: 1\n"
        "ignore_paths:\n"
        "  - 7\n"
        "failure_conclusion: maybe\n"
    )
    config, errors = check_config(text)
    assert config.enabled
    assert errors == [
        ConfigError(3, "unknown key 'bogus'"),
        ConfigError(4, "ignore_paths: 7 is not a pattern; skipped"),
        ConfigError(6, "failure_conclusion: expected failure or neutral, got 'maybe'"),
    ]
    assert parse_config(text)[1] == [e.message for e in errors]


def test_whole_file_errors_are_on_their_line_or_the_first() -> None:
    [broken] = check_config("enabled: true\nfoo: [1,\n")[1]
    assert broken.line == 3
    assert broken.message.startswith("malformed YAML at line 3")
    assert check_config("- a\n- b\n")[1] == [
        ConfigError(1, "expected a mapping of settings, got a list")
    ]
    assert check_config(b"\xff")[1][0].line == 1
