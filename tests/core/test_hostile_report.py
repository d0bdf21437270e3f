"""Packed lockfiles and musl uses give bounded findings and annotations.

(Behaviour only: the sizes are moderate, and nothing here is timed.)
"""

from __future__ import annotations

from bot.core import render
from bot.core.analysis import analyse
from bot.core.findings import Report, Rule, Verdict
from bot.core.lockfile import parse_lockfile
from bot.core.sources import MuslUse, UseKind

MUSL = "x86_64-unknown-linux-musl"
MUSL_CFG = f'[build]\ntarget = "{MUSL}"\n'.encode()
REGISTRY = "registry+https://github.com/rust-lang/crates.io-index"


def _lock(nlibc: int, ntrig: int) -> str:
    parts = ["version = 3\n\n"]
    for i in range(nlibc):
        parts.append(
            f'[[package]]\nname = "libc"\nversion = "0.2.{i % 140}"\n'
            f'source = "{REGISTRY}"\n\n'
        )
    for i in range(ntrig):
        parts.append(
            f'[[package]]\nname = "getrandom"\nversion = "0.2.{i % 8}"\n'
            f'source = "{REGISTRY}"\n\n'
        )
    return "".join(parts)


def _rule_findings(report: Report, rule: Rule) -> list[str]:
    return [f.message for f in report.findings if f.rule is rule]


def test_many_triggers_are_listed_briefly_in_every_finding() -> None:
    files = {"Cargo.lock": _lock(300, 400).encode(), ".cargo/config.toml": MUSL_CFG}
    report = analyse(files)
    assert report.verdict is Verdict.AT_RISK
    messages = _rule_findings(report, Rule.LIBC_LFS64)
    assert len(messages) == 300  # one per old libc
    for message in messages:
        assert "and 395 more calls them" in message
        assert message.count("getrandom 0.2.") == 5
        assert len(message) < 1000
    # The first five triggers, in lockfile order.
    assert "and getrandom 0.2.0 (Cargo.lock:" in messages[0]
    assert "getrandom 0.2.4 (Cargo.lock:" in messages[0]


def _trigger_message(ntrig: int) -> str:
    files = {"Cargo.lock": _lock(1, ntrig).encode(), ".cargo/config.toml": MUSL_CFG}
    (message,) = _rule_findings(analyse(files), Rule.LIBC_LFS64)
    return message


def test_a_few_triggers_read_in_full() -> None:
    two = _trigger_message(2)
    assert (
        "and getrandom 0.2.0 (Cargo.lock:10), getrandom 0.2.1 (Cargo.lock:15) " in two
    )
    assert "more" not in two
    five = _trigger_message(5)
    assert five.count("getrandom 0.2.") == 5
    assert "more" not in five
    six = _trigger_message(6)
    assert six.count("getrandom 0.2.") == 5
    assert "getrandom 0.2.4 (Cargo.lock:30) and 1 more calls them" in six


def test_many_uses_and_many_libcs() -> None:
    makefile = (f"{MUSL}\n" * 500).encode()
    files = {"Cargo.lock": _lock(400, 0).encode(), "Makefile": makefile}
    report = analyse(files)
    assert report.verdict is Verdict.AT_RISK
    assert len(report.musl_uses) == 500
    messages = _rule_findings(report, Rule.LIBC_MAY_BREAK)
    assert len(messages) == 400
    for message in messages:
        assert "build at Makefile:1, Makefile:2, Makefile:3 and 497 more." in message
        assert len(message) < 1000


def _use(line: int, *triples: str) -> MuslUse:
    return MuslUse("Makefile", line, MUSL, UseKind.MAKE, False, triples)


def _report(nlibc: int, uses: tuple[MuslUse, ...]) -> Report:
    names = frozenset({"libc", "getrandom", "tempfile", "rustix"})
    lock = parse_lockfile(_lock(nlibc, 0), names=names)
    return Report(Verdict.AT_RISK, (lock,), uses, (), root_lockfile="Cargo.lock")


def test_use_notices_name_a_few_old_libcs() -> None:
    uses = tuple(_use(i + 1, MUSL) for i in range(300))
    output = render.check_run_output(_report(250, uses))
    assert len(output.annotations) == 300
    for annotation in output.annotations:
        assert annotation["title"] == "musl build"
        assert annotation["message"].startswith(
            f"This line builds {MUSL} for musl. With libc 0.2.0, 0.2.1, "
        )
        assert "0.2.9 and 240 more locked in Cargo.lock," in annotation["message"]
        assert "0.2.10" not in annotation["message"]
        assert len(annotation["message"]) < 1000


def test_use_notices_with_a_few_old_libcs_read_in_full() -> None:
    output = render.check_run_output(_report(10, (_use(1, MUSL),)))
    (annotation,) = output.annotations
    versions = ", ".join(f"0.2.{i}" for i in range(10))
    assert f"With libc {versions} locked in Cargo.lock," in annotation["message"]
    assert "more" not in annotation["message"]


def test_use_notices_join_and_cap_targets_per_line() -> None:
    many = tuple(f"t{i}-unknown-linux-musl" for i in range(40))
    uses = (
        _use(1, *many),
        _use(1, *many[::-1]),  # the same line again: no repeats
        _use(2, "a-unknown-linux-musl", "b-unknown-linux-musl"),
        _use(2, "b-unknown-linux-musl", "c-unknown-linux-musl"),
    )
    output = render.check_run_output(_report(1, uses))
    first, second = output.annotations
    assert first["start_line"] == 1
    shown = ", ".join(many[:10])
    assert first["message"].startswith(
        f"This line builds {shown} and 30 more for musl. With libc 0.2.0 locked"
    )
    assert second["start_line"] == 2
    assert second["message"].startswith(
        "This line builds a-unknown-linux-musl, b-unknown-linux-musl, "
        "c-unknown-linux-musl for musl. With libc 0.2.0 locked"
    )
