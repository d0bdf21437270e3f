"""GitHub requests spent per trigger, counted on the local fake GitHub.

Runs the real server (create_app) against tests/fake_github in this process
and prints the requests each delivery made. Budget (docs/architecture.md): a
push to a pull request whose config files did not change costs at most 2
requests (tree + check run) for all the deliveries announcing it
(check_suite.requested listing the pull request, pull_request.synchronize),
in either order, with warm token and blob caches, also on an at-risk pull
request whose suggestion and summary comment were already posted. Then the
organisation scan's triage cost per repository: no sign of Rust, empty,
archived (as the repository listing says), a Rust project. The last line says
whether the push budget holds. libc's index is served locally
(tests/fixes/index_data.py), as the tests do.
"""

from __future__ import annotations

import asyncio
import copy
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.github.routes.installation import (  # noqa: E402
    ScanRepository,
    scan_repositories,
)
from bot.server import create_app, drain, sign  # noqa: E402
from bot.server.app import CONTEXT_KEY  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store.sqlite import SqliteStore  # noqa: E402
from tests.conftest import APP_ID  # noqa: E402
from tests.fake_github import FakeGitHub, create_fake_app, folder_files  # noqa: E402
from tests.fake_github.pulls import add_pull, recorded  # noqa: E402
from tests.fixes.index_data import IndexServer, index_app  # noqa: E402
from tests.keys import app_key_pair  # noqa: E402

CASE = ROOT / "tests" / "corpus" / "BurntSushi__ripgrep@a7f1276021"
WEBHOOKS = ROOT / "tests" / "fixtures" / "webhooks"
SECRET = "bench-secret"
REPO = "acme/app"
BUDGET = 2
PULL = 7
# The two orders GitHub may deliver a pull-request push in.
ORDERS = (
    ("check_suite.requested", "pull_request.synchronize"),
    ("pull_request.synchronize", "check_suite.requested"),
)


def payload(name: str, fake: FakeGitHub, sha: str, base: str) -> dict[str, Any]:
    """Return the real payload `<event>/<action>.json` pointed at the fake repo."""
    event, action = name.split(".")
    data: dict[str, Any] = json.loads((WEBHOOKS / event / f"{action}.json").read_text())
    repo = fake.repos[REPO]
    data["repository"].update(id=repo.id, name=repo.name, full_name=REPO)
    data["repository"]["owner"]["login"] = repo.owner
    data["installation"]["id"] = repo.installation_id
    if event == "check_suite":
        data["check_suite"].update(head_sha=sha, after=sha, head_branch="update")
        ref = {"repo": {"id": repo.id, "url": "https://x", "name": repo.name}}
        data["check_suite"]["pull_requests"] = [
            {
                "url": "https://x",
                "id": 1,
                "number": PULL,
                "head": {"ref": "update", "sha": sha, **ref},
                "base": {"ref": "main", "sha": base, **ref},
            }
        ]
    else:
        pull = data["pull_request"]
        pull["number"] = data["number"] = PULL
        pull["head"]["sha"] = sha
        pull["base"]["sha"] = base
        pull["head"]["repo"] = copy.deepcopy(data["repository"])
        pull["base"]["repo"] = copy.deepcopy(data["repository"])
    return data


def _short(path: str) -> str:
    """Return the path without the repository prefix and with shas shortened."""
    parts = path.removeprefix(f"/repos/{REPO}").split("/")
    return "/".join(p[:7] if len(p) == 40 else p for p in parts)


