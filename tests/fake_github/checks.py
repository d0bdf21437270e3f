"""Fake Checks API: create, update, read and list check runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .git_data import repo_of
from .server import error
from .state import FakeGitHub, example

MAX_ANNOTATIONS = 50


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _apply(run: dict[str, Any], body: dict[str, Any]) -> str | None:
    """Apply a create/update body to the run; return a 422 reason if invalid."""
    output = body.get("output")
    if output is not None:
        annotations = output.get("annotations") or []
        if len(annotations) > MAX_ANNOTATIONS:
            return "Only 50 annotations are allowed per request"
        for a in annotations:
            if not a.get("path"):
                # What GitHub answers for an annotation without a path.
                return "Invalid request. path is empty"
            if ("start_column" in a or "end_column" in a) and a["start_line"] != a[
                "end_line"
            ]:
                return "start_column/end_column need start_line == end_line"
    status = body.get("status")
    conclusion = body.get("conclusion")
    if (
        (status == "completed" or "completed_at" in body)
        and conclusion is None
        and run["conclusion"] is None
    ):
        return "conclusion is required when status is completed"
    for key in ("name", "external_id", "details_url"):
        if key in body:
            run[key] = body[key]
    if conclusion is not None:
        run["conclusion"] = conclusion
        run["status"] = "completed"
        run["completed_at"] = _now()
    elif status is not None:
        run["status"] = status
    if run["status"] == "in_progress" and run["started_at"] is None:
        run["started_at"] = _now()
    if "actions" in body:
        run["actions"] = body["actions"]
    if output is not None:
        out = run["output"]
        for key in ("title", "summary", "text"):
            if key in output:
                out[key] = output[key]
        out["annotations"].extend(output.get("annotations") or [])
    run["updates"].append(body)
    return None


def _view(
    request: web.Request, run: dict[str, Any], fake: FakeGitHub
) -> dict[str, Any]:
    body = example("check-run")
    base = (
        f"{request.scheme}://{request.host}/repos/{run['repo']}/check-runs/{run['id']}"
    )
    body.update(
        id=run["id"],
        node_id=f"CR_{run['id']}",
        head_sha=run["head_sha"],
        external_id=run["external_id"],
        url=base,
        html_url=f"https://github.com/{run['repo']}/runs/{run['id']}",
        details_url=run["details_url"],
        status=run["status"],
        conclusion=run["conclusion"],
        started_at=run["started_at"],
        completed_at=run["completed_at"],
        name=run["name"],
        pull_requests=[],
    )
    body["output"] = {
        "title": run["output"]["title"],
        "summary": run["output"]["summary"],
        "text": run["output"]["text"],
        "annotations_count": len(run["output"]["annotations"]),
        "annotations_url": base + "/annotations",
    }
    body["app"]["id"] = run["app_id"]
    return body


def add_routes(routes: web.RouteTableDef, fake: FakeGitHub) -> None:
    """Register the Checks endpoints."""

    @routes.post("/repos/{owner}/{repo}/check-runs")
    async def create(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        if repo is None:
            return error(404, "Not Found")
        body = await request.json()
        if body.get("head_sha") not in repo.commits:
            return error(422, "No commit found for SHA")
        run = fake.add_check_run(repo.full_name, body["head_sha"], body.get("name"))
        fake.check_runs.remove(run)
        reason = _apply(run, body)
        if reason is not None:
            return error(422, reason)
        fake.check_runs.append(run)
        return web.json_response(_view(request, run, fake), status=201)

    def find(request: web.Request) -> dict[str, Any] | None:
        repo = repo_of(fake, request)
        wanted = int(request.match_info["id"])
        for run in fake.check_runs:
            if (
                repo is not None
                and run["repo"] == repo.full_name
                and run["id"] == wanted
            ):
                return run
        return None

    @routes.patch("/repos/{owner}/{repo}/check-runs/{id}")
    async def update(request: web.Request) -> web.Response:
        run = find(request)
        if run is None:
            return error(404, "Not Found")
        reason = _apply(run, await request.json())
        if reason is not None:
            return error(422, reason)
        return web.json_response(_view(request, run, fake))

    @routes.get("/repos/{owner}/{repo}/check-runs/{id}")
    async def get(request: web.Request) -> web.Response:
        run = find(request)
        if run is None:
            return error(404, "Not Found")
        return web.json_response(_view(request, run, fake))

    @routes.get("/repos/{owner}/{repo}/commits/{ref}/check-runs")
    async def list_for_ref(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        if repo is None:
            return error(404, "Not Found")
        name = request.query.get("check_name")
        app_id = request.query.get("app_id")
        runs = [
            _view(request, r, fake)
            for r in fake.runs_for(repo.full_name, request.match_info["ref"])
            if name in (None, r["name"]) and app_id in (None, str(r["app_id"]))
        ]
        return web.json_response({"total_count": len(runs), "check_runs": runs})
