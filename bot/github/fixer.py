"""Apply the lockfile fix: a commit on the pull request's branch, or a fix PR.

The new Cargo.lock is the blob at the analysed head with the core's FixPlan
edits applied, committed through the git data API (docs/github.md 8.1): blob, tree
on `base_tree`, commit with the head as parent, then a fast-forward-only ref
update that GitHub refuses (422) when the branch moved.

Trust: a commit the App makes in the base repository is always built on a
commit of a base-repository branch, checked against that branch's ref (a fork's
commits are readable through the base repository, so a sha alone proves
nothing), and changes only the lockfile. A fork pull request's commits are
never copied into the base repository: the fix is pushed to the fork's branch
when its author allows edits by maintainers (docs/github.md 8.2), else the
reply gives the contributor the command. The default branch is not pushed to
directly; it gets a pull request from `musl-check/libc-<version>`, updated
only by fast-forward (never force-moved), and a pull request whose head is a
base-repository default branch gets its own `musl-check/libc-<version>-pr-<n>`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import gidgethub

from bot.core import analysis
from bot.core.config import Config, parse_config
from bot.core.findings import Report
from bot.core.fixes import FixPlan, apply_edits
from bot.core.render import escape_markdown, escape_message
from bot.core.scope import CONFIG_PATH
from bot.github.client import GitHubClient
from bot.github.context import Context
from bot.github.reviews import is_at_risk
from bot.github.snapshot import git_blob_sha, take_snapshot

logger = logging.getLogger(__name__)

FIX_BRANCH_PREFIX: Final = "musl-check/libc-"
FILE_MODE: Final = "100644"
# The check run's button (docs/github.md 4.2: label <= 20, identifier <= 20,
# description <= 40 characters).
FIX_ACTION: Final[dict[str, str]] = {
    "label": "Fix libc",
    "description": "Update libc in Cargo.lock to 0.2.146+",
    "identifier": "fix-libc",
}


def fix_actions(report: Report) -> list[dict[str, str]]:
    """Return the check run's `actions`: the Fix button when an exact edit exists.

    Without one (index unreachable, several libc, git libc) the fix is the
    command alone, so the button would only answer "cannot".
    """
    if is_at_risk(report) and any(plan.edits for plan in report.fixes):
        return [dict(FIX_ACTION)]
    return []


class FixStatus(StrEnum):
    """What `apply_fix` did."""

    COMMITTED = "committed"  # pushed onto the pull request's own branch
    FORK_COMMITTED = "fork-committed"  # pushed onto a fork's branch (allowed)
    PR_OPENED = "pr-opened"
    PR_UPDATED = "pr-updated"  # the fix branch moved onto a new base
    UP_TO_DATE = "up-to-date"  # the open fix PR already holds this fix
    PR_CLOSED = "pr-closed"  # a fix PR for this version was closed: not reopened
    HEAD_MOVED = "head-moved"
    FORK_COMMAND = "fork-command"  # a fork musl-check may not push to: the command
    NOT_EDITABLE = "not-editable"  # no exact edit (index down, several libc, ...)
    NOT_NEEDED = "not-needed"


SUCCESS: Final = frozenset(
    {
        FixStatus.COMMITTED,
        FixStatus.FORK_COMMITTED,
        FixStatus.PR_OPENED,
        FixStatus.PR_UPDATED,
        FixStatus.UP_TO_DATE,
    }
)


@dataclass(frozen=True, slots=True)
class FixResult:
    """The outcome, with a message fit for a reply comment."""

    status: FixStatus
    message: str
    commit_sha: str | None = None
    pull_number: int | None = None
    branch: str | None = None

    @property
    def ok(self) -> bool:
        """Return whether the fix is (now) on GitHub."""
        return self.status in SUCCESS


@dataclass(frozen=True, slots=True)
class FixTarget:
    """Where the fix goes.

    `push_branch` is a branch of this repository to commit onto (a same-repo
    pull request); None opens or updates a fix PR into `base_branch` instead.
    """

    owner: str
    repo: str
    head_sha: str
    base_branch: str
    push_branch: str | None = None
    pull_number: int | None = None  # the pull request being fixed, if any
    is_fork: bool = False
    # A fork pull request: the fork ("owner/name", None when deleted), its
    # branch is `push_branch`, and whether its author allows maintainer edits.
    head_full_name: str | None = None
    maintainer_can_modify: bool = False
    head_ref: str | None = None  # the pull request's head branch

    @property
    def vars(self) -> dict[str, str]:
        """Return the repository URL variables."""
        return {"owner": self.owner, "repo": self.repo}


def commit_message(plan: FixPlan) -> str:
    """Return the fix commit's message: what changed and why."""
    return (
        f"Update libc {plan.old_version} -> {plan.new_version} for musl 1.2.5\n\n"
        "musl 1.2.4 removed the LFS64 symbols (open64, fstat64, ...) that the\n"
        f"libc crate up to 0.2.144 links against on musl targets, and Rust 1.93\n"
        "bundles musl 1.2.5 for x86_64, aarch64 and powerpc64le-unknown-linux-musl,\n"
        "so musl builds with the old libc fail to link. libc 0.2.146 is the\n"
        "first release without those symbols.\n\n"
        f"Same change as `{plan.command}` (only {plan.path} changes).\n"
        "https://blog.rust-lang.org/2025/12/05/Updating-musl-1.2.5/"
    )


