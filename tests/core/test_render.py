"""Renderers: scan JSON, text, Markdown, SARIF and check-run output.

Reports are built by hand from real corpus cases (their expected.json and the
real Cargo.lock lines); Markdown and check-run output are compared with golden
files in tests/fixtures/rendered/ (set MUSL_CHECK_UPDATE_GOLDEN=1 to rewrite).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from openapi_schema_validator import OAS30Validator

from bot.core.findings import Finding, Report, Rule, Severity, Verdict
from bot.core.fixes import FixPlan, LineEdit
from bot.core.lockfile import LockedPackage, Lockfile, LockfileError, SourceKind
from bot.core.render import (
    BLOG_URL,
    MARKDOWN_LIMIT,
    SUMMARY_LIMIT,
    TABLE_ROWS,
    CheckRunOutput,
    Conclusion,
    check_run_output,
    could_not_analyse_output,
    limit_summary,
    render_json,
    render_markdown,
    render_sarif,
    render_suggestion,
    render_text,
    verdict_words,
)
from bot.core.sources import Hint, HintKind, MuslUse, Problem, UseKind
from tests.paths import CORPUS, OPENAPI

HERE = Path(__file__).resolve()

GOLDEN = HERE.parents[1] / "fixtures" / "rendered"
UPDATE = os.environ.get("MUSL_CHECK_UPDATE_GOLDEN") == "1"

# ---------------------------------------------------------------------------
# Reports built from corpus cases


def _kind(path: str) -> UseKind:
    name = path.rsplit("/", 1)[-1]
    if path.startswith(".github/workflows/"):
        return UseKind.WORKFLOW
    if name == "Cross.toml":
        return UseKind.CROSS
    if path.startswith(".cargo/"):
        return UseKind.CARGO_CONFIG
    if name.startswith("rust-toolchain"):
        return UseKind.TOOLCHAIN
    if name in ("Cargo.toml", "dist-workspace.toml", "dist.toml"):
        return UseKind.DIST
    if name in ("Makefile", "justfile"):
        return UseKind.MAKE
    if name == ".gitlab-ci.yml":
        return UseKind.GITLAB
    if name == ".cirrus.yml":
        return UseKind.CIRRUS
    if path.startswith(".circleci/"):
        return UseKind.CIRCLECI
    if name.startswith("azure"):
        return UseKind.AZURE
    return UseKind.DOCKER


def _source_kind(source: str | None) -> SourceKind:
    if source is None:
        return SourceKind.PATH
    if source.startswith("git+"):
        return SourceKind.GIT
    if "crates.io-index" in source:
        return SourceKind.REGISTRY
    return SourceKind.OTHER_REGISTRY


def _value(line: str) -> str:
    return line.split("=", 1)[1].strip().strip('"')


def case_lockfile(case: str) -> Lockfile | None:
    """Return the root lockfile with its libc packages, read by hand."""
    expected = json.loads((CORPUS / case / "expected.json").read_text())
    if expected["lockfile_version"] is None:
        return None
    lines = (CORPUS / case / "Cargo.lock").read_text().splitlines()
    packages = []
    for libc in expected["libc"]:
        at = libc["line"] - 1
        assert lines[at] == f'version = "{libc["version"]}"'
        assert lines[at - 1] == 'name = "libc"'
        source = _value(lines[at + 1]) if lines[at + 1].startswith("source") else None
        inline = lines[at + 2].startswith("checksum = ")
        checksum_line = at + 3 if inline else None
        packages.append(
            LockedPackage(
                name="libc",
                version=libc["version"],
                line=libc["line"],
                source=source,
                source_kind=_source_kind(source),
                checksum=_value(lines[at + 2]) if checksum_line else None,
                checksum_line=checksum_line,
                start_line=libc["line"] - 2,
                end_line=libc["line"] + (2 if checksum_line else 1),
            )
        )
    return Lockfile("Cargo.lock", expected["lockfile_version"], tuple(packages))


def case_uses(case: str) -> tuple[MuslUse, ...]:
    expected = json.loads((CORPUS / case / "expected.json").read_text())
    return tuple(
        MuslUse(
            path=u["path"],
            line=u["line"],
            target=u["target"],
            kind=_kind(u["path"]),
            implicit=u.get("implicit", False),
            resolves_to=tuple(u.get("resolves_to", ())),
        )
        for u in expected["musl_uses"]
    )


def case_line(case: str, path: str, line: int) -> str:
    return (CORPUS / case / path).read_text().splitlines()[line - 1]


RIPGREP = "BurntSushi__ripgrep@a7f1276021"
HEXYL = "sharkdp__hexyl@b6b7e2c79a"
ZOXIDE = "ajeetdsouza__zoxide@e3ef7c9b41"
ALACRITTY = "alacritty__alacritty@bdb72b32ee"
ION = "redox-os__ion@e317e16bd9"
VAULTWARDEN = "dani-garcia__vaultwarden@44e9e1a58e"
TOKIO = "tokio-rs__tokio@ea91b33ca5"
SERDE = "serde-rs__serde@1023d07751"

# libc 0.2.186 as locked by zoxide (a real crates.io checksum).
NEW_LIBC = "0.2.186"
NEW_CHECKSUM = _value(case_line(ZOXIDE, "Cargo.lock", 433))


def _report(
    case: str,
    verdict: Verdict,
    findings: tuple[Finding, ...] = (),
    **extra: Any,
) -> Report:
    lock = case_lockfile(case)
    return Report(
        verdict=verdict,
        lockfiles=(lock,) if lock else (),
        musl_uses=case_uses(case),
        findings=findings,
        root_lockfile=lock.path if lock else None,
        **extra,
    )


def at_risk_with_fix() -> Report:
    old_version = case_line(RIPGREP, "Cargo.lock", 290)
    old_checksum = case_line(RIPGREP, "Cargo.lock", 292)
    plan = FixPlan(
        path="Cargo.lock",
        old_version="0.2.144",
        new_version=NEW_LIBC,
        command=f"cargo update -p libc --precise {NEW_LIBC}",
        edits=(
            LineEdit(290, old_version, f'version = "{NEW_LIBC}"'),
            LineEdit(292, old_checksum, f'checksum = "{NEW_CHECKSUM}"'),
        ),
    )
    finding = Finding(
        Rule.LIBC_LFS64,
        Severity.FAILURE,
        "Cargo.lock",
        290,
        "libc 0.2.144 binds LFS64 symbols that musl 1.2.4 removed, and getrandom "
        "0.2.8 (Cargo.lock:120) calls them: the musl build at "
        ".github/workflows/ci.yml:59, .github/workflows/release.yml:76, "
        "Cross.toml:1 and 2 more will fail to link (undefined reference to "
        "`open64`). Rust 1.93 (2026-01-22) bundles musl 1.2.5.",
        f"Run `{plan.command}`.",
    )
    return _report(RIPGREP, Verdict.AT_RISK, (finding,), fixes=(plan,))


def at_risk_without_index() -> Report:
    plan = FixPlan(
        path="Cargo.lock",
        old_version="0.2.138",
        new_version=None,
        command="cargo update -p libc",
        reason="the crates.io index could not be reached, so the new checksum "
        "is unknown",
    )
    finding = Finding(
        Rule.LIBC_MAY_BREAK,
        Severity.WARNING,
        "Cargo.lock",
        257,
        "libc 0.2.138 binds LFS64 symbols that musl 1.2.4 removed. No known caller "
        "(old getrandom or tempfile) is locked, but any crate calling "
        "open64/fstat64/... will fail to link in the musl build. Rust 1.93 "
        "(2026-01-22) bundles musl 1.2.5.",
        "Run `cargo update -p libc`.",
    )
    return _report(HEXYL, Verdict.AT_RISK, (finding,), fixes=(plan,))


def musl_libc_ok() -> Report:
    return _report(ZOXIDE, Verdict.MUSL_LIBC_OK)


def musl_no_lockfile() -> Report:
    return _report(TOKIO, Verdict.MUSL_LIBC_OK)


def clean() -> Report:
    return _report(ALACRITTY, Verdict.CLEAN)


def clean_no_lockfile() -> Report:
    return _report(SERDE, Verdict.CLEAN)


def old_libc() -> Report:
    lock = case_lockfile(ION)
    assert lock is not None
    findings = tuple(
        Finding(
            Rule.LATENT,
            Severity.NOTICE,
            "Cargo.lock",
            pkg.line,
            f"libc {pkg.version} predates the musl 1.2.4 fix (0.2.146). No musl build "
            "was found, but if you ever build for *-linux-musl it will not link.",
            "Run `cargo update -p libc` (libc >= 0.2.146).",
        )
        for pkg in lock.packages
    )
    return _report(ION, Verdict.OLD_LIBC, findings)


def with_problems() -> Report:
    problems = (
        Problem(".github/workflows/build.yml", 12, "malformed YAML: mapping values"),
        Problem("docker/Dockerfile.j2", 0, "file is larger than 1 MiB"),
    )
    findings = (
        Finding(
            Rule.LIBC_LFS64,
            Severity.FAILURE,
            "Cargo.lock",
            1453,
            "libc 0.2.144 binds LFS64 symbols that musl 1.2.4 removed: the musl "
            "build will fail to link.",
            "Run `cargo update -p libc`.",
        ),
        Finding(
            Rule.UNREADABLE,
            Severity.WARNING,
            ".github/workflows/build.yml",
            12,
            "malformed YAML: mapping values",
        ),
    )
    nested = Lockfile("tests/fixture/Cargo.lock", 3, ())
    broken = Lockfile(
        "fuzz/Cargo.lock", None, (), LockfileError(7, "expected `]` at line 7")
    )
    report = _report(VAULTWARDEN, Verdict.AT_RISK, findings, problems=problems)
    return Report(
        verdict=report.verdict,
        lockfiles=(*report.lockfiles, broken, nested),
        musl_uses=report.musl_uses,
        findings=report.findings,
        problems=report.problems,
        hints=(Hint("Dockerfile", 1, HintKind.SYSTEM_MUSL, "alpine:3.19"),),
        root_lockfile=report.root_lockfile,
    )


REPORTS = {
    "at-risk-fix": at_risk_with_fix,
    "at-risk-no-index": at_risk_without_index,
    "musl-libc-ok": musl_libc_ok,
    "musl-no-lockfile": musl_no_lockfile,
    "clean": clean,
    "clean-no-lockfile": clean_no_lockfile,
    "old-libc": old_libc,
    "problems": with_problems,
}


def hostile_report() -> Report:
    """A report whose repository strings try to inject markup."""
    paths = [
        "<script>alert(1)</script>.yml",
        "a|b|c.yml",
        "```\n# heading\n```.yml",
        "x`y``z`.yml",
        "line\nbreak\r\n| --- |.yml",
        "back\\|slash.yml",
        "@octocat/#1 http://evil.example/x.yml",
        "<img src=x onerror=alert(1)>",
        "\x1b[31mred\x1b[0m\u202e.yml",
        " ` ",
    ]
    uses = tuple(
        MuslUse(p, i + 1, p + "-unknown-linux-musl", UseKind.WORKFLOW)
        for i, p in enumerate(paths)
    )
    findings = tuple(
        Finding(
            Rule.MUSL_USE if i % 2 else Rule.UNREADABLE,
            Severity.NOTICE,
            p,
            i + 1,
            f"found {p} [link](javascript:alert(1)) <b>bold</b> *em* @admin",
            f"fix `{p}` now",
        )
        for i, p in enumerate(paths)
    )
    lock = Lockfile(
        "<b>Cargo.lock</b>",
        3,
        (
            LockedPackage(
                "libc",
                "0.2.1|<i>x</i>",
                4,
                None,
                SourceKind.PATH,
                None,
                None,
                3,
                5,
            ),
        ),
    )
    return Report(
        Verdict.AT_RISK,
        (lock,),
        uses,
        findings,
        problems=(Problem(paths[0], 3, "<script>x</script> | ` @everyone"),),
        fixes=(
            FixPlan(
                "<b>Cargo.lock</b>",
                "0.2.1",
                None,
                "cargo update -p libc ``` && rm -rf /",
                reason="<script>no</script>",
            ),
        ),
        root_lockfile="<b>Cargo.lock</b>",
    )


# ---------------------------------------------------------------------------
# Golden files


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual)
    assert path.read_text() == actual


def check_run_json(output: CheckRunOutput) -> str:
    return json.dumps(output.as_dict(), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_markdown_golden(name: str) -> None:
    golden(f"{name}.md", render_markdown(REPORTS[name]()))


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_check_run_golden(name: str) -> None:
    golden(f"{name}.check-run.json", check_run_json(check_run_output(REPORTS[name]())))


def test_json_golden() -> None:
    golden("at-risk-fix.json", render_json(at_risk_with_fix()))


def test_text_golden() -> None:
    golden("at-risk-fix.txt", render_text(at_risk_with_fix(), color=False))
    golden("problems.txt", render_text(with_problems(), color=False))


def test_sarif_golden() -> None:
    golden("at-risk-fix.sarif", render_sarif(at_risk_with_fix(), version="9.9.9"))


# ---------------------------------------------------------------------------
# Scan JSON contract

CONTRACT_KEYS = ["schema", "verdict", "lockfiles", "musl_uses", "findings"]


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_json_schema(name: str) -> None:
    report = REPORTS[name]()
    text = render_json(report)
    assert text.endswith("}\n")
    assert text.startswith('{\n  "schema": 1,\n')
    data = json.loads(text)
    assert list(data)[:5] == CONTRACT_KEYS
    assert data["schema"] == 1
    assert data["verdict"] in {
        "at-risk",
        "old-libc",
        "musl-libc-ok",
        "clean",
        "could-not-analyse",
    }
    assert data["verdict"] == report.verdict.value
    for lock in data["lockfiles"]:
        assert list(lock) == ["path", "format_version", "libc", "error"]
        for libc in lock["libc"]:
            assert list(libc) == ["version", "line", "source"]
            assert libc["line"] >= 1
            assert libc["source"] in {k.value for k in SourceKind}
    for use in data["musl_uses"]:
        assert list(use) == [
            "path",
            "line",
            "target",
            "implicit",
            "resolves_to",
            "kind",
            "lockfile",
        ]
        assert isinstance(use["implicit"], bool)
        assert use["resolves_to"]
        if not use["implicit"]:
            assert use["resolves_to"] == [use["target"]]
    for finding in data["findings"]:
        assert list(finding) == ["rule", "severity", "path", "line", "message", "fix"]
        assert finding["severity"] in {"failure", "warning", "notice"}


def test_json_matches_corpus_expectation() -> None:
    """The JSON of a hand-built report carries the corpus' own ground truth."""
    for case in (RIPGREP, VAULTWARDEN, ION, TOKIO):
        expected = json.loads((CORPUS / case / "expected.json").read_text())
        verdict = {verdict_words(v): v for v in Verdict}[expected["verdict"]]
        data = json.loads(render_json(_report(case, verdict)))
        root = data["lockfiles"][0] if data["lockfiles"] else None
        assert (root["format_version"] if root else None) == expected[
            "lockfile_version"
        ]
        assert [
            {"version": x["version"], "line": x["line"]}
            for x in (root["libc"] if root else [])
        ] == expected["libc"]
        assert [
            {k: u[k] for k in ("path", "line", "target")} for u in data["musl_uses"]
        ] == [
            {k: u[k] for k in ("path", "line", "target")} for u in expected["musl_uses"]
        ]
        implicit = [u for u in expected["musl_uses"] if u.get("implicit")]
        assert [u["resolves_to"] for u in data["musl_uses"] if u["implicit"]] == [
            u["resolves_to"] for u in implicit
        ]


