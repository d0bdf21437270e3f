"""Check runs: one per (repository, head sha), created completed or updated."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bot.core import render
from bot.github.client import GitHubClient

logger = logging.getLogger(__name__)

CHECK_NAME: Final = "musl-check"
ANNOTATIONS_PER_REQUEST: Final = 50
MAX_TEXT: Final = 65_535
MAX_TITLE: Final = 255


@dataclass(frozen=True, slots=True)
class Publication:
    """What a finished check run shows."""

    conclusion: str
    title: str
    summary: str
    annotations: Sequence[Mapping[str, Any]] = ()
    text: str = ""
    actions: Sequence[Mapping[str, str]] = field(default=())


def from_output(
    out: render.CheckRunOutput, *, notes: Sequence[str] = ()
) -> Publication:
    """Return the publication of a rendered check-run output (plus notes)."""
    summary = out.summary
    if notes:
        summary += "\n\n" + "\n".join(f"- {note}" for note in notes)
    return Publication(
        conclusion=out.conclusion.value,
        title=out.title,
        summary=summary,
        annotations=out.annotations,
    )


def could_not_analyse(reason: str) -> Publication:
    """Return the neutral publication saying why the analysis did not happen."""
    return from_output(render.could_not_analyse_output(reason))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _output(
    pub: Publication, annotations: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    output: dict[str, Any] = {
        "title": _clip(pub.title, MAX_TITLE),
        "summary": _clip(pub.summary, MAX_TEXT),
    }
    if pub.text:
        output["text"] = _clip(pub.text, MAX_TEXT)
    if annotations:
        output["annotations"] = [dict(a) for a in annotations]
    return output


async def find_check_run(
    gh: GitHubClient, owner: str, repo: str, sha: str, app_id: str
) -> int | None:
    """Return the id of this App's musl-check run on the commit, if GitHub has one."""
    query = "?check_name={name}&filter=latest"
    if app_id.isdigit():
        query += "&app_id={app_id}"
    data = await gh.getitem(
        "/repos/{owner}/{repo}/commits/{sha}/check-runs" + query,
        {
            "owner": owner,
            "repo": repo,
            "sha": sha,
            "name": CHECK_NAME,
            "app_id": app_id,
        },
    )
    runs = data.get("check_runs", []) if isinstance(data, dict) else []
    ids = [int(r["id"]) for r in runs if r.get("name") == CHECK_NAME]
    return max(ids) if ids else None


async def retrying(
    gh: GitHubClient, owner: str, repo: str, run_id: int, reason: str
) -> None:
    """Keep the run in progress, saying why it is retried (a later run replaces it)."""
    await gh.patch(
        "/repos/{owner}/{repo}/check-runs/{id}",
        {"owner": owner, "repo": repo, "id": str(run_id)},
        data={
            "status": "in_progress",
            "output": {
                "title": "retrying",
                "summary": _clip(
                    f"musl-check will try again: {reason}. This run is updated"
                    " when it does.",
                    MAX_TEXT,
                ),
            },
        },
    )


async def complete(
    gh: GitHubClient,
    owner: str,
    repo: str,
    sha: str,
    run_id: int | None,
    pub: Publication,
    *,
    external_id: str,
) -> int:
    """Complete the run with its output (creating it if needed); return its id.

    Annotations go 50 per request; GitHub appends each further batch.
    """
    batches = [
        pub.annotations[i : i + ANNOTATIONS_PER_REQUEST]
        for i in range(0, len(pub.annotations), ANNOTATIONS_PER_REQUEST)
    ] or [()]
    body: dict[str, Any] = {
        "status": "completed",
        "conclusion": pub.conclusion,
        "external_id": external_id,
        "output": _output(pub, batches[0]),
    }
    if pub.actions:
        body["actions"] = [dict(a) for a in pub.actions]
    if run_id is None:
        created = await gh.post(
            "/repos/{owner}/{repo}/check-runs",
            {"owner": owner, "repo": repo},
            data={"name": CHECK_NAME, "head_sha": sha, **body},
        )
        run_id = int(created["id"])
    else:
        await gh.patch(
            "/repos/{owner}/{repo}/check-runs/{id}",
            {"owner": owner, "repo": repo, "id": str(run_id)},
            data=body,
        )
    for batch in batches[1:]:
        await gh.patch(
            "/repos/{owner}/{repo}/check-runs/{id}",
            {"owner": owner, "repo": repo, "id": str(run_id)},
            data={"output": _output(pub, batch)},
        )
    return run_id


class AnalysisError(Exception):
    """The analysis itself raised; the run says so instead of going silent."""
