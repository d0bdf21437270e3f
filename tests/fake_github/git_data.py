"""Fake git data endpoints: blobs, trees, commits and refs that really change state.

Refs live in `fake.extra["refs"][full_name]["heads/<branch>"]`; commit parents
and messages in `fake.extra["commit_meta"][full_name][sha]`. Tests read a
committed file back with `read_file`.

Writes are refused (403) outside the token's installation, as GitHub refuses
them, except on the head branch of an open pull request into a repository of
that installation whose author allows edits by maintainers (docs/github.md 8.2).
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from tests.fake_github.server import error
from tests.fake_github.state import (
    MODE_FILE,
    Entry,
    FakeGitHub,
    Repo,
    example,
    git_sha,
)


def refs_of(fake: FakeGitHub, full_name: str) -> dict[str, str]:
    """Return the refs of a repository ("heads/main" -> sha)."""
    refs: dict[str, dict[str, str]] = fake.extra.setdefault("refs", {})
    return refs.setdefault(full_name, {})


def meta_of(fake: FakeGitHub, full_name: str) -> dict[str, dict[str, Any]]:
    """Return commit parents/messages of a repository (sha -> meta)."""
    metas: dict[str, dict[str, dict[str, Any]]] = fake.extra.setdefault(
        "commit_meta", {}
    )
    return metas.setdefault(full_name, {})


def set_branch(fake: FakeGitHub, full_name: str, branch: str, sha: str) -> None:
    """Point `branch` of a repository at commit `sha`."""
    refs_of(fake, full_name)[f"heads/{branch}"] = sha


def branch_sha(fake: FakeGitHub, full_name: str, branch: str) -> str | None:
    """Return the commit a branch points at, if it exists."""
    return refs_of(fake, full_name).get(f"heads/{branch}")


def set_parents(fake: FakeGitHub, full_name: str, sha: str, parents: list[str]) -> None:
    """Record the parents of a commit added with `fake.add_commit`."""
    meta_of(fake, full_name).setdefault(sha, {"message": "commit"})["parents"] = list(
        parents
    )


def resolve(fake: FakeGitHub, repo: Repo, ref: str) -> str | None:
    """Return the commit a sha, branch name or `HEAD` names, as GitHub resolves it.

    `HEAD` is the default branch; a default branch with no ref set is the
    repository's last added commit (tests that only add commits).
    """
    if ref in repo.commits:
        return ref
    if ref == "HEAD":
        ref = repo.default_branch
    sha = refs_of(fake, repo.full_name).get(f"heads/{ref}")
    if sha is None and ref == repo.default_branch and repo.commits:
        sha = list(repo.commits)[-1]
    return sha


def read_file(fake: FakeGitHub, full_name: str, sha: str, path: str) -> bytes | None:
    """Return the bytes of `path` at commit `sha`, if present."""
    repo = fake.repos[full_name]
    for found, entry in repo.walk(repo.commits[sha]):
        if found == path and entry.type == "blob":
            return repo.blobs[entry.sha]
    return None


def is_ancestor(fake: FakeGitHub, full_name: str, old: str, new: str) -> bool:
    """Return whether commit `old` is `new` or one of its ancestors."""
    metas = meta_of(fake, full_name)
    todo, seen = [new], set()
    while todo:
        sha = todo.pop()
        if sha == old:
            return True
        if sha in seen:
            continue
        seen.add(sha)
        todo.extend(metas.get(sha, {}).get("parents", []))
    return False


def repo_of(fake: FakeGitHub, request: web.Request) -> Repo | None:
    """Return the repository named in the URL, if the fake has it."""
    return fake.repos.get(f"{request.match_info['owner']}/{request.match_info['repo']}")


def readable_repo(fake: FakeGitHub, request: web.Request) -> Repo | web.Response:
    """Return the repository named in the URL, or GitHub's 404 or 409 (empty)."""
    repo = repo_of(fake, request)
    if repo is None:
        return error(404, "Not Found")
    if repo.empty:
        return error(409, "Git Repository is empty.")
    return repo


def _write_refused(
    fake: FakeGitHub, request: web.Request, repo: Repo, ref: str | None = None
) -> web.Response | None:
    """Return GitHub's 403 when the token may not write to `repo` (or `ref`)."""
    credential = request.headers.get("authorization", "").partition(" ")[2]
    installation = fake.tokens.get(credential)
    if installation == repo.installation_id:
        return None
    pulls: dict[str, dict[int, Any]] = fake.extra.get("pulls", {})
    for base, numbered in pulls.items():
        for pull in numbered.values():
            if (
                pull.head_repo == repo.full_name
                and pull.state == "open"
                and pull.maintainer_can_modify
                and fake.repos[base].installation_id == installation
                and ref in (None, f"heads/{pull.head_ref}")
            ):
                return None
    return error(403, "Resource not accessible by integration")


