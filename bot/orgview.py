"""The organisation table: every repository's verdict, built once, rendered thrice.

The dashboard (`GET /orgs/{login}`, HTML and its `?format=csv|json` exports)
and `musl-check report` show the same rows, in the same order: at-risk
repositories first, then the other verdicts by urgency, then by name.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from bot.store import RepositoryResult, Store

# Most urgent first (the verdicts of docs/architecture.md, scan JSON).
VERDICT_ORDER: Final = ("at-risk", "old-libc", "musl-libc-ok", "clean")
CSV_COLUMNS: Final = (
    "repository",
    "verdict",
    "libc",
    "musl_targets",
    "last_checked",
    "head_sha",
    "check_run",
    "fix_pull_request",
)
# A spreadsheet runs a cell starting with one of these as a formula
# (https://owasp.org/www-community/attacks/CSV_Injection).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def verdict_rank(verdict: str) -> int:
    """Return the verdict's place in the table (unknown ones last)."""
    return (
        VERDICT_ORDER.index(verdict) if verdict in VERDICT_ORDER else len(VERDICT_ORDER)
    )


@dataclass(frozen=True, slots=True)
class OrgTable:
    """The rows of one installation, at-risk first, and how many repositories exist."""

    installation_id: int
    rows: tuple[RepositoryResult, ...]
    known: int  # repositories the installation is known to see

    @property
    def counts(self) -> dict[str, int]:
        """Return the number of repositories per verdict (every verdict listed)."""
        counts = dict.fromkeys(VERDICT_ORDER, 0)
        for row in self.rows:
            counts[row.verdict] = counts.get(row.verdict, 0) + 1
        return counts

    @property
    def checked(self) -> int:
        """Return how many repositories have a result."""
        return len(self.rows)


def build_table(
    installation_id: int, results: Sequence[RepositoryResult], known: int
) -> OrgTable:
    """Return the table of these results, at-risk rows first."""
    rows = sorted(results, key=lambda r: (verdict_rank(r.verdict), r.repo.lower()))
    return OrgTable(installation_id, tuple(rows), max(known, len(rows)))


async def load_table(store: Store, installation_id: int) -> OrgTable:
    """Return the installation's table as the store holds it."""
    results = await store.repository_results(installation_id)
    known = await store.repository_count(installation_id)
    return build_table(installation_id, results, known)


def when(ts: float) -> str:
    """Return a Unix time as `YYYY-MM-DD HH:MM` UTC ("" for none)."""
    if ts <= 0:
        return ""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M")


def fix_pull_url(row: RepositoryResult, web_url: str) -> str:
    """Return the fix pull request's page, or "" when there is none."""
    if row.fix_pull is None:
        return ""
    return f"{web_url}/{row.repo}/pull/{row.fix_pull}"


def row_fields(row: RepositoryResult, web_url: str) -> dict[str, Any]:
    """Return one row as the exports name its fields."""
    return {
        "repository": row.repo,
        "verdict": row.verdict,
        "libc": list(row.libc),
        "musl_targets": list(row.targets),
        "last_checked": when(row.checked_at),
        "head_sha": row.head_sha,
        "check_run": row.check_run_url,
        "fix_pull_request": fix_pull_url(row, web_url),
    }


def _cell(value: Any) -> str:
    text = " ".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render_csv(table: OrgTable, web_url: str) -> str:
    """Return the table as CSV (a header row, then one row per repository)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in table.rows:
        fields = row_fields(row, web_url)
        writer.writerow([_cell(fields[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def render_json(table: OrgTable, web_url: str) -> str:
    """Return the table, its counts and progress as JSON."""
    return json.dumps(
        {
            "installation_id": table.installation_id,
            "checked": table.checked,
            "repositories": table.known,
            "counts": table.counts,
            "rows": [row_fields(r, web_url) for r in table.rows],
        },
        indent=2,
    )


def render_text(table: OrgTable, web_url: str) -> str:
    """Return the table for a terminal: a summary line, then aligned columns."""
    counts = ", ".join(f"{n} {v}" for v, n in table.counts.items())
    lines = [f"{table.checked} of {table.known} repositories checked: {counts}"]
    if not table.rows:
        return lines[0] + "\n"
    head = ("REPOSITORY", "VERDICT", "LIBC", "MUSL TARGETS", "CHECKED (UTC)", "FIX PR")
    body = [
        (
            r.repo,
            r.verdict,
            " ".join(r.libc) or "-",
            " ".join(r.targets) or "-",
            when(r.checked_at),
            fix_pull_url(r, web_url) or "-",
        )
        for r in table.rows
    ]
    # Locked versions and targets are repository text: control characters
    # (terminal escapes) are shown escaped, never printed raw.
    grid = [
        [c.encode("unicode_escape").decode("ascii") for c in line]
        for line in (head, *body)
    ]
    widths = [max(len(line[i]) for line in grid) for i in range(len(head))]
    for line in grid:
        cells = (c.ljust(w) for c, w in zip(line, widths, strict=True))
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
