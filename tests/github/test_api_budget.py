"""The GitHub request budget of one commit announced by several triggers.

GitHub announces a push to a pull request's branch twice, as
`check_suite.requested` (listing the pull request) and
`pull_request.synchronize`, in either order (docs/github.md 4.3). With
unchanged config files the whole push costs the tree and one check-run
request (docs/architecture.md, budgets), counted on the fake's recorded
requests for each order.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fake_github import FakeGitHub, folder_files
from tests.fake_github.pulls import add_pull, recorded
from tests.github.conftest import (
    REPO,
    RIPGREP_CASE,
    Deliver,
    adjust,
    load_payload,
)

PULL = 7


def suite_payload(fake: FakeGitHub, sha: str, base: str = "0" * 40) -> dict[str, Any]:
    """Return a real check_suite.requested payload listing the pull request."""
    data = adjust(
        "check_suite.requested",
        load_payload("check_suite.requested"),
        fake,
        repo=REPO,
        sha=sha,
    )
    repo = data["repository"]
    ref = {"repo": {"id": repo["id"], "url": repo["url"], "name": repo["name"]}}
    data["check_suite"]["head_branch"] = "update-deps"
    data["check_suite"]["pull_requests"] = [
        {
            "url": f"{repo['url']}/pulls/{PULL}",
            "id": 1,
            "number": PULL,
            "head": {"ref": "update-deps", "sha": sha, **ref},
            "base": {"ref": "main", "sha": base, **ref},
        }
    ]
    return data


def pull_payload(fake: FakeGitHub, name: str, sha: str, base: str) -> dict[str, Any]:
    """Return a real pull_request payload for the pull request at `sha`."""
    data = adjust(name, load_payload(name), fake, repo=REPO, sha=sha, pull_number=PULL)
    data["pull_request"]["base"]["sha"] = base
    return data


@pytest.mark.parametrize(
    "order",
    [
        ("check_suite.requested", "pull_request.synchronize"),
        ("pull_request.synchronize", "check_suite.requested"),
    ],
    ids=["suite-first", "pull-first"],
)
async def test_pull_request_push_costs_two_requests_in_any_order(
    order: tuple[str, str], fake_github: FakeGitHub, deliver: Deliver
) -> None:
    files = folder_files(RIPGREP_CASE)
    base = fake_github.add_commit(
        REPO, {p: d for p, d in files.items() if p != "Cargo.lock"}
    )
    first = fake_github.add_commit(REPO, files)
    pull = add_pull(fake_github, REPO, PULL, head_sha=first, base_sha=base)
    # The pull request is at risk: its suggestion and summary are posted once.
    opened = pull_payload(fake_github, "pull_request.opened", first, base)
    await deliver("pull_request.opened", payload=opened)
    assert len(recorded(fake_github, "reviews")) == 1
    assert len(recorded(fake_github, "issue_comments")) == 1
    # The next push changes source code only.
    second = fake_github.add_commit(REPO, {**files, "src/main.rs": b"fn main() {}\n"})
    pull.head_sha = second
    before = len(fake_github.requests)
    for name in order:
        if name.startswith("check_suite"):
            await deliver(name, payload=suite_payload(fake_github, second, base))
        else:
            await deliver(name, payload=pull_payload(fake_github, name, second, base))
    spent = [(r.method, r.path) for r in fake_github.requests[before:]]
    assert spent == [
        ("GET", f"/repos/{REPO}/git/trees/{second}"),
        ("POST", f"/repos/{REPO}/check-runs"),
    ]
    (run,) = fake_github.runs_for(REPO, second)
    assert (run["status"], run["conclusion"]) == ("completed", "neutral")
    assert run["external_id"] == str(PULL)
    assert len(recorded(fake_github, "reviews")) == 1  # unchanged: not repeated
    assert fake_github.violations == []


async def test_changed_feedback_is_still_posted_once(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    files = folder_files(RIPGREP_CASE)
    base = fake_github.add_commit(
        REPO, {p: d for p, d in files.items() if p != "Cargo.lock"}
    )
    clean = {**files, "Cargo.lock": b"version = 3\n"}
    first = fake_github.add_commit(REPO, clean)
    pull = add_pull(fake_github, REPO, PULL, head_sha=first, base_sha=base)
    await deliver("pull_request.opened", sha=first, pull_number=PULL)
    assert recorded(fake_github, "reviews") == []
    # The push brings the old libc back: the suite (first) posts the feedback,
    # the synchronize that follows finds it posted.
    second = fake_github.add_commit(REPO, files)
    pull.head_sha = second
    await deliver(
        "check_suite.requested", payload=suite_payload(fake_github, second, base)
    )
    posted = len(fake_github.requests)
    await deliver("pull_request.synchronize", sha=second, pull_number=PULL)
    assert len(fake_github.requests) == posted
    assert len(recorded(fake_github, "reviews")) == 1
    assert len(fake_github.runs_for(REPO, second)) == 1
    assert fake_github.violations == []


async def test_commit_without_rust_is_read_once(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_commit(REPO, {"package.json": b"{}", "README.md": b"# x"})
    await deliver("check_suite.requested", payload=suite_payload(fake_github, sha))
    await deliver("pull_request.synchronize", sha=sha, pull_number=PULL)
    await deliver("push.with-installation", sha=sha)
    # The token, the tree once, the organisation's default config (cached for
    # minutes, per owner); the later deliveries nothing.
    assert [(r.method, r.path) for r in fake_github.requests] == [
        ("POST", "/app/installations/1/access_tokens"),
        ("GET", f"/repos/{REPO}/git/trees/{sha}"),
        ("GET", "/repos/acme/.github/contents/.github/musl-check.yml"),
    ]
    assert fake_github.check_runs == []