def fix_branch(plan: FixPlan, pull_number: int | None = None) -> str:
    """Return the branch a fix PR for `plan` lives on: one per source.

    The default branch's fix PR is `musl-check/libc-<version>`; a pull request
    fixed through a separate PR gets its own branch, so two pull requests never
    share (and never move) one fix branch.
    """
    suffix = "" if pull_number is None else f"-pr-{pull_number}"
    return f"{FIX_BRANCH_PREFIX}{plan.new_version}{suffix}"


def _code(text: str | None) -> str:
    """Return repository text (branch, version, path, command) as one code span."""
    return escape_markdown(text or "", code=True)


def _ref_vars(target: FixTarget, branch: str) -> dict[str, str]:
    return {**target.vars, "branch": branch}


async def _ref_sha(gh: GitHubClient, target: FixTarget, branch: str) -> str | None:
    try:
        data = await gh.getitem(
            "/repos/{owner}/{repo}/git/ref/heads/{branch}", _ref_vars(target, branch)
        )
    except gidgethub.BadRequest as exc:
        if exc.status_code == 404:
            return None
        raise
    return str(data["object"]["sha"])


async def _commit(
    gh: GitHubClient,
    target: FixTarget,
    parents: list[str],
    path: str,
    text: str,
    msg: str,
) -> str:
    """Commit `text` at `path` on the tree of `parents[0]`; return the sha."""
    commit = await gh.getitem(
        "/repos/{owner}/{repo}/git/commits/{sha}", {**target.vars, "sha": parents[0]}
    )
    blob = await gh.post(
        "/repos/{owner}/{repo}/git/blobs",
        target.vars,
        data={"content": text, "encoding": "utf-8"},
    )
    # Without base_tree every file not listed would be deleted (docs/github.md 8.1).
    tree = await gh.post(
        "/repos/{owner}/{repo}/git/trees",
        target.vars,
        data={
            "base_tree": commit["tree"]["sha"],
            "tree": [
                {"path": path, "mode": FILE_MODE, "type": "blob", "sha": blob["sha"]}
            ],
        },
    )
    created = await gh.post(
        "/repos/{owner}/{repo}/git/commits",
        target.vars,
        data={"message": msg, "tree": tree["sha"], "parents": parents},
    )
    return str(created["sha"])


async def _lock_blob_at(
    gh: GitHubClient, target: FixTarget, sha: str, path: str
) -> str | None:
    """Return the blob sha of `path` (a root-level file) at commit `sha`."""
    commit = await gh.getitem(
        "/repos/{owner}/{repo}/git/commits/{sha}", {**target.vars, "sha": sha}
    )
    tree = await gh.getitem(
        "/repos/{owner}/{repo}/git/trees/{sha}",
        {**target.vars, "sha": commit["tree"]["sha"]},
    )
    for entry in tree.get("tree", []):
        if entry.get("path") == path and entry.get("type") == "blob":
            return str(entry["sha"])
    return None


async def apply_fix(
    gh: GitHubClient, target: FixTarget, plan: FixPlan, lock_text: str
) -> FixResult:
    """Commit the fix to the pull request's branch, or open/update a fix PR."""
    if not plan.edits or plan.new_version is None:
        why = plan.reason or "no exact Cargo.lock edit is known"
        return FixResult(
            FixStatus.NOT_EDITABLE,
            f"musl-check cannot edit {_code(plan.path)} itself: "
            f"{escape_message(why)}. Run {_code(plan.command)} and commit "
            f"{_code(plan.path)}.",
        )
    new_text = apply_edits(lock_text, plan.edits)
    if target.is_fork:
        return await _fix_fork(gh, target, plan, new_text)
    if target.push_branch is not None:
        return await _push(gh, target, target.push_branch, plan, new_text)
    return await _fix_pull_request(gh, target, plan, lock_text, new_text)


