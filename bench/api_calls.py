"""GitHub requests spent per trigger, counted on the local fake GitHub.

Runs the real server (create_app) against tests/fake_github in this process
and prints the requests each delivery made. Budget (docs/architecture.md): a
pull_request.synchronize whose config files did not change costs at most 2
requests (tree + check run) with warm token, blob and result caches and an
existing run, also on an at-risk pull request whose suggestion and summary
comment were already posted; the last line says whether it holds. libc's index
is served locally (tests/fixes/index_data.py), as the tests do.
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

from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.server import create_app, drain, sign  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store.sqlite import SqliteStore  # noqa: E402
from tests.fake_github import FakeGitHub, create_fake_app, folder_files  # noqa: E402
from tests.fake_github.pulls import add_pull, recorded  # noqa: E402
from tests.fixes.index_data import IndexServer, index_app  # noqa: E402

CASE = ROOT / "tests" / "corpus" / "BurntSushi__ripgrep@a7f1276021"
WEBHOOKS = ROOT / "tests" / "fixtures" / "webhooks"
APP_ID = 29310
SECRET = "bench-secret"
REPO = "acme/app"
BUDGET = 2
PULL = 7


def payload(name: str, fake: FakeGitHub, sha: str) -> dict[str, Any]:
    """Return the real payload `<event>/<action>.json` pointed at the fake repo."""
    event, action = name.split(".")
    data: dict[str, Any] = json.loads((WEBHOOKS / event / f"{action}.json").read_text())
    repo = fake.repos[REPO]
    data["repository"].update(id=repo.id, name=repo.name, full_name=REPO)
    data["repository"]["owner"]["login"] = repo.owner
    data["installation"]["id"] = repo.installation_id
    if event == "check_suite":
        data["check_suite"].update(head_sha=sha, after=sha)
    else:
        pull = data["pull_request"]
        pull["number"] = data["number"] = PULL
        pull["head"]["sha"] = sha
        pull["head"]["repo"] = copy.deepcopy(data["repository"])
        pull["base"]["repo"] = copy.deepcopy(data["repository"])
    return data


def _short(path: str) -> str:
    """Return the path without the repository prefix and with shas shortened."""
    parts = path.removeprefix(f"/repos/{REPO}").split("/")
    return "/".join(p[:7] if len(p) == 40 else p for p in parts)


async def main() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fake = FakeGitHub(APP_ID, public)
    files = folder_files(CASE)
    fake.add_repo(REPO)
    first = fake.add_commit(REPO, files)
    # The next push changes only source code: every read blob is unchanged.
    second = fake.add_commit(REPO, {**files, "src/main.rs": b"fn main() {}\n"})
    third = fake.add_commit(REPO, {**files, "src/main.rs": b"fn main() {1;}\n"})
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
                    body = json.dumps(payload(name, fake, sha)).encode()
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
                cold = await deliver("check_suite.requested", first)
                new_sha = await deliver("check_suite.requested", second)
                opened = await deliver("pull_request.opened", second)
                pull.head_sha = third
                await deliver("check_suite.requested", third)
                warm = await deliver("pull_request.synchronize", third)
            await store.close()
    assert fake.violations == [], fake.violations
    print(f"schema violations: {len(fake.violations)}")
    print(f"check_suite.requested, cold process: {cold} requests")
    print(f"check_suite.requested, new sha, blobs cached, no run yet: {new_sha}")
    reviews = len(recorded(fake, "reviews"))
    comments = len(recorded(fake, "issue_comments"))
    print(
        f"pull_request.opened, at risk, checked sha: {opened} requests "
        f"({reviews} review, {comments} summary comment posted)"
    )
    print(f"crates index requests: {len(index.requests)}")
    verdict = "ok" if warm <= BUDGET else "OVER BUDGET"
    print(
        f"pull_request.synchronize, config unchanged: {warm} requests "
        f"(budget {BUDGET}): {verdict}"
    )


if __name__ == "__main__":
    asyncio.run(main())