def test_json_extra_keys() -> None:
    data = json.loads(render_json(with_problems()))
    assert data["problems"][0] == {
        "path": ".github/workflows/build.yml",
        "line": 12,
        "message": "malformed YAML: mapping values",
    }
    assert data["hints"] == [
        {"path": "Dockerfile", "line": 1, "kind": "system-musl", "value": "alpine:3.19"}
    ]
    assert [lock["path"] for lock in data["lockfiles"]] == [
        "Cargo.lock",
        "fuzz/Cargo.lock",
        "tests/fixture/Cargo.lock",
    ]
    fix = json.loads(render_json(at_risk_with_fix()))["fixes"][0]
    assert fix["edits"][0]["new"] == f'version = "{NEW_LIBC}"'


def test_verdict_words() -> None:
    assert [verdict_words(v) for v in Verdict] == [
        "at risk",
        "old libc, no musl use found",
        "musl used, libc ok",
        "clean",
        "could not analyse",
    ]
    # The corpus labels verdicts with exactly these words (no DEV case has an
    # unreadable lockfile: tests/fixtures/accuracy has those).
    labels = {
        json.loads((case / "expected.json").read_text())["verdict"]
        for case in CORPUS.iterdir()
        if (case / "expected.json").is_file()
    }
    assert labels == {
        verdict_words(v) for v in Verdict if v is not Verdict.COULD_NOT_ANALYSE
    }