def _fork_command(target: FixTarget, plan: FixPlan, why: str) -> FixResult:
    return FixResult(
        FixStatus.FORK_COMMAND,
        f"This pull request's branch lives in a fork, and {why}, so musl-check "
        "does not commit the fix itself. In your branch, run "
        f"{_code(plan.command)} and push the updated {_code(plan.path)}.",
        branch=target.push_branch,
    )


async def _fix_fork(
    gh: GitHubClient, target: FixTarget, plan: FixPlan, new_text: str
) -> FixResult:
    """Push the fix to the fork's branch when allowed, else give the command.

    Nothing is written to the base repository: a commit there built on the
    fork head would carry the fork's files (build.rs, workflows) into a branch
    whose CI runs with the base repository's secrets.
    """
    fork, branch = target.head_full_name, target.push_branch
    if fork is None or branch is None or fork.count("/") != 1:
        return _fork_command(target, plan, "that fork no longer exists")
    if not target.maintainer_can_modify:
        return _fork_command(
            target, plan, "its author has not allowed edits by maintainers"
        )
    owner, repo = fork.split("/")
    in_fork = dataclasses.replace(target, owner=owner, repo=repo)
    try:
        result = await _push(gh, in_fork, branch, plan, new_text)
    except gidgethub.HTTPException as exc:
        # 403/404: the installation's token does not reach the fork (an
        # organisation-owned fork, or the permission was withdrawn).
        if exc.status_code not in (403, 404):
            raise
        return _fork_command(target, plan, "GitHub did not let musl-check push to it")
    if result.status is FixStatus.COMMITTED:
        return dataclasses.replace(
            result,
            status=FixStatus.FORK_COMMITTED,
            message=f"{result.message} (in {_code(fork)}, as its author allows "
            "edits by maintainers)",
        )
    return result


async def _push(
    gh: GitHubClient, target: FixTarget, branch: str, plan: FixPlan, new_text: str
) -> FixResult:
    moved = FixResult(
        FixStatus.HEAD_MOVED,
        f"{_code(branch)} moved since {target.head_sha[:12]} was analysed, so "
        "nothing was pushed. Comment `/musl-check fix` again to fix the new head.",
        branch=branch,
    )
    if await _ref_sha(gh, target, branch) != target.head_sha:
        return moved
    sha = await _commit(
        gh, target, [target.head_sha], plan.path, new_text, commit_message(plan)
    )
    try:
        await gh.patch(
            "/repos/{owner}/{repo}/git/refs/heads/{branch}",
            _ref_vars(target, branch),
            data={"sha": sha, "force": False},
        )
    except gidgethub.BadRequest as exc:
        # 422 "Update is not a fast forward": someone pushed in between.
        if exc.status_code == 422 and await _ref_sha(gh, target, branch) != (
            target.head_sha
        ):
            return moved
        raise
    return FixResult(
        FixStatus.COMMITTED,
        f"Pushed {sha[:12]} to {_code(branch)}: libc {_code(plan.old_version)} -> "
        f"{_code(plan.new_version)} in {_code(plan.path)}.",
        commit_sha=sha,
        branch=branch,
    )


async def _fix_base(
    gh: GitHubClient, target: FixTarget, plan: FixPlan, lock_text: str
) -> str | None:
    """Return the base-repository commit a fix PR starts from, or None.

    The analysed commit must be the tip of a base-repository branch: the base
    branch itself, or (a pull request) its head branch in this repository. A
    pull request whose Cargo.lock equals its base branch's starts from the
    base branch's tip, so the fix PR holds only the lockfile change. None: the
    branch moved on (or the commit is on no branch of this repository).
    """
    tip = await _ref_sha(gh, target, target.base_branch)
    if target.pull_number is None:
        return target.head_sha if tip == target.head_sha else None
    head_branch = target.head_ref or target.base_branch
    if target.is_fork or await _ref_sha(gh, target, head_branch) != target.head_sha:
        return None
    if tip is not None and "/" not in plan.path:
        at_tip = await _lock_blob_at(gh, target, tip, plan.path)
        if at_tip == git_blob_sha(lock_text.encode()):
            return tip
    return target.head_sha


async def _find_fix_pull(
    gh: GitHubClient, target: FixTarget, branch: str
) -> Mapping[str, Any] | None:
    found: Mapping[str, Any] | None = None
    async for pull in gh.getiter(
        "/repos/{owner}/{repo}/pulls?head={head}&state=all&per_page=100",
        {**target.vars, "head": f"{target.owner}:{branch}"},
    ):
        if not isinstance(pull, dict):
            continue
        if (pull.get("head") or {}).get("ref") != branch:
            continue
        if pull.get("state") == "open":
            return pull
        found = found or pull
    return found


