"""What the snapshot always reads, and how much of a blob, whatever the tree says."""

from __future__ import annotations

import pytest

from bot.core.sources import Problem
from bot.github.client import BlobTooLarge, ClientFactory
from bot.github.snapshot import MAX_FILES, BlobCache, git_blob_sha, take_snapshot
from tests.fake_github import Entry, FakeGitHub, folder_files
from tests.github.conftest import REPO, RIPGREP_CASE, Deliver

PADDING = MAX_FILES + 1


def padded(files: dict[str, bytes]) -> dict[str, bytes]:
    """Return `files` plus 501 wanted Dockerfiles that sort before Cargo.lock."""
    pad = {f".a/{n:04}/Dockerfile": b"FROM scratch\n" for n in range(PADDING)}
    return {**pad, **files}


async def test_root_files_are_read_first_past_the_file_cap(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    files = padded(folder_files(RIPGREP_CASE))
    files["rust-toolchain.toml"] = b'[toolchain]\nchannel = "1.93.0"\n'
    files[".cargo/config.toml"] = b'[build]\ntarget = "x86_64-unknown-linux-musl"\n'
    files[".github/musl-check.yml"] = b"suggestions: false\n"
    sha = fake_github.add_commit(REPO, files)
    gh = factory.installation_client(1)
    snap = await take_snapshot(gh, "acme", "app", sha, BlobCache())
    assert len(snap.files) == MAX_FILES
    for path in (
        "Cargo.lock",
        "rust-toolchain.toml",
        ".cargo/config.toml",
        ".github/musl-check.yml",
    ):
        assert snap.files[path] == files[path], path
    left_out = len(files) - MAX_FILES
    assert snap.problems == (
        Problem("", 1, f"{left_out} files beyond {MAX_FILES} not read"),
    )


async def test_padded_pull_request_is_still_judged_on_its_lockfile(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    sha = fake_github.add_commit(REPO, padded(folder_files(RIPGREP_CASE)))
    resp = await deliver("check_suite.requested", sha=sha)
    assert resp.status == 202
    [run] = fake_github.runs_for(REPO, sha)
    assert run["output"]["title"].startswith("At risk: libc 0.2.144")
    paths = {a["path"] for a in run["output"]["annotations"]}
    assert "Cargo.lock" in paths
    assert "" not in paths
    assert f"files beyond {MAX_FILES} not read" in run["output"]["summary"]
    assert fake_github.violations == []


@pytest.mark.parametrize("chunked", [False, True])
async def test_under_reported_blob_is_not_read_whole(
    fake_github: FakeGitHub, factory: ClientFactory, chunked: bool
) -> None:
    big = b"# " + b"x" * 200_000 + b"\n"
    repo = fake_github.add_repo(REPO)
    blob = repo.add_blob(big)
    assert blob == git_blob_sha(big)
    # The tree claims 10 bytes; the blob is 200 KB.
    lie = Entry("Dockerfile", "100644", "blob", blob, 10)
    sha = fake_github.add_commit(REPO, {"Dockerfile": lie, "Cargo.toml": b"[x]\n"})
    fake_github.extra["chunked_blobs"] = chunked
    gh = factory.installation_client(1)
    snap = await take_snapshot(
        gh, "acme", "app", sha, BlobCache(), max_file_bytes=16_384
    )
    assert set(snap.files) == {"Cargo.toml"}
    assert "Dockerfile" not in snap.shas
    assert snap.problems == (
        Problem("Dockerfile", 1, "Dockerfile is over the 16384-byte limit; skipped"),
    )
    with pytest.raises(BlobTooLarge):
        await gh.get_raw(
            "/repos/{owner}/{repo}/git/blobs/{sha}",
            {"owner": "acme", "repo": "app", "sha": blob},
            max_bytes=1000,
        )
    # Without a cap, and for other requests, nothing changes.
    whole = await gh.get_raw(
        "/repos/{owner}/{repo}/git/blobs/{sha}",
        {"owner": "acme", "repo": "app", "sha": blob},
    )
    assert whole == big