# ---------------------------------------------------------------------------
# Text


def test_text_plain_has_no_escape_codes() -> None:
    for make in REPORTS.values():
        text = render_text(make(), color=False)
        assert "\x1b" not in text
        assert text.endswith("\n")


def test_text_layout() -> None:
    lines = render_text(at_risk_with_fix(), color=False).splitlines()
    assert lines[0].startswith("musl-check: at risk: This repository builds for musl")
    assert lines[1].startswith("Cargo.lock:290: failure: libc 0.2.144 binds LFS64")
    assert lines[1].endswith("[libc-lfs64]")
    assert lines[2] == f"    fix: Run `cargo update -p libc --precise {NEW_LIBC}`."
    assert lines[3] == f"Cargo.lock: fix: cargo update -p libc --precise {NEW_LIBC}"
    assert lines[4] == "musl builds (5):"
    assert (
        lines[5]
        == "  .github/workflows/ci.yml:59: x86_64-unknown-linux-musl (workflow)"
    )


def test_text_colour() -> None:
    text = render_text(at_risk_with_fix(), color=True)
    assert "\x1b[1m\x1b[31mat risk\x1b[0m" in text
    assert "\x1b[31mfailure\x1b[0m" in text
    assert "\x1b[2m(workflow)\x1b[0m" in text
    assert "\x1b[32m" in render_text(clean(), color=True)