def _api(request: web.Request, path: str) -> str:
    return f"{request.scheme}://{request.host}{path}"


def _ref_body(request: web.Request, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
    body = example("git-ref")
    body["ref"] = f"refs/{ref}"
    body["url"] = _api(request, f"/repos/{repo.full_name}/git/refs/{ref}")
    body["object"] = {
        "type": "commit",
        "sha": sha,
        "url": _api(request, f"/repos/{repo.full_name}/git/commits/{sha}"),
    }
    return body


def _commit_body(
    fake: FakeGitHub, request: web.Request, repo: Repo, sha: str
) -> dict[str, Any]:
    meta = meta_of(fake, repo.full_name).get(sha, {})
    body = example("git-commit")
    base = f"/repos/{repo.full_name}/git"
    body.update(
        sha=sha,
        url=_api(request, f"{base}/commits/{sha}"),
        html_url=f"https://github.com/{repo.full_name}/commit/{sha}",
        message=meta.get("message", "commit"),
    )
    body["tree"] = {
        "sha": repo.commits[sha],
        "url": _api(request, f"{base}/trees/{repo.commits[sha]}"),
    }
    body["parents"] = [
        {
            "sha": p,
            "url": _api(request, f"{base}/commits/{p}"),
            "html_url": f"https://github.com/{repo.full_name}/commit/{p}",
        }
        for p in meta.get("parents", [])
    ]
    return body


def _tree_with(repo: Repo, base_tree: str | None, items: list[dict[str, Any]]) -> str:
    """Return the sha of `base_tree` with `items` written over it (None deletes)."""
    files: dict[str, Entry | None] = {}
    if base_tree is not None:
        for path, entry in repo.walk(base_tree):
            if entry.type != "tree":
                files[path] = entry
    for item in items:
        path = item["path"]
        if item.get("sha", "") is None:
            files[path] = None
            continue
        if "content" in item:
            data = str(item["content"]).encode()
            sha = repo.add_blob(data)
        else:
            sha = item["sha"]
            data = repo.blobs[sha]
        name = path.rsplit("/", 1)[-1]
        files[path] = Entry(name, item.get("mode", MODE_FILE), "blob", sha, len(data))
    root: dict[str, Any] = {}
    for path, maybe in files.items():
        if maybe is None:
            continue
        node = root
        *dirs, _name = path.split("/")
        for part in dirs:
            node = node.setdefault(part, {})
        node[maybe.name] = maybe
    return repo.build_tree(root)


def add_routes(routes: web.RouteTableDef, fake: FakeGitHub) -> None:
    """Register the git data write endpoints and ref reads."""

    @routes.post("/repos/{owner}/{repo}/git/blobs")
    async def create_blob(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        if repo is None:
            return error(404, "Not Found")
        refused = _write_refused(fake, request, repo)
        if refused is not None:
            return refused
        body = await request.json()
        if body.get("encoding") == "base64":
            data = base64.b64decode(body["content"])
        else:
            data = str(body["content"]).encode()
        sha = repo.add_blob(data)
        return web.json_response(
            {
                "sha": sha,
                "url": _api(request, f"/repos/{repo.full_name}/git/blobs/{sha}"),
            },
            status=201,
        )

    @routes.post("/repos/{owner}/{repo}/git/trees")
    async def create_tree(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        if repo is None:
            return error(404, "Not Found")
        refused = _write_refused(fake, request, repo)
        if refused is not None:
            return refused
        body = await request.json()
        base_tree = body.get("base_tree")
        if base_tree is not None and base_tree not in repo.trees:
            return error(422, "base_tree is not a valid tree")
        for item in body.get("tree", []):
            sha = item.get("sha")
            if "content" not in item and sha is not None and sha not in repo.blobs:
                return error(422, f"tree.sha {sha} is not a valid blob")
        sha = _tree_with(repo, base_tree, body.get("tree", []))
        items = [
            {
                "path": e.name,
                "mode": e.mode,
                "type": e.type,
                "sha": e.sha,
                "url": _api(request, f"/repos/{repo.full_name}/git/{e.type}s/{e.sha}"),
                **({"size": e.size} if e.type == "blob" else {}),
            }
            for e in repo.trees[sha]
        ]
        return web.json_response(
            {
                "sha": sha,
                "url": _api(request, f"/repos/{repo.full_name}/git/trees/{sha}"),
                "tree": items,
                "truncated": False,
            },
            status=201,
        )

    @routes.post("/repos/{owner}/{repo}/git/commits")
    async def create_commit(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        if repo is None:
            return error(404, "Not Found")
        refused = _write_refused(fake, request, repo)
        if refused is not None:
            return refused
        body = await request.json()
        tree, parents = body["tree"], list(body.get("parents", []))
        if tree not in repo.trees:
            return error(422, "Tree SHA does not exist")
        if any(p not in repo.commits for p in parents):
            return error(422, "Parent SHA does not exist")
        raw = f"tree {tree}\n" + "".join(f"parent {p}\n" for p in parents)
        sha = git_sha("commit", (raw + "\n" + body["message"]).encode())
        repo.commits[sha] = tree
        meta_of(fake, repo.full_name)[sha] = {
            "message": body["message"],
            "parents": parents,
        }
        return web.json_response(_commit_body(fake, request, repo, sha), status=201)

    @routes.get("/repos/{owner}/{repo}/git/commits/{sha}")
    async def get_commit(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        sha = request.match_info["sha"]
        if repo is None or sha not in repo.commits:
            return error(404, "Not Found")
        return web.json_response(_commit_body(fake, request, repo, sha))

    @routes.get("/repos/{owner}/{repo}/commits/{ref:.+}")
    async def get_commit_of_ref(request: web.Request) -> web.Response:
        # Registered last: `commits/{sha}/pulls` and `/check-runs` match first.
        repo = readable_repo(fake, request)
        if isinstance(repo, web.Response):
            return repo
        sha = resolve(fake, repo, request.match_info["ref"])
        if sha is None:
            return error(422, f"No commit found for SHA: {request.match_info['ref']}")
        git = _commit_body(fake, request, repo, sha)
        body = example("commit")
        body.update(
            sha=sha,
            node_id="C_" + sha[:12],
            url=_api(request, f"/repos/{repo.full_name}/commits/{sha}"),
            html_url=git["html_url"],
            comments_url=git["url"].replace("/git/commits/", "/commits/") + "/comments",
            parents=git["parents"],
            files=[],
        )
        body["commit"]["tree"] = git["tree"]
        body["commit"]["message"] = git["message"]
        return web.json_response(body)

    @routes.get("/repos/{owner}/{repo}/git/ref/{ref:.+}")
    async def get_ref(request: web.Request) -> web.Response:
        repo = readable_repo(fake, request)
        if isinstance(repo, web.Response):
            return repo
        ref = request.match_info["ref"]
        sha = refs_of(fake, repo.full_name).get(ref)
        if sha is None:
            return error(404, "Not Found")
        return web.json_response(_ref_body(request, repo, ref, sha))

    @routes.post("/repos/{owner}/{repo}/git/refs")
    async def create_ref(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        if repo is None:
            return error(404, "Not Found")
        refused = _write_refused(fake, request, repo)
        if refused is not None:
            return refused
        body = await request.json()
        full_ref, sha = str(body["ref"]), str(body["sha"])
        if not full_ref.startswith("refs/") or full_ref.count("/") < 2:
            return error(422, "ref must be fully qualified")
        ref = full_ref.removeprefix("refs/")
        refs = refs_of(fake, repo.full_name)
        if ref in refs:
            return error(422, "Reference already exists")
        if sha not in repo.commits:
            return error(422, "Object does not exist")
        refs[ref] = sha
        return web.json_response(_ref_body(request, repo, ref, sha), status=201)

    @routes.patch("/repos/{owner}/{repo}/git/refs/{ref:.+}")
    async def update_ref(request: web.Request) -> web.Response:
        repo = repo_of(fake, request)
        if repo is None:
            return error(404, "Not Found")
        ref = request.match_info["ref"]
        refused = _write_refused(fake, request, repo, ref)
        if refused is not None:
            return refused
        refs = refs_of(fake, repo.full_name)
        if ref not in refs:
            return error(422, "Reference does not exist")
        body = await request.json()
        sha = str(body["sha"])
        if sha not in repo.commits:
            return error(422, "Object does not exist")
        if not body.get("force", False) and not is_ancestor(
            fake, repo.full_name, refs[ref], sha
        ):
            return error(422, "Update is not a fast forward")
        refs[ref] = sha
        return web.json_response(_ref_body(request, repo, ref, sha))
