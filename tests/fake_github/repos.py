"""Fake repository endpoints: repository, git trees and blobs, contents."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from .git_data import readable_repo, repo_of, resolve
from .server import error
from .state import FakeGitHub, example

RAW = "application/vnd.github.raw"


def _raw_wanted(request: web.Request) -> bool:
    return request.headers.get("accept", "").startswith(RAW)


def _url(request: web.Request, path: str) -> str:
    return f"{request.scheme}://{request.host}{path}"


def add_routes(routes: web.RouteTableDef, fake: FakeGitHub) -> None:
    """Register the repository endpoints."""

    @routes.get("/repos/{owner}/{repo}")
    async def get_repo(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        if repo is None:
            return error(404, "Not Found")
        body = example("full-repository-default-response")
        # GitHub's own example has fork `source`/`parent` objects that no
        # longer match the schema; they are optional, so leave them out.
        body.pop("source", None)
        body.pop("parent", None)
        body.setdefault("language", "Rust")
        body.update(id=repo.id, name=repo.name, full_name=repo.full_name)
        body["default_branch"] = repo.default_branch
        body["owner"]["login"] = repo.owner
        # `fake.extra["archived"]`: full names of archived repositories.
        body["archived"] = repo.full_name in fake.extra.get("archived", ())
        if repo.empty:
            body["size"] = 0
        return web.json_response(body)

    @routes.get("/repos/{owner}/{repo}/git/trees/{sha}")
    async def get_tree(request: web.Request) -> web.Response:
        repo = readable_repo(fake, request)
        if isinstance(repo, web.Response):
            return repo
        sha = request.match_info["sha"]
        # Like GitHub, a branch name or HEAD names its commit's tree.
        commit = resolve(fake, repo, sha)
        tree_sha = sha if commit is None else repo.commits[commit]
        if tree_sha not in repo.trees:
            return error(404, "Not Found")
        base = f"/repos/{repo.full_name}/git"
        if "recursive" in request.query:
            listing = repo.walk(tree_sha)
        else:
            listing = [(e.name, e) for e in repo.trees[tree_sha]]
        truncated = False
        if "recursive" in request.query and repo.truncate_after is not None:
            truncated = len(listing) > repo.truncate_after
            listing = listing[: repo.truncate_after]
        items: list[dict[str, Any]] = []
        for path, entry in listing:
            item: dict[str, Any] = {
                "path": path,
                "mode": entry.mode,
                "type": entry.type,
                "sha": entry.sha,
            }
            if entry.type == "blob":
                item["size"] = entry.size
                item["url"] = _url(request, f"{base}/blobs/{entry.sha}")
            elif entry.type == "tree":
                item["url"] = _url(request, f"{base}/trees/{entry.sha}")
            items.append(item)
        return web.json_response(
            {
                "sha": tree_sha,
                "url": _url(request, f"{base}/trees/{tree_sha}"),
                "tree": items,
                "truncated": truncated,
            }
        )

    @routes.get("/repos/{owner}/{repo}/git/blobs/{sha}")
    async def get_blob(request: web.Request) -> web.StreamResponse:
        repo = readable_repo(fake, request)
        if isinstance(repo, web.Response):
            return repo
        sha = request.match_info["sha"]
        data = repo.blobs.get(sha)
        if data is None:
            return error(404, "Not Found")
        if _raw_wanted(request):
            if not fake.extra.get("chunked_blobs"):
                return web.Response(body=data, content_type=RAW)
            # Chunked transfer: no Content-Length says how long the body is.
            stream = web.StreamResponse(headers={"content-type": RAW})
            stream.enable_chunked_encoding()
            await stream.prepare(request)
            for start in range(0, len(data), 4096):
                await stream.write(data[start : start + 4096])
            await stream.write_eof()
            return stream
        return web.json_response(
            {
                "sha": sha,
                "node_id": "B_" + sha[:12],
                "size": len(data),
                "url": _url(request, f"/repos/{repo.full_name}/git/blobs/{sha}"),
                "content": base64.b64encode(data).decode(),
                "encoding": "base64",
            }
        )

    @routes.get("/repos/{owner}/{repo}/contents/{path:.+}")
    async def get_contents(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        if repo is None or repo.empty:
            return error(404, "Not Found")
        ref = request.query.get("ref", repo.default_branch)
        if ref == repo.default_branch and repo.commits:
            ref = list(repo.commits)[-1]
        tree = repo.commits.get(ref)
        if tree is None:
            return error(404, "No commit found for the ref")
        wanted = request.match_info["path"]
        for path, entry in repo.walk(tree):
            if path == wanted and entry.type == "blob":
                if not _raw_wanted(request):
                    return error(415, "the fake serves contents raw only")
                return web.Response(body=repo.blobs[entry.sha], content_type=RAW)
        return error(404, "Not Found")

    @routes.get("/repos/{owner}/{repo}/commits/{sha}/pulls")
    async def commit_pulls(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        if repo is None:
            return error(404, "Not Found")
        template = example("pull-request-simple-items")[0]
        out = []
        for number in repo.pulls.get(request.match_info["sha"], []):
            pull = dict(template)
            pull["number"] = number
            out.append(pull)
        return web.json_response(out)