def test_text_caps_uses() -> None:
    text = render_text(with_problems(), color=False)
    assert "musl builds (46):" in text
    assert "  ... and 26 more" in text
    # The problem without a finding is listed once; the other is a finding.
    assert "docker/Dockerfile.j2:0: unreadable: file is larger than 1 MiB" in text
    assert text.count("malformed YAML: mapping values") == 1


def test_text_escapes_control_characters() -> None:
    text = render_text(hostile_report(), color=False)
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "\\x1b[31mred" in text
    assert "\\u202e" in text
    # one line per finding + fix, nothing split by hostile newlines
    assert "line\\x0abreak\\x0d\\x0a" in text


# ---------------------------------------------------------------------------
# Markdown


def test_markdown_verdict_first() -> None:
    for make in REPORTS.values():
        report = make()
        lines = render_markdown(report).splitlines()
        assert lines[0] == f"### musl-check: {verdict_words(report.verdict)}"
        sentence = lines[2]
        assert sentence.endswith(".")
        assert sentence.count(". ") == 0  # one sentence
    at_risk = render_markdown(at_risk_with_fix())
    assert "will fail to link" in at_risk
    assert "Rust 1.93 (2026-01-22) bundles musl 1.2.5" in at_risk
    assert "may fail to link" in render_markdown(at_risk_without_index())
    assert "1.90" not in at_risk


def test_markdown_fix_section() -> None:
    text = render_markdown(at_risk_with_fix())
    assert f"```sh\ncargo update -p libc --precise {NEW_LIBC}\n```" in text
    assert "`/musl-check fix`" in text
    assert "**Fix libc**" in text
    assert f'+checksum = "{NEW_CHECKSUM}"' in text
    no_index = render_markdown(at_risk_without_index())
    assert "```sh\ncargo update -p libc\n```" in no_index
    assert "/musl-check fix" not in no_index.split("<sub>")[0]
    assert "could not be reached" in no_index


def test_markdown_tables() -> None:
    text = render_markdown(at_risk_with_fix())
    assert "| `Cargo.lock:290` | `0.2.144` | too old for musl 1.2.4+: update |" in text
    assert (
        "| `.github/workflows/release.yml:76` | `x86_64-unknown-linux-musl` "
        "| workflow |" in text
    )
    assert "| `Cross.toml:1` | `x86_64-unknown-linux-musl` | cross |" in text


