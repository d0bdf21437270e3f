"""Check-run output: conclusion, title, summary and annotations for the Checks API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypedDict

from bot.core.findings import Report, Rule, Severity, Verdict
from bot.core.render.markdown import render_markdown
from bot.core.render.shared import (
    ANNOTATION_LIBCS,
    ANNOTATION_MESSAGE_BYTES,
    ANNOTATION_TARGETS,
    RULES,
    SUMMARY_LIMIT,
    TITLE_LIMIT,
    clip,
    escape_markdown,
    extra_problems,
    has_failure,
    judged_lock,
    old_libcs,
    sanitize,
    unread,
)


class Conclusion(StrEnum):
    """Check-run conclusions musl-check uses (never `action_required`)."""

    SUCCESS = "success"
    NEUTRAL = "neutral"
    FAILURE = "failure"


class Annotation(TypedDict):
    """One check-run annotation, as the Checks API takes it."""

    path: str
    start_line: int
    end_line: int
    annotation_level: str
    message: str
    title: str


@dataclass(frozen=True, slots=True)
class CheckRunOutput:
    """Conclusion and `output` of a check run; the GitHub layer chunks annotations."""

    conclusion: Conclusion
    title: str
    summary: str
    annotations: tuple[Annotation, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready view (conclusion plus the API's output fields)."""
        return {
            "conclusion": self.conclusion.value,
            "title": self.title,
            "summary": self.summary,
            "annotations": [dict(a) for a in self.annotations],
        }


def _title(report: Report) -> str:
    old = old_libcs(report)
    versions = ", ".join(sanitize(p.version) for p in old) or "old"
    if report.verdict is Verdict.AT_RISK:
        verb = "will not" if has_failure(report) else "may not"
        return clip(f"At risk: libc {versions} {verb} link on musl 1.2.5", TITLE_LIMIT)
    if report.verdict is Verdict.OLD_LIBC:
        return clip(f"Old libc {versions}, no musl use found", TITLE_LIMIT)
    if report.verdict is Verdict.MUSL_LIBC_OK:
        root = judged_lock(report)
        if root is None:
            return "musl used, libc ok: no Cargo.lock, libc resolves fresh"
        libcs = ", ".join(sanitize(p.version) for p in root.named("libc"))
        text = f"musl used, libc {libcs} ok" if libcs else "musl used, libc ok"
        return clip(text, TITLE_LIMIT)
    if report.verdict is Verdict.COULD_NOT_ANALYSE:
        names = ", ".join(sanitize(p) for p in dict.fromkeys(unread(report)))
        return clip(f"Could not analyse: {names} not read", TITLE_LIMIT)
    return "Clean: no musl build, no old libc"


def _clip_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def _annotation(
    path: str, line: int, level: str, message: str, title: str
) -> Annotation:
    line = max(1, line)
    return Annotation(
        path=path,
        start_line=line,
        end_line=line,
        annotation_level=level,
        message=_clip_bytes(message, ANNOTATION_MESSAGE_BYTES),
        title=clip(sanitize(title), TITLE_LIMIT),
    )


def _more_list(items: Sequence[str], limit: int) -> str:
    """Return the first `limit` items joined by commas, then "and N more"."""
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _use_annotations(report: Report) -> list[Annotation]:
    """Return one notice per musl-use line (several targets on a line join)."""
    covered = {(f.path, f.line) for f in report.findings if f.rule is Rule.MUSL_USE}
    targets: dict[tuple[str, int], dict[str, None]] = {}  # ordered sets
    for use in report.musl_uses:
        key = (use.path, use.line)
        if key not in covered:
            found = targets.setdefault(key, {})
            for triple in use.resolves_to or (use.target,):
                found[triple] = None
    old = old_libcs(report)
    root = judged_lock(report)
    tail = ""
    if report.verdict is Verdict.AT_RISK and old and root is not None:
        tail = (
            f" With libc {_more_list([p.version for p in old], ANNOTATION_LIBCS)} "
            f"locked in {root.path}, this build will fail to link: Rust 1.93 "
            "(2026-01-22) bundles musl 1.2.5, which has no LFS64 symbols "
            "(open64, ...)."
        )
    out: list[Annotation] = []
    for (path, line), triples in targets.items():
        shown = _more_list(list(triples), ANNOTATION_TARGETS)
        message = f"This line builds {shown} for musl." + tail
        out.append(_annotation(path, line, "notice", message, "musl build"))
    return out


def check_run_output(
    report: Report, *, failure_conclusion: str = "failure"
) -> CheckRunOutput:
    """Return the check run's conclusion, title, summary and every annotation."""
    if failure_conclusion not in (Conclusion.FAILURE, Conclusion.NEUTRAL):
        raise ValueError(
            f"failure_conclusion must be failure or neutral, not {failure_conclusion!r}"
        )
    on_failure = Conclusion(failure_conclusion)
    severities = {f.severity for f in report.findings}
    if Severity.FAILURE in severities:
        conclusion: Conclusion = on_failure
    elif Severity.WARNING in severities:
        conclusion = Conclusion.NEUTRAL
    else:
        conclusion = Conclusion.SUCCESS
    annotations = [
        _annotation(
            f.path,
            f.line,
            f.severity.value,
            f.message + (f"\n\nFix: {f.fix}" if f.fix else ""),
            f"{f.rule.value}: {RULES[f.rule].short}",
        )
        for f in report.findings
    ]
    annotations += [
        _annotation(p.path, p.line, "warning", p.message, "file could not be read")
        for p in extra_problems(report)
        # GitHub refuses an annotation without a path (422): a note on no
        # file stays in the summary.
        if p.path
    ]
    annotations += _use_annotations(report)
    return CheckRunOutput(
        conclusion=conclusion,
        title=_title(report),
        summary=limit_summary(render_markdown(report)),
        annotations=tuple(annotations),
    )


def limit_summary(summary: str) -> str:
    """Return `summary` cut to the 65535-character limit, with a note if cut."""
    if len(summary) <= SUMMARY_LIMIT:
        return summary
    note = "\n\n_Summary cut to GitHub's 65535-character limit._\n"
    return summary[: SUMMARY_LIMIT - len(note)] + note


def could_not_analyse_output(reason: str) -> CheckRunOutput:
    """Return a neutral "could not analyse" check run saying why."""
    why = escape_markdown(clip(reason, 5000))
    summary = (
        "### musl-check: could not analyse\n\n"
        f"musl-check could not analyse this commit: {why}\n\n"
        "Re-run the check once the cause is fixed; nothing was concluded about "
        "the musl build.\n"
    )
    return CheckRunOutput(
        conclusion=Conclusion.NEUTRAL,
        title="could not analyse",
        summary=limit_summary(summary),
    )