def _pull_body(target: FixTarget, plan: FixPlan) -> str:
    lines = [
        f"Updates libc {_code(plan.old_version)} → {_code(plan.new_version)} in "
        f"{_code(plan.path)}.",
        "",
        "musl 1.2.4 removed the LFS64 symbols (`open64`, `fstat64`, ...) that "
        "libc up to 0.2.144 links against on musl targets, and Rust 1.93 bundles "
        "musl 1.2.5, so musl builds with the old libc fail to link. libc 0.2.146 "
        "is the first release without them.",
        "",
        f"Same change as {_code(plan.command)}; only {_code(plan.path)} changes.",
    ]
    if target.pull_number is not None:
        lines += ["", f"Opened for #{target.pull_number}."]
    return "\n".join(lines)


async def _fix_pull_request(
    gh: GitHubClient, target: FixTarget, plan: FixPlan, lock_text: str, new_text: str
) -> FixResult:
    branch = fix_branch(plan, target.pull_number)
    base = await _fix_base(gh, target, plan, lock_text)
    if base is None:
        return FixResult(
            FixStatus.HEAD_MOVED,
            f"{_code(target.base_branch)} is no longer at {target.head_sha[:12]}, "
            "the commit that was analysed, so nothing was pushed.",
        )
    existing = await _ref_sha(gh, target, branch)
    pull = await _find_fix_pull(gh, target, branch)
    if pull is not None and pull.get("state") != "open":
        return FixResult(
            FixStatus.PR_CLOSED,
            f"A fix pull request for libc {_code(plan.new_version)} "
            f"(#{pull['number']}) was closed; musl-check does not open it again.",
            pull_number=int(pull["number"]),
            branch=branch,
        )
    up_to_date = False
    commit_sha = existing
    parents = [base]
    if existing is not None:
        head = await gh.getitem(
            "/repos/{owner}/{repo}/git/commits/{sha}", {**target.vars, "sha": existing}
        )
        old_parents = [p.get("sha") for p in head.get("parents", [])]
        up_to_date = old_parents[:1] == [base]
        # Fast-forward only: the new commit also descends from the branch's
        # tip, so the branch keeps its own lineage and is never force-moved;
        # its tree is `base` plus the lockfile, so the PR still shows only
        # the lockfile change.
        parents = [base, existing]
    if not up_to_date:
        commit_sha = await _commit(
            gh, target, parents, plan.path, new_text, commit_message(plan)
        )
        if existing is None:
            await gh.post(
                "/repos/{owner}/{repo}/git/refs",
                target.vars,
                data={"ref": f"refs/heads/{branch}", "sha": commit_sha},
            )
        else:
            await gh.patch(
                "/repos/{owner}/{repo}/git/refs/heads/{branch}",
                _ref_vars(target, branch),
                data={"sha": commit_sha, "force": False},
            )
    if pull is not None:
        number = int(pull["number"])
        status = FixStatus.UP_TO_DATE if up_to_date else FixStatus.PR_UPDATED
        verb = "already holds" if up_to_date else "now holds"
        return FixResult(
            status,
            f"#{number} {verb} the fix (libc {_code(plan.old_version)} -> "
            f"{_code(plan.new_version)}).",
            commit_sha=commit_sha,
            pull_number=number,
            branch=branch,
        )
    created = await gh.post(
        "/repos/{owner}/{repo}/pulls",
        target.vars,
        data={
            "title": f"Update libc {plan.old_version} -> {plan.new_version} "
            "for musl 1.2.5",
            "head": branch,
            "base": target.base_branch,
            "body": _pull_body(target, plan),
            "maintainer_can_modify": True,
        },
    )
    number = int(created["number"])
    return FixResult(
        FixStatus.PR_OPENED,
        f"Opened #{number} with the fix (libc {_code(plan.old_version)} -> "
        f"{_code(plan.new_version)}).",
        commit_sha=commit_sha,
        pull_number=number,
        branch=branch,
    )


def _config(files: Mapping[str, bytes]) -> Config:
    data = files.get(CONFIG_PATH)
    if data is None:
        return Config()
    config, _errors = parse_config(data.decode("utf-8", errors="replace"))
    return config


@dataclass(frozen=True, slots=True)
class Analysed:
    """A commit analysed with index data, ready to fix."""

    report: Report
    config: Config
    files: Mapping[str, bytes]
    index_reached: bool