def test_markdown_caps_long_tables() -> None:
    report = with_problems()
    text = render_markdown(report)
    uses_table = text.split("#### musl builds")[1].split("####")[0]
    rows = [line for line in uses_table.splitlines() if line.startswith("| `")]
    assert len(rows) == TABLE_ROWS
    assert f"... and {len(report.musl_uses) - TABLE_ROWS} more." in uses_table
    # implicit uses show what they resolve to
    assert (
        "`blackdex/rust-musl:x86_64-musl` → `x86_64-unknown-linux-musl`" in uses_table
    )


def test_markdown_lockfile_states() -> None:
    text = render_markdown(with_problems())
    assert (
        "| `fuzz/Cargo.lock:7` | - | could not read: expected \\`\\]\\` at line 7 |"
        in text
    )
    assert "| `tests/fixture/Cargo.lock` | - | no libc (nested lockfile) |" in text
    old = render_markdown(old_libc())
    assert "| `Cargo.lock:890` | `0.2.64` | too old for musl 1.2.4+: update |" in old
    yanked = Lockfile(
        "Cargo.lock",
        3,
        (
            LockedPackage(
                "libc", "0.2.145", 9, None, SourceKind.REGISTRY, None, None, 7, 10
            ),
            LockedPackage(
                "libc", "weird", 19, None, SourceKind.REGISTRY, None, None, 17, 20
            ),
        ),
    )
    text = render_markdown(
        Report(Verdict.OLD_LIBC, (yanked,), (), (), root_lockfile="Cargo.lock")
    )
    assert "| `Cargo.lock:9` | `0.2.145` | yanked (0.2.145): update |" in text
    assert "| `Cargo.lock:19` | `weird` | unrecognised version |" in text


def test_markdown_problems_section() -> None:
    text = render_markdown(with_problems())
    section = text.split("#### Could not read")[1]
    assert "`docker/Dockerfile.j2:0`: file is larger than 1 MiB" in section
    assert "malformed YAML" not in section  # already a finding


def test_markdown_caps_findings_and_problems() -> None:
    findings = tuple(
        Finding(Rule.C_CODE, Severity.NOTICE, "Cargo.lock", i, f"C code {i}")
        for i in range(1, 41)
    )
    problems = tuple(Problem(f"f{i}.yml", i, "bad") for i in range(35))
    text = render_markdown(
        Report(Verdict.MUSL_LIBC_OK, (), (), findings, problems=problems)
    )
    assert "- ... and 10 more." in text
    assert "- ... and 5 more." in text


def test_root_lockfile_need_not_come_first() -> None:
    root = case_lockfile(RIPGREP)
    assert root is not None
    nested = Lockfile("fuzz/Cargo.lock", 3, ())
    report = Report(
        Verdict.AT_RISK,
        (nested, root),
        case_uses(RIPGREP),
        (),
        root_lockfile="Cargo.lock",
    )
    assert check_run_output(report).title.startswith("At risk: libc 0.2.144 may not")


def test_markdown_verdict_variants() -> None:
    no_libc = Lockfile("Cargo.lock", 3, ())
    use = MuslUse("Cross.toml", 2, "x86_64-unknown-linux-musl", UseKind.CROSS)
    ok = Report(
        Verdict.MUSL_LIBC_OK, (no_libc,), (use,), (), root_lockfile="Cargo.lock"
    )
    assert "locks no libc, so the move" in render_markdown(ok)
    assert check_run_output(ok).title == "musl used, libc ok"
    orphan = Report(Verdict.AT_RISK, (), (use,), ())
    assert "the root Cargo.lock locks libc an old release" in render_markdown(orphan)
    assert (
        check_run_output(orphan).title == "At risk: libc old may not link on musl 1.2.5"
    )
    single = render_markdown(Report(Verdict.MUSL_LIBC_OK, (), (use,), ()))
    assert "builds for musl (1 line)" in single


# CommonMark with raw HTML on and GFM tables, as GitHub renders comments.
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table")
ALLOWED_TAGS = {
    "h3",
    "h4",
    "p",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "pre",
    "ul",
    "li",
    "strong",
    "em",
    "sub",
    "a",
}


def assert_safe(markdown: str) -> str:
    """Render `markdown` and check it holds only our own markup; return the HTML."""
    rendered = MARKDOWN.render(markdown)
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", rendered))
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert set(re.findall(r'href="([^"]*)"', rendered)) <= {BLOG_URL}
    for row in re.findall(r"<tr>(.*?)</tr>", rendered, re.DOTALL):
        assert row.count("<td") + row.count("<th") == 3, row
    return rendered


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_markdown_renders_safely(name: str) -> None:
    rendered = assert_safe(render_markdown(REPORTS[name]()))
    assert rendered.startswith("<h3>musl-check: ")


def _outside_code(markdown: str) -> str:
    """Return the Markdown text with fenced blocks and code spans removed."""
    markdown = re.sub(r"(?ms)^(`{3,})[^\n]*\n.*?^\1\s*$", "", markdown)
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown)


