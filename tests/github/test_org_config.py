"""The organisation default config read from the org's `.github` repository."""

from __future__ import annotations

from bot.core.config import FailureConclusion
from bot.github.client import ClientFactory
from bot.github.org_config import OrgConfigs
from tests.fake_github import FakeGitHub, folder_files
from tests.github.conftest import REPO, Deliver
from tests.paths import CORPUS

TOKEI = CORPUS / "XAMPPRocky__tokei@f6b8cadeba"

ORG_FILE = b"failure_conclusion: neutral\nsuggestions: false\nbogus: 1\n"


async def test_org_default_is_read_and_cached(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    fake_github.add_commit("acme/.github", {".github/musl-check.yml": ORG_FILE})
    configs = OrgConfigs()
    gh = factory.installation_client(1)
    config, errors = await configs.get(gh, "acme")
    assert config is not None
    assert config.failure_conclusion is FailureConclusion.NEUTRAL
    assert config.suggestions is False
    assert len(errors) == 1
    assert errors[0].startswith("acme/.github/.github/musl-check.yml: ")
    assert "bogus" in errors[0]
    before = len(fake_github.calls("GET", "/contents/"))
    assert await configs.get(gh, "ACME") == (config, errors)  # cached, any case
    assert len(fake_github.calls("GET", "/contents/")) == before == 1
    assert not fake_github.violations


async def test_no_org_repo_means_no_default(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    fake_github.add_commit("solo/app", {"README.md": b"hi"})
    configs = OrgConfigs()
    gh = factory.installation_client(1)
    assert await configs.get(gh, "solo") == (None, ())
    assert await configs.get(gh, "solo") == (None, ())
    assert len(fake_github.calls("GET", "/contents/")) == 1  # the 404 is cached too


async def test_expired_entries_are_fetched_again(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    fake_github.add_commit("acme/.github", {".github/musl-check.yml": ORG_FILE})
    configs = OrgConfigs(ttl_s=0.0)
    gh = factory.installation_client(1)
    await configs.get(gh, "acme")
    await configs.get(gh, "acme")
    assert len(fake_github.calls("GET", "/contents/")) == 2


async def test_server_errors_are_not_cached(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    fake_github.add_commit("acme/.github", {".github/musl-check.yml": ORG_FILE})
    fake_github.fail("GET", "/contents/", 502, times=3)
    configs = OrgConfigs()
    gh = factory.installation_client(1)
    assert await configs.get(gh, "acme") == (None, ())
    config, _ = await configs.get(gh, "acme")
    assert config is not None
    assert config.suggestions is False


async def test_org_default_applies_and_repo_file_overrides_it(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    fake_github.add_commit("acme/.github", {".github/musl-check.yml": ORG_FILE})
    files = folder_files(TOKEI)  # libc 0.2.131 + getrandom 0.2.7: a failure
    sha = fake_github.add_commit(REPO, files)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["conclusion"] == "neutral"  # the organisation's failure_conclusion
    assert "acme/.github/.github/musl-check.yml: " in run["output"]["summary"]

    files[".github/musl-check.yml"] = b"failure_conclusion: failure\n"
    sha = fake_github.add_commit(REPO, files)
    await deliver("check_suite.requested", sha=sha)
    (run,) = fake_github.runs_for(REPO, sha)
    assert run["conclusion"] == "failure"  # the repository's own file wins
    assert not fake_github.violations


async def test_push_to_the_org_repo_forgets_the_default(
    fake_github: FakeGitHub, deliver: Deliver
) -> None:
    fake_github.add_commit("acme/.github", {".github/musl-check.yml": ORG_FILE})
    first = fake_github.add_folder(REPO, TOKEI)
    await deliver("check_suite.requested", sha=first)
    second = fake_github.add_commit(
        REPO, {**folder_files(TOKEI), "src/lib.rs": b"// changed\n"}
    )
    await deliver("check_suite.requested", sha=second)
    assert len(fake_github.calls("GET", "/repos/acme/.github/contents/")) == 1
    # The organisation edits its default: the push says so, the next check reads it.
    head = fake_github.add_commit(
        "acme/.github", {".github/musl-check.yml": b"failure_conclusion: failure\n"}
    )
    await deliver("push.with-installation", repo="acme/.github", sha=head)
    third = fake_github.add_commit(
        REPO, {**folder_files(TOKEI), "src/lib.rs": b"// again\n"}
    )
    await deliver("check_suite.requested", sha=third)
    assert len(fake_github.calls("GET", "/repos/acme/.github/contents/")) == 2
    assert [r["conclusion"] for r in fake_github.runs_for(REPO)] == [
        "neutral",
        "neutral",
        "failure",
    ]


async def test_oversized_org_default_is_not_read_whole(
    fake_github: FakeGitHub, factory: ClientFactory
) -> None:
    huge = b"# padding\n" * 20_000  # 200 KB, over the 64 KB config cap
    fake_github.add_commit("acme/.github", {".github/musl-check.yml": huge})
    config, errors = await OrgConfigs().get(factory.installation_client(1), "acme")
    assert config is None
    assert errors == (
        "acme/.github/.github/musl-check.yml: larger than 65536 bytes; ignored",
    )