async def main() -> None:
    pem, public = app_key_pair()
    fake = FakeGitHub(APP_ID, public)
    files = folder_files(CASE)
    fake.add_repo(REPO)
    fake.add_commit(REPO, files)
    second = fake.add_commit(REPO, {**files, "src/main.rs": b"fn main() {}\n"})
    # The pull request adds Cargo.lock, so the libc lines are in its diff.
    base = fake.add_commit(REPO, {p: d for p, d in files.items() if p != "Cargo.lock"})
    pull = add_pull(fake, REPO, PULL, head_sha=second, base_sha=base)
    index = IndexServer()
    async with (
        TestServer(create_fake_app(fake)) as gh_server,
        TestServer(index_app(index)) as index_server,
    ):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                app_id=str(APP_ID),
                private_key=pem,
                webhook_secrets=(SECRET,),
                api_url=str(gh_server.make_url("")).rstrip("/"),
                crates_index_url=str(index_server.make_url("")).rstrip("/"),
            )
            store = SqliteStore.open(str(Path(tmp) / "bench.sqlite3"))
            # Without the missed-delivery listing: only the deliveries count.
            app = create_app(settings, store=store, recovery_interval_s=0)
            async with TestClient(TestServer(app)) as client:

                async def deliver(name: str, sha: str) -> int:
                    before = len(fake.requests)
                    body = json.dumps(payload(name, fake, sha, base)).encode()
                    resp = await client.post(
                        "/webhook",
                        data=body,
                        headers={
                            "content-type": "application/json",
                            "x-github-event": name.split(".")[0],
                            "x-github-delivery": str(uuid.uuid4()),
                            "x-hub-signature-256": sign(body, SECRET),
                        },
                    )
                    assert resp.status == 202, resp.status
                    await drain(app, 60)
                    spent = fake.requests[before:]
                    calls = ", ".join(f"{r.method} {_short(r.path)}" for r in spent)
                    print(f"{name:<28} {sha[:8]}  {len(spent):>2} requests  ({calls})")
                    return len(spent)

                print(f"case: {CASE.name}, {len(files)} files read per commit")
                cold = await deliver("pull_request.opened", second)
                pushes: dict[str, int] = {}
                for n, order in enumerate(ORDERS):
                    # Each push changes source code only: every read blob is
                    # unchanged, the pull request's feedback too.
                    sha = fake.add_commit(
                        REPO, {**files, "src/main.rs": f"fn main() {{{n}}}".encode()}
                    )
                    pull.head_sha = sha
                    pushes[" then ".join(order)] = sum(
                        [await deliver(name, sha) for name in order]
                    )
                triage = await scan_costs(fake, app)
            await store.close()
    assert fake.violations == [], fake.violations
    print(f"schema violations: {len(fake.violations)}")
    reviews = len(recorded(fake, "reviews"))
    comments = len(recorded(fake, "issue_comments"))
    print(
        f"pull_request.opened, at risk, cold process: {cold} requests "
        f"({reviews} review, {comments} summary comment posted)"
    )
    print(f"crates index requests: {len(index.requests)}")
    for kind, cost in triage.items():
        print(f"organisation scan, {kind}: {cost} requests")
    worst = max(pushes.values())
    for order, cost in pushes.items():
        print(f"pull-request push, {order}: {cost} requests in total")
    verdict = "ok" if worst <= BUDGET else "OVER BUDGET"
    print(
        f"pull-request push, config unchanged: {worst} requests "
        f"(budget {BUDGET}): {verdict}"
    )


async def scan_costs(fake: FakeGitHub, app: web.Application) -> dict[str, int]:
    """Return the requests the organisation scan spends per kind of repository."""
    node = fake.add_repo("acme/web")
    fake.add_commit("acme/web", {"package.json": b"{}", "README.md": b"# web"})
    fake.add_repo("acme/empty").empty = True
    rust = fake.add_repo("acme/tool")
    fake.add_commit("acme/tool", folder_files(CASE))
    kinds = {
        "no sign of Rust": ScanRepository(node.id, "acme", "web", "main", False),
        "empty": ScanRepository(
            fake.repos["acme/empty"].id, "acme", "empty", "main", False
        ),
        "archived": ScanRepository(rust.id, "acme", "tool", "main", True),
        "Rust project, blobs cached": ScanRepository(
            rust.id, "acme", "tool", "main", False
        ),
    }
    costs: dict[str, int] = {}
    for kind, repo in kinds.items():
        before = len(fake.requests)
        await scan_repositories(app[CONTEXT_KEY], repo_installation(fake), [repo])
        costs[kind] = len(fake.requests) - before
    return costs


def repo_installation(fake: FakeGitHub) -> int:
    """Return the installation every repository of the bench belongs to."""
    return fake.repos[REPO].installation_id


if __name__ == "__main__":
    asyncio.run(main())