def test_markdown_escapes_hostile_strings() -> None:
    text = render_markdown(hostile_report())
    rendered = assert_safe(text)
    assert "<script" not in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "&amp;lt;b&amp;gt;bold&amp;amp;lt;" not in rendered
    assert "&lt;b&gt;bold&lt;/b&gt;" in rendered
    assert "@&#8203;admin" in text
    assert "\\*em\\*" in text
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert rendered.count("<h4>") == 5  # no heading injected by a path
    assert rendered.count("<tr>") == 1 + 1 + 1 + 10  # header rows + data rows
    # a fence in the fix command cannot close its code block early
    assert "````sh\ncargo update -p libc ``` && rm -rf /\n````" in text


MARKUP = st.text(alphabet="`|<>/\\*_[]()!#@~&;:\n\r -abc", max_size=40)


@given(MARKUP, MARKUP, MARKUP, MARKUP)
def test_markdown_is_safe_for_any_strings(
    path: str, target: str, message: str, fix: str
) -> None:
    use = MuslUse(path, 2, target, UseKind.DOCKER, implicit=True, resolves_to=(target,))
    finding = Finding(Rule.UNREADABLE, Severity.WARNING, path, 1, message, fix)
    lock = Lockfile(
        path,
        3,
        (LockedPackage("libc", target, 4, None, SourceKind.PATH, None, None, 3, 5),),
    )
    report = Report(
        Verdict.AT_RISK,
        (lock,),
        (use,),
        (finding,),
        problems=(Problem(path, 3, message),),
        fixes=(FixPlan(path, "0.2.1", None, fix, reason=message),),
        root_lockfile=path,
    )
    assert_safe(render_markdown(report))
    assert_safe(check_run_output(report).summary)
    assert_safe(could_not_analyse_output(message).summary)


def test_markdown_code_span_keeps_pipes_in_tables() -> None:
    text = render_markdown(hostile_report())
    assert "`a\\|b\\|c.yml:2`" in text
    assert "`back\\\u200b\\|slash.yml:6`" in text
    assert "```x`y``z`.yml:4```" in render_markdown(
        Report(
            Verdict.CLEAN,
            (),
            (),
            (Finding(Rule.C_CODE, Severity.NOTICE, "x`y``z`.yml", 4, "m"),),
        )
    )


def test_markdown_length_is_bounded() -> None:
    long_path = "d/" * 3000 + "Dockerfile"
    uses = tuple(
        MuslUse(long_path + str(i), i, "x86_64-unknown-linux-musl", UseKind.DOCKER)
        for i in range(1, 2000)
    )
    findings = tuple(
        Finding(Rule.MUSL_USE, Severity.NOTICE, long_path, i, "m" * 5000, "f" * 5000)
        for i in range(1, 2000)
    )
    report = Report(Verdict.AT_RISK, (), uses, findings)
    text = render_markdown(report)
    assert len(text) < MARKDOWN_LIMIT
    assert "_This report was cut to fit GitHub's size limit" in text
    assert text.count("```") % 2 == 0
    output = check_run_output(report)
    assert len(output.summary) <= SUMMARY_LIMIT
    assert len(output.annotations) == 2 * 1999 - 0  # findings + distinct use lines
    assert all(len(a["message"].encode()) <= 65_535 for a in output.annotations)


def test_markdown_truncates_whole_blocks() -> None:
    fixes = tuple(
        FixPlan(
            f"crate{i}/Cargo.lock", "0.2.1", None, "cargo update -p libc " + "x" * 2000
        )
        for i in range(60)
    )
    text = render_markdown(Report(Verdict.AT_RISK, (), (), (), fixes=fixes))
    assert len(text) < MARKDOWN_LIMIT
    assert text.endswith("for all of it._\n")
    assert text.count("```") % 2 == 0


def test_limit_summary() -> None:
    assert limit_summary("short") == "short"
    cut = limit_summary("x" * 70_000)
    assert len(cut) == SUMMARY_LIMIT
    assert cut.endswith("_Summary cut to GitHub's 65535-character limit._\n")


# ---------------------------------------------------------------------------
# SARIF

SARIF_LEVELS = {"error", "warning", "note"}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_sarif_structure(name: str) -> None:
    report = REPORTS[name]()
    log = json.loads(render_sarif(report))
    assert log["$schema"].startswith("https://")
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "musl-check"
    assert driver["informationUri"].startswith("https://")
    assert driver["version"] == "0.1.0"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    assert set(rule_ids) == {f.rule.value for f in report.findings}
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] in SARIF_LEVELS
    assert len(run["results"]) == len(report.findings)
    for result, finding in zip(run["results"], report.findings, strict=True):
        assert result["ruleId"] == finding.rule.value
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in SARIF_LEVELS
        assert result["message"]["text"].startswith(finding.message)
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert physical["artifactLocation"]["uri"] == finding.path
        assert physical["region"]["startLine"] >= 1
        assert re.fullmatch(
            r"[0-9a-f]{64}", result["partialFingerprints"]["muslCheckFinding/v1"]
        )


