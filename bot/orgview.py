"""The organisation table: every repository's verdict, built once, rendered thrice.

The dashboard (`GET /orgs/{login}`, HTML and its `?format=csv|json` exports)
and `musl-check report` show the same rows, in the same order: at-risk
repositories first, then the other verdicts by urgency, then by name.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from bot.store import RepositoryResult, Store

# Most urgent first (the verdicts of docs/architecture.md, scan JSON).
VERDICT_ORDER: Final = ("at-risk", "old-libc", "musl-libc-ok", "clean")
# The row of a repository the installation sees but no check has reached yet.
UNCHECKED: Final = "unchecked"
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
    """Every repository of one installation, at-risk first, unchecked ones last."""

    installation_id: int
    rows: tuple[RepositoryResult, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Return the number of checked repositories per verdict (all listed)."""
        counts = dict.fromkeys(VERDICT_ORDER, 0)
        for row in self.rows:
            if row.verdict != UNCHECKED:
                counts[row.verdict] = counts.get(row.verdict, 0) + 1
        return counts

    @property
    def checked(self) -> int:
        """Return how many repositories have a result."""
        return sum(1 for row in self.rows if row.verdict != UNCHECKED)

    @property
    def known(self) -> int:
        """Return how many repositories the installation is known to see."""
        return len(self.rows)


def build_table(
    installation_id: int,
    results: Sequence[RepositoryResult],
    known: Mapping[int, str],
) -> OrgTable:
    """Return the table: the results, then a row for each known unchecked one."""
    checked = {r.repo_id for r in results}
    rows = [
        *results,
        *(
            RepositoryResult(installation_id, repo_id, name, "", UNCHECKED)
            for repo_id, name in known.items()
            if repo_id not in checked
        ),
    ]
    rows.sort(key=lambda r: (verdict_rank(r.verdict), r.repo.lower()))
    return OrgTable(installation_id, tuple(rows))


async def load_table(store: Store, installation_id: int) -> OrgTable:
    """Return the installation's table as the store holds it."""
    results = await store.repository_results(installation_id)
    known = await store.known_repositories(installation_id)
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
