"""Fake pull requests, their files and reviews, issue comments, reactions, permissions.

State lives in `fake.extra`: "pulls" (full name -> number -> FakePull),
"issue_comments", "reviews", "review_comments", "reactions" (lists of the JSON
the fake answered, each with a "_repo" key) and "permissions"
((full name, login) -> permission). File patches are computed from the base
and head trees like git does (3 lines of context), and a review whose comment
lines are not inside one hunk is refused with GitHub's 422 texts.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from tests.fake_github.git_data import set_branch
from tests.fake_github.server import error
from tests.fake_github.state import FakeGitHub, Repo, example

CONTEXT: Final = 3
APP_LOGIN: Final = "musl-check[bot]"
# GitHub shows no patch for files whose diff is too large.
MAX_PATCH_LINES: Final = 20_000


@dataclass
class FakePull:
    """One pull request of the fake (on the base repository)."""

    number: int
    base_repo: str
    head_sha: str
    base_sha: str
    head_ref: str
    base_ref: str = "main"
    head_repo: str | None = None  # None: the fork was deleted
    user: str = "octocat"
    state: str = "open"
    title: str = "Update dependencies"
    body: str = ""
    maintainer_can_modify: bool = True


def pulls_of(fake: FakeGitHub, full_name: str) -> dict[int, FakePull]:
    """Return the pull requests of a repository by number."""
    pulls: dict[str, dict[int, FakePull]] = fake.extra.setdefault("pulls", {})
    return pulls.setdefault(full_name, {})


def add_pull(
    fake: FakeGitHub,
    full_name: str,
    number: int,
    *,
    head_sha: str,
    base_sha: str,
    head_ref: str = "update-deps",
    base_ref: str = "main",
    head_repo: str | None = "",
    user: str = "octocat",
    maintainer_can_modify: bool = True,
) -> FakePull:
    """Add a pull request; `head_repo` "" means the same repository.

    Head branches get refs (a fork's only when the fake has that repository);
    the base branch points at `base_sha` unless it already exists.
    """
    repo = fake.repos[full_name]
    head_full = full_name if head_repo == "" else head_repo
    pull = FakePull(
        number, full_name, head_sha, base_sha, head_ref, base_ref, head_full, user
    )
    pull.maintainer_can_modify = maintainer_can_modify
    pulls_of(fake, full_name)[number] = pull
    repo.pulls.setdefault(head_sha, []).append(number)
    if head_full is not None and head_full in fake.repos:
        set_branch(fake, head_full, head_ref, head_sha)
    refs = fake.extra.setdefault("refs", {}).setdefault(full_name, {})
    refs.setdefault(f"heads/{base_ref}", base_sha)
    return pull


def set_permission(fake: FakeGitHub, full_name: str, login: str, perm: str) -> None:
    """Give `login` a permission (admin, write, read, none) on a repository."""
    fake.extra.setdefault("permissions", {})[(full_name, login)] = perm


def recorded(fake: FakeGitHub, kind: str, full_name: str | None = None) -> list[Any]:
    """Return the stored comments/reviews/reactions of `kind` (one repo if given)."""
    items: list[Any] = fake.extra.setdefault(kind, [])
    return [i for i in items if full_name in (None, i["_repo"])]


def add_issue_comment(
    fake: FakeGitHub,
    full_name: str,
    number: int,
    body: str,
    *,
    login: str = "octocat",
    user_type: str = "User",
) -> dict[str, Any]:
    """Store an issue comment (as if someone had posted it); return its JSON."""
    comment = example("issue-comment")
    comment.update(id=fake.next_id(), body=body)
    comment["user"] = _user(login, user_type)
    comment["_repo"] = full_name
    comment["_issue"] = number
    fake.extra.setdefault("issue_comments", []).append(comment)
    return comment


def _user(login: str, user_type: str = "User") -> dict[str, Any]:
    user: dict[str, Any] = copy.deepcopy(example("issue-comment")["user"])
    user.update(login=login, type=user_type, id=abs(hash(login)) % 10**7 + 1)
    return user


_PRIVATE: Final = frozenset({"_repo", "_pull", "_issue", "_comment", "_edits"})


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _PRIVATE}


def _files(repo: Repo, tree: str) -> dict[str, str]:
    return {p: e.sha for p, e in repo.walk(tree) if e.type == "blob"}


def _hunks(old: list[str], new: list[str]) -> list[tuple[str, list[int], int, int]]:
    """Return (header+body, RIGHT lines shown, additions, deletions) per hunk."""
    out = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(CONTEXT):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        old_start = i1 + 1 if i2 > i1 else i1
        new_start = j1 + 1 if j2 > j1 else j1
        lines = [f"@@ -{old_start},{i2 - i1} +{new_start},{j2 - j1} @@"]
        adds = dels = 0
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                lines.extend(" " + line for line in old[a1:a2])
                continue
            lines.extend("-" + line for line in old[a1:a2])
            lines.extend("+" + line for line in new[b1:b2])
            dels += a2 - a1
            adds += b2 - b1
        out.append(("\n".join(lines), list(range(j1 + 1, j2 + 1)), adds, dels))
    return out


def _decode(data: bytes) -> list[str] | None:
    if b"\0" in data[:8000]:
        return None
    return data.decode("utf-8", errors="replace").splitlines()


def diff_files(fake: FakeGitHub, pull: FakePull) -> list[dict[str, Any]]:
    """Return the changed files of a pull request with hunks (internal form)."""
    repo = fake.repos[pull.base_repo]
    base = _files(repo, repo.commits[pull.base_sha])
    head = _files(repo, repo.commits[pull.head_sha])
    out = []
    for path in sorted(set(base) | set(head)):
        if base.get(path) == head.get(path):
            continue
        old = _decode(repo.blobs[base[path]]) if path in base else []
        new = _decode(repo.blobs[head[path]]) if path in head else []
        status = (
            "added"
            if path not in base
            else "removed"
            if path not in head
            else ("modified")
        )
        item: dict[str, Any] = {
            "filename": path,
            "status": status,
            "sha": head.get(path),
        }
        if old is None or new is None:
            item.update(additions=0, deletions=0, hunks=None)
        else:
            hunks = _hunks(old, new)
            item.update(
                additions=sum(h[2] for h in hunks),
                deletions=sum(h[3] for h in hunks),
                hunks=hunks,
            )
        out.append(item)
    return out


def _check_comment(files: dict[str, Any], comment: dict[str, Any]) -> str | None:
    """Return GitHub's 422 message for a review comment, or None if it is valid."""
    item = files.get(comment.get("path", ""))
    if item is None or item["hunks"] is None:
        return "Pull request review thread path is invalid"
    if comment.get("side", "RIGHT") != "RIGHT":
        return "the fake only models RIGHT-side comments"
    line = comment.get("line")
    start = comment.get("start_line", line)
    if not isinstance(line, int) or not isinstance(start, int):
        return "Pull request review thread line must be part of the diff"
    if "start_line" in comment and start >= line:
        return "Pull request review thread start line must precede the end line"
    for _text, shown, _a, _d in item["hunks"]:
        if line in shown:
            if start not in shown:
                return (
                    "Pull request review thread start line must be part of the "
                    "same hunk as the line."
                )
            return None
    return "Pull request review thread line must be part of the diff"


def _pull_json(
    request: web.Request, fake: FakeGitHub, pull: FakePull
) -> dict[str, Any]:
    repo = fake.repos[pull.base_repo]
    body = example("pull-request")
    body.update(
        number=pull.number,
        id=10_000 + pull.number,
        state=pull.state,
        title=pull.title,
        body=pull.body,
        maintainer_can_modify=pull.maintainer_can_modify,
        merged=False,
        html_url=f"https://github.com/{repo.full_name}/pull/{pull.number}",
    )
    body["user"] = _user(pull.user)
    body["requested_teams"] = []
    base_repo = copy.deepcopy(body["base"]["repo"])
    base_repo.update(
        id=repo.id,
        name=repo.name,
        full_name=repo.full_name,
        default_branch=repo.default_branch,
    )
    base_repo["owner"] = _user(repo.owner, "Organization")
    body["base"].update(ref=pull.base_ref, sha=pull.base_sha, repo=base_repo)
    body["base"]["label"] = f"{repo.owner}:{pull.base_ref}"
    head_repo: dict[str, Any] | None = None
    if pull.head_repo is not None:
        owner, name = pull.head_repo.split("/")
        head_repo = copy.deepcopy(base_repo)
        head_repo.update(
            name=name,
            full_name=pull.head_repo,
            id=repo.id if pull.head_repo == repo.full_name else repo.id + 7,
            fork=pull.head_repo != repo.full_name,
        )
        head_repo["owner"] = _user(owner)
    body["head"].update(ref=pull.head_ref, sha=pull.head_sha, repo=head_repo)
    body["head"]["label"] = (
        f"{(pull.head_repo or 'ghost/x').split('/')[0]}:{pull.head_ref}"
    )
    return body


def add_routes(routes: web.RouteTableDef, fake: FakeGitHub) -> None:
    """Register the pull request, comment, reaction and permission endpoints."""

    def repo_and_pull(request: web.Request) -> tuple[Repo, FakePull] | None:
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if full not in fake.repos:
            return None
        number = int(request.match_info["number"])
        pull = pulls_of(fake, full).get(number)
        return None if pull is None else (fake.repos[full], pull)

    @routes.get("/repos/{owner}/{repo}/pulls/{number:\\d+}")
    async def get_pull(request: web.Request) -> web.Response:
        found = repo_and_pull(request)
        if found is None:
            return error(404, "Not Found")
        return web.json_response(_pull_json(request, fake, found[1]))

    @routes.get("/repos/{owner}/{repo}/pulls/{number:\\d+}/files")
    async def list_files(request: web.Request) -> web.Response:
        found = repo_and_pull(request)
        if found is None:
            return error(404, "Not Found")
        repo, pull = found
        out = []
        for item in diff_files(fake, pull):
            path = item["filename"]
            entry: dict[str, Any] = {
                "sha": item["sha"],
                "filename": path,
                "status": item["status"],
                "additions": item["additions"],
                "deletions": item["deletions"],
                "changes": item["additions"] + item["deletions"],
                "blob_url": f"https://github.com/{repo.full_name}/blob/{pull.head_sha}/{path}",
                "raw_url": f"https://github.com/{repo.full_name}/raw/{pull.head_sha}/{path}",
                "contents_url": f"https://api.github.com/repos/{repo.full_name}/contents/{path}?ref={pull.head_sha}",
            }
            hunks = item["hunks"]
            if (
                hunks is not None
                and sum(len(h[0]) for h in hunks) < MAX_PATCH_LINES * 80
            ):
                entry["patch"] = "\n".join(h[0] for h in hunks)
            out.append(entry)
        return web.json_response(out)

    @routes.post("/repos/{owner}/{repo}/pulls/{number:\\d+}/reviews")
    async def create_review(request: web.Request) -> web.Response:
        found = repo_and_pull(request)
        if found is None:
            return error(404, "Not Found")
        repo, pull = found
        body = await request.json()
        files = {f["filename"]: f for f in diff_files(fake, pull)}
        for comment in body.get("comments", []):
            problem = _check_comment(files, comment)
            if problem is not None:
                return error(422, problem)
        review = example("pull-request-review")
        review.update(
            id=fake.next_id(),
            body=body.get("body", ""),
            state="COMMENTED" if body.get("event") == "COMMENT" else "PENDING",
            commit_id=body.get("commit_id", pull.head_sha),
        )
        review["user"] = _user(APP_LOGIN, "Bot")
        review["_repo"] = repo.full_name
        review["_pull"] = pull.number
        fake.extra.setdefault("reviews", []).append(review)
        template = example("pull-request-review-comment-items")[0]
        for comment in body.get("comments", []):
            stored = copy.deepcopy(template)
            stored.update(
                id=fake.next_id(),
                pull_request_review_id=review["id"],
                path=comment["path"],
                body=comment["body"],
                commit_id=review["commit_id"],
                original_commit_id=review["commit_id"],
                line=comment["line"],
                side=comment.get("side", "RIGHT"),
                start_line=comment.get("start_line"),
                start_side=comment.get("start_side"),
            )
            stored.pop("in_reply_to_id", None)
            stored["user"] = _user(APP_LOGIN, "Bot")
            stored["_repo"] = repo.full_name
            stored["_pull"] = pull.number
            fake.extra.setdefault("review_comments", []).append(stored)
        return web.json_response(_public(review))

    @routes.get("/repos/{owner}/{repo}/pulls/{number:\\d+}/comments")
    async def list_review_comments(request: web.Request) -> web.Response:
        found = repo_and_pull(request)
        if found is None:
            return error(404, "Not Found")
        repo, pull = found
        return web.json_response(
            [
                _public(c)
                for c in recorded(fake, "review_comments", repo.full_name)
                if c["_pull"] == pull.number
            ]
        )

    @routes.get("/repos/{owner}/{repo}/issues/{number:\\d+}/comments")
    async def list_issue_comments(request: web.Request) -> web.Response:
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        number = int(request.match_info["number"])
        return web.json_response(
            [
                _public(c)
                for c in recorded(fake, "issue_comments", full)
                if c["_issue"] == number
            ]
        )

    @routes.post("/repos/{owner}/{repo}/issues/{number:\\d+}/comments")
    async def create_issue_comment(request: web.Request) -> web.Response:
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if full not in fake.repos:
            return error(404, "Not Found")
        body = await request.json()
        if len(body.get("body", "")) > 65_536:
            return error(422, "Body is too long (maximum is 65536 characters)")
        comment = add_issue_comment(
            fake,
            full,
            int(request.match_info["number"]),
            body["body"],
            login=APP_LOGIN,
            user_type="Bot",
        )
        return web.json_response(_public(comment), status=201)

    @routes.patch("/repos/{owner}/{repo}/issues/comments/{id:\\d+}")
    async def update_issue_comment(request: web.Request) -> web.Response:
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        wanted = int(request.match_info["id"])
        body = await request.json()
        if len(body.get("body", "")) > 65_536:
            return error(422, "Body is too long (maximum is 65536 characters)")
        for comment in recorded(fake, "issue_comments", full):
            if comment["id"] == wanted:
                comment["body"] = body["body"]
                comment.setdefault("_edits", 0)
                comment["_edits"] += 1
                return web.json_response(_public(comment))
        return error(404, "Not Found")

    @routes.post("/repos/{owner}/{repo}/issues/comments/{id:\\d+}/reactions")
    async def react(request: web.Request) -> web.Response:
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        body = await request.json()
        reaction = example("reaction")
        reaction.update(id=fake.next_id(), content=body["content"])
        reaction["user"] = _user(APP_LOGIN, "Bot")
        reaction["_repo"] = full
        reaction["_comment"] = int(request.match_info["id"])
        fake.extra.setdefault("reactions", []).append(reaction)
        return web.json_response(_public(reaction), status=201)

    @routes.get("/repos/{owner}/{repo}/collaborators/{user}/permission")
    async def permission(request: web.Request) -> web.Response:
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        login = request.match_info["user"]
        perm = fake.extra.get("permissions", {}).get((full, login))
        if perm is None:
            return error(404, "Not Found")
        body = example(
            "repository-collaborator-permission-response-if-user-has-admin-permissions"
        )
        body.update(permission=perm, role_name=perm)
        # The schema's collaborator object requires the user's role too.
        body["user"] = {**_user(login), "role_name": perm}
        return web.json_response(body)

    @routes.get("/repos/{owner}/{repo}/pulls")
    async def list_pulls(request: web.Request) -> web.Response:
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if full not in fake.repos:
            return error(404, "Not Found")
        state = request.query.get("state", "open")
        head = request.query.get("head")
        out = []
        for pull in pulls_of(fake, full).values():
            if state != "all" and pull.state != state:
                continue
            owner = (pull.head_repo or "ghost/x").split("/")[0]
            if head is not None and head != f"{owner}:{pull.head_ref}":
                continue
            simple = example("pull-request-simple-items")[0]
            full_json = _pull_json(request, fake, pull)
            for key in ("number", "id", "state", "title", "body", "html_url"):
                simple[key] = full_json[key]
            simple["requested_teams"] = []
            simple["head"].update(
                ref=pull.head_ref, sha=pull.head_sha, repo=full_json["head"]["repo"]
            )
            simple["base"].update(
                ref=pull.base_ref, sha=pull.base_sha, repo=full_json["base"]["repo"]
            )
            out.append(simple)
        return web.json_response(out)

    @routes.post("/repos/{owner}/{repo}/pulls")
    async def create_pull(request: web.Request) -> web.Response:
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        repo = fake.repos.get(full)
        if repo is None:
            return error(404, "Not Found")
        body = await request.json()
        refs = fake.extra.setdefault("refs", {}).setdefault(full, {})
        head_sha = refs.get(f"heads/{body['head']}")
        base_sha = refs.get(f"heads/{body['base']}")
        if head_sha is None or base_sha is None:
            return error(422, "Validation Failed: head or base does not exist")
        for pull in pulls_of(fake, full).values():
            if pull.state == "open" and pull.head_ref == body["head"]:
                return error(
                    422,
                    f"A pull request already exists for {repo.owner}:{body['head']}.",
                )
        number = max(pulls_of(fake, full), default=0) + 1
        pull = add_pull(
            fake,
            full,
            number,
            head_sha=head_sha,
            base_sha=base_sha,
            head_ref=body["head"],
            base_ref=body["base"],
            user=APP_LOGIN,
        )
        pull.title, pull.body = body["title"], body.get("body", "")
        return web.json_response(_pull_json(request, fake, pull), status=201)