def test_sarif_levels_and_uris() -> None:
    log = json.loads(render_sarif(hostile_report(), version="1.2.3"))
    run = log["runs"][0]
    assert run["tool"]["driver"]["version"] == "1.2.3"
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in run["results"]
    ]
    assert uris[0] == "%3Cscript%3Ealert%281%29%3C/script%3E.yml"
    assert all(" " not in u and "\n" not in u for u in uris)
    levels = {
        f.severity: json.loads(render_sarif(Report(Verdict.AT_RISK, (), (), (f,))))[
            "runs"
        ][0]["results"][0]["level"]
        for f in (Finding(Rule.LIBC_LFS64, s, "/Cargo.lock", 0, "m") for s in Severity)
    }
    assert levels == {
        Severity.FAILURE: "error",
        Severity.WARNING: "warning",
        Severity.NOTICE: "note",
    }
    result = json.loads(
        render_sarif(
            Report(
                Verdict.AT_RISK,
                (),
                (),
                (Finding(Rule.LIBC_LFS64, Severity.FAILURE, "/Cargo.lock", 0, "m"),),
            )
        )
    )["runs"][0]["results"][0]
    assert (
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "Cargo.lock"
    )
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_every_rule_has_sarif_metadata() -> None:
    findings = tuple(
        Finding(rule, Severity.NOTICE, "Cargo.lock", 1, "m") for rule in Rule
    )
    log = json.loads(render_sarif(Report(Verdict.CLEAN, (), (), findings)))
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == [
        rule.value for rule in Rule
    ]


# ---------------------------------------------------------------------------
# Check run


