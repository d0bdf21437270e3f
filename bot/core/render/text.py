"""Terminal text: verdict, findings with fixes, then the musl uses."""

from __future__ import annotations

from typing import Final

from bot.core.findings import Report, Severity, Verdict
from bot.core.render.shared import (
    TEXT_USES,
    extra_problems,
    sanitize,
    verdict_sentence,
    verdict_words,
)

_ANSI: Final = {
    "bold": "\x1b[1m",
    "red": "\x1b[31m",
    "yellow": "\x1b[33m",
    "green": "\x1b[32m",
    "cyan": "\x1b[36m",
    "dim": "\x1b[2m",
}
_RESET: Final = "\x1b[0m"
_VERDICT_COLOUR: Final = {
    Verdict.AT_RISK: "red",
    Verdict.OLD_LIBC: "yellow",
    Verdict.MUSL_LIBC_OK: "green",
    Verdict.CLEAN: "green",
    Verdict.COULD_NOT_ANALYSE: "yellow",
}
_SEVERITY_COLOUR: Final = {
    Severity.FAILURE: "red",
    Severity.WARNING: "yellow",
    Severity.NOTICE: "cyan",
}


def render_text(report: Report, *, color: bool) -> str:
    """Return terminal output: verdict, findings with fixes, then the musl uses."""

    def paint(text: str, *styles: str) -> str:
        if not color:
            return text
        return "".join(_ANSI[s] for s in styles) + text + _RESET

    verdict = paint(
        verdict_words(report.verdict), "bold", _VERDICT_COLOUR[report.verdict]
    )
    lines = [f"musl-check: {verdict}: {verdict_sentence(report, sanitize)}"]
    for finding in report.findings:
        severity = paint(finding.severity.value, _SEVERITY_COLOUR[finding.severity])
        lines.append(
            f"{sanitize(finding.path)}:{finding.line}: {severity}: "
            f"{sanitize(finding.message)} [{finding.rule.value}]"
        )
        if finding.fix:
            lines.append(f"    fix: {sanitize(finding.fix)}")
    for plan in report.fixes:
        lines.append(f"{sanitize(plan.path)}: fix: {sanitize(plan.command)}")
    for problem in extra_problems(report):
        where = f"{sanitize(problem.path)}:{problem.line}: " if problem.path else ""
        lines.append(
            f"{where}{paint('unreadable', 'yellow')}: {sanitize(problem.message)}"
        )
    if report.musl_uses:
        lines.append(f"musl builds ({len(report.musl_uses)}):")
        for use in report.musl_uses[:TEXT_USES]:
            lines.append(
                f"  {sanitize(use.path)}:{use.line}: {sanitize(use.target)} "
                + paint(f"({use.kind.value})", "dim")
            )
        if len(report.musl_uses) > TEXT_USES:
            lines.append(f"  ... and {len(report.musl_uses) - TEXT_USES} more")
    return "\n".join(lines) + "\n"