async def analyse_commit(
    gh: GitHubClient, ctx: Context, owner: str, repo: str, sha: str
) -> Analysed:
    """Snapshot and analyse `sha` with libc's index entries (for exact edits)."""
    snapshot = await take_snapshot(gh, owner, repo, sha, ctx.blobs)
    config = _config(snapshot.files)
    entries = None if ctx.index is None else await ctx.index.libc()
    report = analysis.analyse(snapshot.files, config, entries)
    return Analysed(report, config, snapshot.files, entries is not None)


def _plan(analysed: Analysed) -> tuple[FixPlan | None, str | None]:
    plan = analysed.report.fixes[0] if analysed.report.fixes else None
    if plan is None:
        return None, None
    data = analysed.files.get(plan.path)
    return plan, None if data is None else data.decode("utf-8", errors="replace")


def _not_needed(sha: str) -> FixResult:
    return FixResult(
        FixStatus.NOT_NEEDED,
        f"Nothing to fix at {sha[:12]}: the root Cargo.lock has no libc older "
        "than 0.2.146.",
    )


async def fix_pull(
    gh: GitHubClient, ctx: Context, owner: str, repo: str, number: int
) -> FixResult:
    """Fix pull request `number` at its current head (re-read from GitHub)."""
    pull = await gh.getitem(
        "/repos/{owner}/{repo}/pulls/{number}",
        {"owner": owner, "repo": repo, "number": str(number)},
    )
    head, base = pull["head"], pull["base"]
    head_sha = str(head["sha"])
    head_repo = head.get("repo") or {}
    base_repo = base.get("repo") or {}
    is_fork = not head_repo or head_repo.get("full_name") != base_repo.get("full_name")
    default = base_repo.get("default_branch")
    head_ref = str(head["ref"])
    # A fork's branch is pushed to only through `_fix_fork`; a same-repository
    # default branch is never pushed to directly (it gets a fix PR).
    push_branch = head_ref if is_fork or head_ref != default else None
    full_name = head_repo.get("full_name")
    target = FixTarget(
        owner,
        repo,
        head_sha,
        base_branch=str(base["ref"]),
        push_branch=push_branch,
        pull_number=number,
        is_fork=is_fork,
        head_full_name=full_name if isinstance(full_name, str) else None,
        maintainer_can_modify=pull.get("maintainer_can_modify") is True,
        head_ref=head_ref,
    )
    analysed = await analyse_commit(gh, ctx, owner, repo, head_sha)
    return await _apply(gh, target, analysed)


async def _apply(gh: GitHubClient, target: FixTarget, analysed: Analysed) -> FixResult:
    plan, text = _plan(analysed)
    if plan is None or text is None:
        return _not_needed(target.head_sha)
    result = await apply_fix(gh, target, plan, text)
    if result.status is FixStatus.NOT_EDITABLE and not analysed.index_reached:
        return FixResult(
            FixStatus.NOT_EDITABLE,
            "The crates.io index could not be reached, so musl-check cannot "
            f"write the new checksum. Run {_code(plan.command)} and commit "
            f"{_code(plan.path)}.",
        )
    logger.info(
        "fix applied",
        extra={
            "repo": f"{target.owner}/{target.repo}",
            "sha": target.head_sha,
            "status": result.status.value,
        },
    )
    return result


async def fix_default_branch(
    gh: GitHubClient,
    ctx: Context,
    owner: str,
    repo: str,
    sha: str,
    default_branch: str,
) -> FixResult | None:
    """Open or update the one fix PR for an at-risk default branch at `sha`.

    Returns None when the repository's config does not ask for fix PRs
    (`fix_pull_requests`). The push route calls this after `run_check`.
    """
    analysed = await analyse_commit(gh, ctx, owner, repo, sha)
    if not analysed.config.fix_pull_requests:
        return None
    if not is_at_risk(analysed.report):
        return _not_needed(sha)
    target = FixTarget(owner, repo, sha, base_branch=default_branch)
    return await _apply(gh, target, analysed)


async def fix_branch_head(
    gh: GitHubClient,
    ctx: Context,
    owner: str,
    repo: str,
    sha: str,
    branch: str | None,
    default_branch: str,
) -> FixResult:
    """Fix a commit that is no pull request's head (the Fix button on a push).

    The default branch (or an unknown branch) gets a fix PR; another branch of
    the repository gets the commit directly.
    """
    push_branch = branch if branch and branch != default_branch else None
    target = FixTarget(
        owner, repo, sha, base_branch=default_branch, push_branch=push_branch
    )
    analysed = await analyse_commit(gh, ctx, owner, repo, sha)
    return await _apply(gh, target, analysed)