def _validator() -> OAS30Validator:
    spec = json.loads(OPENAPI.read_text())
    body = spec["paths"]["/repos/{owner}/{repo}/check-runs"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    schema["components"] = spec["components"]
    return OAS30Validator(schema)


VALIDATOR = _validator()


def _assert_valid_request(output: CheckRunOutput) -> None:
    """Validate create-check-run bodies (50 annotations each) with GitHub's schema."""
    annotations = [dict(a) for a in output.annotations] or [None]
    for start in range(0, len(annotations), 50):
        chunk = [a for a in annotations[start : start + 50] if a is not None]
        body = {
            "name": "musl-check",
            "head_sha": "a7f1276021df2217dead1481b2c2b38595ed8fb3",
            "status": "completed",
            "conclusion": output.conclusion.value,
            "output": {
                "title": output.title,
                "summary": output.summary,
                "annotations": chunk,
            },
        }
        VALIDATOR.validate(body)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_check_run_limits(name: str) -> None:
    output = check_run_output(REPORTS[name]())
    _assert_valid_request(output)
    assert output.conclusion is not Conclusion("failure") or name in (
        "at-risk-fix",
        "problems",
    )
    assert len(output.title) <= 255
    assert len(output.summary) <= SUMMARY_LIMIT
    for annotation in output.annotations:
        assert annotation["annotation_level"] in {"failure", "warning", "notice"}
        assert annotation["start_line"] == annotation["end_line"] >= 1
        assert len(annotation["title"]) <= 255
        assert len(annotation["message"].encode()) <= 65_535


def test_check_run_conclusions() -> None:
    assert check_run_output(at_risk_with_fix()).conclusion is Conclusion.FAILURE
    assert (
        check_run_output(at_risk_with_fix(), failure_conclusion="neutral").conclusion
        is Conclusion.NEUTRAL
    )
    assert check_run_output(at_risk_without_index()).conclusion is Conclusion.NEUTRAL
    assert check_run_output(old_libc()).conclusion is Conclusion.SUCCESS
    assert check_run_output(clean()).conclusion is Conclusion.SUCCESS
    assert check_run_output(musl_libc_ok()).conclusion is Conclusion.SUCCESS
    for bad in ("success", "action_required", "nope"):
        with pytest.raises(ValueError, match="failure"):
            check_run_output(clean(), failure_conclusion=bad)


def test_check_run_titles() -> None:
    assert (
        check_run_output(at_risk_with_fix()).title
        == "At risk: libc 0.2.144 will not link on musl 1.2.5"
    )
    assert (
        check_run_output(at_risk_without_index()).title
        == "At risk: libc 0.2.138 may not link on musl 1.2.5"
    )
    assert (
        check_run_output(old_libc()).title
        == "Old libc 0.2.64, 0.2.65, no musl use found"
    )
    assert check_run_output(musl_libc_ok()).title == "musl used, libc 0.2.186 ok"
    assert (
        check_run_output(musl_no_lockfile()).title
        == "musl used, libc ok: no Cargo.lock, libc resolves fresh"
    )
    assert check_run_output(clean()).title == "Clean: no musl build, no old libc"


def test_check_run_annotations() -> None:
    output = check_run_output(at_risk_with_fix())
    first, *uses = output.annotations
    assert first["path"] == "Cargo.lock"
    assert first["start_line"] == 290
    assert first["annotation_level"] == "failure"
    assert first["title"] == "libc-lfs64: libc will not link on musl 1.2.5"
    assert first["message"].endswith(
        f"Fix: Run `cargo update -p libc --precise {NEW_LIBC}`."
    )
    assert [(a["path"], a["start_line"]) for a in uses] == [
        (u["path"], u["line"])
        for u in json.loads((CORPUS / RIPGREP / "expected.json").read_text())[
            "musl_uses"
        ]
    ]
    assert uses[0]["message"].startswith(
        "This line builds x86_64-unknown-linux-musl for musl. With libc 0.2.144 "
        "locked in Cargo.lock, this build will fail to link"
    )
    ok = check_run_output(musl_libc_ok())
    assert ok.annotations
    assert all(a["message"].endswith("for musl.") for a in ok.annotations)


def test_check_run_annotation_dedupe() -> None:
    uses = (
        MuslUse("ci.yml", 3, "x86_64-unknown-linux-musl", UseKind.WORKFLOW),
        MuslUse("ci.yml", 3, "aarch64-unknown-linux-musl", UseKind.WORKFLOW),
        MuslUse("ci.yml", 3, "x86_64-unknown-linux-musl", UseKind.WORKFLOW),
        MuslUse("ci.yml", 9, "i686-unknown-linux-musl", UseKind.WORKFLOW),
    )
    findings = (Finding(Rule.MUSL_USE, Severity.NOTICE, "ci.yml", 9, "musl here"),)
    output = check_run_output(Report(Verdict.MUSL_LIBC_OK, (), uses, findings))
    assert [(a["start_line"], a["message"]) for a in output.annotations] == [
        (9, "musl here"),
        (
            3,
            "This line builds x86_64-unknown-linux-musl, "
            "aarch64-unknown-linux-musl for musl.",
        ),
    ]


def test_check_run_problem_annotations() -> None:
    output = check_run_output(with_problems())
    problems = [a for a in output.annotations if a["title"] == "file could not be read"]
    assert problems == [
        {
            "path": "docker/Dockerfile.j2",
            "start_line": 1,
            "end_line": 1,
            "annotation_level": "warning",
            "message": "file is larger than 1 MiB",
            "title": "file could not be read",
        }
    ]


def test_check_run_clips_huge_messages() -> None:
    finding = Finding(Rule.C_CODE, Severity.NOTICE, "Cargo.lock", 3, "é" * 40_000)
    output = check_run_output(Report(Verdict.CLEAN, (), (), (finding,)))
    message = output.annotations[0]["message"]
    assert len(message.encode()) <= 65_535
    assert message.endswith("…")


def test_could_not_analyse() -> None:
    output = could_not_analyse_output(
        "tree too large: <script>alert(1)</script> | @team"
    )
    assert output.conclusion is Conclusion.NEUTRAL
    assert output.title == "could not analyse"
    assert output.annotations == ()
    assert "<script>" not in output.summary
    assert "&lt;script&gt;" in output.summary
    assert "@&#8203;team" in output.summary
    _assert_valid_request(output)
    golden("could-not-analyse.check-run.json", check_run_json(output))


# ---------------------------------------------------------------------------
# Suggestions


def test_suggestion_block() -> None:
    lines = [
        f'version = "{NEW_LIBC}"',
        'source = "registry+https://github.com/rust-lang/crates.io-index"',
    ]
    assert render_suggestion(lines) == "```suggestion\n" + "\n".join(lines) + "\n```\n"


def test_suggestion_empty_deletes() -> None:
    assert render_suggestion([]) == "```suggestion\n```\n"


def test_suggestion_with_backticks_uses_longer_fence() -> None:
    text = render_suggestion(["run: echo ```", "  ````"])
    assert text == "`````suggestion\nrun: echo ```\n  ````\n`````\n"
    assert render_suggestion(["a `b`"]).startswith("```suggestion\n")


def test_suggestion_keeps_indentation_exactly() -> None:
    lines = ["    - target: x86_64-unknown-linux-musl", "\t\tx", ""]
    body = render_suggestion(lines)
    assert body.split("\n")[1:-2] == lines


@given(st.lists(st.text(alphabet="`~ ab\t", max_size=12), max_size=5))
def test_suggestion_fence_is_never_closed_early(lines: list[str]) -> None:
    body = render_suggestion(lines).split("\n")
    fence = body[0].removesuffix("suggestion")
    assert body[-2] == fence
    assert body[-1] == ""
    assert all(fence not in line for line in body[1:-2])


@given(st.text(max_size=60))
def test_markdown_never_raises_on_any_path(path: str) -> None:
    use = MuslUse(path or "x", 1, path, UseKind.DOCKER)
    finding = Finding(Rule.UNREADABLE, Severity.WARNING, path, 1, path, path)
    report = Report(Verdict.MUSL_LIBC_OK, (), (use,), (finding,))
    text = render_markdown(report)
    assert "<" not in _outside_code(text).replace("<sub>", "").replace("</sub>", "")
    json.loads(render_json(report))
    json.loads(render_sarif(report))
    assert "\x1b" not in render_text(report, color=False)


def test_note_on_no_file_stays_in_the_summary() -> None:
    # GitHub refuses an annotation with an empty path (422).
    note = Problem("", 1, "12 files beyond 500 not read")
    report = Report(
        Verdict.CLEAN, (), (), (), problems=(note, Problem("x.yml", 3, "bad"))
    )
    out = check_run_output(report)
    assert [a["path"] for a in out.annotations] == ["x.yml"]
    assert "- 12 files beyond 500 not read\n" in out.summary
    assert "- `x.yml:3`: bad" in out.summary
    text = render_text(report, color=False)
    assert "\nunreadable: 12 files beyond 500 not read\n" in text
    assert "\nx.yml:3: unreadable: bad\n" in text
