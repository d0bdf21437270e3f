"""Every trigger becomes a CheckTarget; run_check snapshots, analyses, publishes."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import gidgethub

from bot.core import render
from bot.core.config import (
    CONFIG_PATH,
    MAX_CONFIG_BYTES,
    Config,
    ConfigError,
    check_config,
    merge_config,
)
from bot.core.findings import Report, Verdict, add_problems
from bot.core.fixes import IndexEntry
from bot.core.scope import ROOT_LOCKFILE
from bot.crates import INDEX_UNREACHABLE_NOTE
from bot.github import checks, payload, reviews
from bot.github.checks import Publication
from bot.github.client import (
    BlobTooLarge,
    GitHubClient,
    is_transient,
)
from bot.github.context import Analysed, Context
from bot.github.fixer import fix_actions
from bot.github.snapshot import (
    EmptyRepository,
    Snapshot,
    git_blob_sha,
    take_snapshot,
)
from bot.queue import RetryLater, current_attempt
from bot.store import PullFeedback, RepositoryResult

logger = logging.getLogger(__name__)

NULL_SHA: Final = "0" * 40
DISABLED: Final = "musl-check is disabled by `.github/musl-check.yml`."
CONFIG_CHANGED: Final = (
    "This pull request changes `.github/musl-check.yml`. A pull request is "
    "checked with its base branch's configuration (as branch protection and "
    "Dependabot read theirs), so the change takes effect after merge; "
    "mistakes in the new file are marked on its lines."
)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class CheckTarget:
    """One commit of one repository to check, and the pull request if any."""

    installation_id: int
    repo_id: int
    owner: str
    repo: str
    head_sha: str
    pull_number: int | None = None
    head_branch: str | None = None
    is_fork: bool = False
    # The pull request's base commit, when the trigger names it; a pull
    # request's config is read there (see `_base_config`).
    base_sha: str | None = None
    default_branch: str | None = None  # the repository's, when the trigger says

    @property
    def on_default_branch(self) -> bool:
        """Return whether the commit is the default branch's head (the org view)."""
        return (
            self.pull_number is None
            and self.default_branch is not None
            and self.head_branch == self.default_branch
        )

    @property
    def full_name(self) -> str:
        """Return `owner/repo`."""
        return f"{self.owner}/{self.repo}"

    @property
    def external_id(self) -> str:
        """Return the check run's external id: the pull number or ""."""
        return "" if self.pull_number is None else str(self.pull_number)

    @classmethod
    def _base(cls, data: Mapping[str, Any], **kw: Any) -> CheckTarget:
        return cls(
            installation_id=payload.integer(data, "installation.id"),
            repo_id=payload.integer(data, "repository.id"),
            owner=payload.name(data, "repository.owner.login"),
            repo=payload.name(data, "repository.name"),
            default_branch=payload.optional_text(data, "repository.default_branch"),
            **kw,
        )

    @classmethod
    def from_check_suite(cls, data: Mapping[str, Any]) -> CheckTarget:
        """Build the target of a `check_suite` delivery."""
        pulls = payload.optional(data, "check_suite.pull_requests")
        return cls._base(
            data,
            head_sha=payload.commit_sha(data, "check_suite.head_sha"),
            pull_number=_first_pull(pulls),
            head_branch=payload.optional_text(data, "check_suite.head_branch"),
            base_sha=_first_pull_base(pulls),
        )

    @classmethod
    def from_check_run(cls, data: Mapping[str, Any]) -> CheckTarget:
        """Build the target of a `check_run` delivery (the run's own commit)."""
        external = payload.optional_text(data, "check_run.external_id") or ""
        number = int(external) if external.isdigit() and len(external) < 19 else None
        pulls = payload.optional(data, "check_run.pull_requests")
        listed = _first_pull(pulls)
        return cls._base(
            data,
            head_sha=payload.commit_sha(data, "check_run.head_sha"),
            pull_number=number or listed,
            head_branch=payload.optional_text(
                data, "check_run.check_suite.head_branch"
            ),
            base_sha=_first_pull_base(pulls) if number in (None, listed) else None,
        )

    @classmethod
    def from_pull_request(cls, data: Mapping[str, Any]) -> CheckTarget:
        """Build the target of a `pull_request` delivery, on the base repository.

        A fork's commits get no check suite in the base repository, so the run
        is created there at the pull request's head sha (docs/github.md 4.3).
        """
        head_repo_id = payload.optional(data, "pull_request.head.repo.id")
        return cls._base(
            data,
            head_sha=payload.commit_sha(data, "pull_request.head.sha"),
            pull_number=payload.integer(data, "pull_request.number"),
            head_branch=payload.optional_text(data, "pull_request.head.ref"),
            is_fork=head_repo_id != payload.optional(data, "repository.id"),
            base_sha=_optional_sha(data, "pull_request.base.sha"),
        )

    @classmethod
    def from_push(cls, data: Mapping[str, Any]) -> CheckTarget:
        """Build the target of a `push` delivery (the pushed head commit)."""
        ref = payload.optional_text(data, "ref") or ""
        return cls._base(
            data,
            head_sha=payload.commit_sha(data, "after"),
            head_branch=ref.removeprefix("refs/heads/"),
        )


def _first_pull(pulls: Any) -> int | None:
    """Return the number of the first pull request listed, if there is one."""
    if isinstance(pulls, list) and pulls and isinstance(pulls[0], Mapping):
        return _int_or_none(pulls[0].get("number"))
    return None


def _optional_sha(data: Any, path: str) -> str | None:
    """Return the commit sha at `path`, or None when absent or malformed."""
    try:
        return payload.commit_sha(data, path)
    except payload.PayloadError:
        return None


def _first_pull_base(pulls: Any) -> str | None:
    """Return the base sha of the first pull request listed, if there is one."""
    if isinstance(pulls, list) and pulls:
        return _optional_sha(pulls[0], "base.sha")
    return None


@dataclass(frozen=True, slots=True)
class BaseConfig:
    """A pull request's base-branch config file (`data` None: there is none)."""

    data: bytes | None
    blob: str | None  # its blob sha
    error: str = ""  # why it could not be read


@dataclass(frozen=True, slots=True)
class ConfigNotes:
    """What the check says about the config: summary notes and annotations."""

    notes: tuple[str, ...] = ()  # Markdown, escaped
    annotations: tuple[dict[str, Any], ...] = ()


def _publication(
    report: Report, config: Config, said: ConfigNotes, index_reached: bool
) -> Publication:
    out = render.check_run_output(
        report, failure_conclusion=config.failure_conclusion.value
    )
    notes = list(said.notes)
    if not index_reached and report.fixes:
        notes.append(INDEX_UNREACHABLE_NOTE)
    pub = checks.from_output(out, notes=notes)
    return dataclasses.replace(
        pub,
        annotations=(*pub.annotations, *said.annotations),
        actions=fix_actions(report),
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, gidgethub.HTTPException):
        return f"GitHub answered HTTP {exc.status_code} while reading the commit"
    if isinstance(exc, checks.AnalysisError):
        return f"the analysis failed ({exc})"
    if is_transient(exc):
        return f"GitHub could not be reached ({type(exc).__name__})"
    return f"internal error ({type(exc).__name__})"


async def run_check(
    target: CheckTarget,
    ctx: Context,
    *,
    fresh_feedback: bool = False,
    quiet: bool = False,
    root: Mapping[str, Any] | None = None,
) -> Report | None:
    """Check one commit and publish its check run; return the Report if any.

    For a pull request the suggestions and summary comment follow (see
    `_feedback`); `fresh_feedback` re-publishes them even when nothing changed.
    With `quiet` (automatic triggers), a repository that has nothing to do with
    Rust gets no check run at all (see `_says_nothing`). `root` is the
    commit's recursive tree listing when the caller already read it.
    """
    key = (target.repo_id, target.head_sha)
    lock = ctx.locks.get(key)
    if lock is None:
        lock = ctx.locks[key] = asyncio.Lock()
    async with lock:
        return await _run(target, ctx, fresh_feedback, quiet, root)


def _says_nothing(rust: bool, report: Report | None = None) -> bool:
    """Return whether a check run would be noise: no sign of Rust, no musl build.

    An organisation installs the App on every repository; one whose tree has
    no Cargo manifest or lockfile, toolchain or cargo config, no musl-check
    config (`Snapshot.rust`) and, once analysed, no musl use is not a Rust
    project.
    """
    return not rust and (report is None or not report.musl_uses)


async def _run(
    target: CheckTarget,
    ctx: Context,
    fresh: bool,
    quiet: bool,
    root: Mapping[str, Any] | None,
) -> Report | None:
    """Analyse and publish the commit once; later automatic triggers reuse it.

    An automatic (`quiet`) trigger for a commit this process already checked
    costs no request: only pull-request feedback that changed is posted. An
    explicit one (re-run, `/musl-check`) creates a new run: GitHub leaves it
    to the App whether a re-requested run is updated or replaced
    (docs/github.md 4.2), and a new one needs no lookup. No run is looked up
    on GitHub: the store knows the runs this App made.
    """
    key = (target.repo_id, target.head_sha)
    found = ctx.analysed.get(key) if quiet else None
    if found is None:
        found = await _check(target, ctx, quiet, root)
        if found is None:
            return None
        ctx.analysed[key] = found
    report = found.report
    if report is None:
        return None
    if target.pull_number is not None and found.config.enabled:
        try:
            await _feedback(
                ctx.client(target.installation_id),
                target,
                ctx,
                report,
                found.config,
                found.snapshot,
                found.index_unreachable,
                fresh,
            )
        except Exception:
            logger.exception(
                "could not post pull request feedback",
                extra={"repo": target.full_name, "sha": target.head_sha},
            )
    return report


async def _check(
    target: CheckTarget, ctx: Context, quiet: bool, root: Mapping[str, Any] | None
) -> Analysed | None:
    """Snapshot, analyse and publish the commit's run in one request.

    Return None when nothing should be remembered: an empty repository, or a
    failure (published as "could not analyse"; a later trigger tries again
    and updates that run).
    """
    gh = ctx.client(target.installation_id)
    owner, repo, sha = target.owner, target.repo, target.head_sha
    log = {"repo": target.full_name, "sha": sha}
    # Automatic triggers update the run this App made (e.g. before a restart);
    # explicit ones get a new run.
    run_id = await ctx.store.get_check_run(target.repo_id, sha) if quiet else None

    attempt = current_attempt()
    key = (target.repo_id, sha)
    if quiet and run_id is None and attempt.number > 1:
        # A delivery tried before (a dead worker's, taken over) may have made
        # its run without living to record it: only then is GitHub asked.
        run_id = await checks.find_check_run(gh, owner, repo, sha, ctx.settings.app_id)
        if run_id is not None:
            await ctx.store.set_check_run(target.repo_id, sha, run_id)

    async def close(reason: str, retry: bool) -> None:
        # Whatever ends the work (a timeout, a transient failure): a run the
        # App already made for the commit says it will be retried; none is
        # created for that (a run is created once its result is known). The
        # last attempt publishes the reason, as any final failure does.
        if retry:
            if run_id is not None:
                await checks.retrying(gh, owner, repo, run_id, reason)
        else:
            await publish(checks.could_not_analyse(reason))

    attempt.open_runs[key] = close

    async def publish(pub: Publication) -> int:
        new_id = await checks.complete(
            gh, owner, repo, sha, run_id, pub, external_id=target.external_id
        )
        if new_id != run_id:
            await ctx.store.set_check_run(target.repo_id, sha, new_id)
        return new_id

    try:
        snapshot = await take_snapshot(gh, owner, repo, sha, ctx.blobs, root=root)
        entries = await _index_entries(snapshot, ctx)
        org_default = await ctx.org_configs.get(gh, owner)
        if quiet and run_id is None and not snapshot.rust:
            # Without a sign of Rust the head holds no config of its own (the
            # config file is one), and a config only removes musl uses: if
            # the commit says nothing without the base's config, it says
            # nothing with it, which is then not read.
            report, config, _ = _analyse(snapshot, ctx, entries, org_default, None)
            if _says_nothing(snapshot.rust, report):
                logger.debug("not a Rust repository: no check run", extra=log)
                attempt.open_runs.pop(key, None)
                return Analysed(None, config, snapshot, entries is None)
        base = None
        if target.pull_number is not None:
            base = await _base_config(gh, target, ctx)
        report, config, said = _analyse(snapshot, ctx, entries, org_default, base)
        if not config.enabled:
            pub = Publication("skipped", "disabled", DISABLED)
        else:
            pub = _publication(report, config, said, entries is not None)
        new_id = await publish(pub)
        attempt.open_runs.pop(key, None)
    except EmptyRepository:
        logger.info("empty repository, nothing to check", extra=log)
        attempt.open_runs.pop(key, None)
        return None
    except Exception as exc:
        if is_transient(exc) and not attempt.final:
            # Back on the queue with a backoff; a run made earlier stays in
            # progress (`close` says "retrying").
            raise RetryLater(_reason(exc)) from exc
        if isinstance(exc, gidgethub.HTTPException):
            # One warning per failure, without a traceback: the client already
            # warned about other statuses (with the request id and a hint).
            quiet_in_client = exc.status_code == 404 or is_transient(exc)
            logger.log(
                logging.WARNING if quiet_in_client else logging.INFO,
                "check failed",
                extra={
                    **log,
                    "reason": _reason(exc),
                    "github_request_id": exc.headers.get("x-github-request-id", ""),
                },
            )
        else:
            logger.exception("check failed", extra=log)
        attempt.open_runs.pop(key, None)
        try:
            await publish(checks.could_not_analyse(_reason(exc)))
        except Exception:
            logger.exception("could not publish the failure", extra=log)
        return None
    await ctx.store.save_result(
        target.installation_id, target.full_name, sha, report.verdict.value, pub.title
    )
    await _save_repository(target, ctx, report, new_id)
    return Analysed(report, config, snapshot, entries is None)


def repository_result(
    target: CheckTarget, report: Report, run_url: str
) -> RepositoryResult:
    """Return the organisation-view row of a checked default-branch head."""
    libc: dict[str, None] = {}
    for lockfile in report.lockfiles:
        for package in lockfile.packages:
            if package.name == "libc":
                libc[package.version] = None
    targets: dict[str, None] = {}
    for use in report.musl_uses:
        for triple in use.resolves_to or (use.target,):
            targets[triple] = None
    return RepositoryResult(
        installation_id=target.installation_id,
        repo_id=target.repo_id,
        repo=target.full_name,
        head_sha=target.head_sha,
        verdict=report.verdict.value,
        libc=tuple(libc),
        targets=tuple(sorted(targets)),
        check_run_url=run_url,
    )


async def _save_repository(
    target: CheckTarget, ctx: Context, report: Report, run_id: int
) -> None:
    """Record the organisation-view row when the commit is a default-branch head."""
    if not target.on_default_branch:
        return
    # The check run's page on the web host (docs/github.md 4.2).
    url = f"{ctx.settings.web_url}/{target.full_name}/runs/{run_id}"
    await ctx.store.save_repository_result(repository_result(target, report, url))


async def _index_entries(
    snapshot: Snapshot, ctx: Context
) -> Sequence[IndexEntry] | None:
    """Return libc's index entries when the commit has a root Cargo.lock."""
    if ctx.index is None or ROOT_LOCKFILE not in snapshot.files:
        return None
    return await ctx.index.libc()


def feedback_digest(report: Report, config: Config, index_unreachable: bool) -> str:
    """Return a hash of everything pull-request feedback depends on but the sha."""
    parts = [
        report.verdict.value,
        reviews.summary_body(report, ""),
        repr(report.fixes),
        f"{config.suggestions}/{config.summary_comment}/{index_unreachable}",
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


async def _feedback(
    gh: GitHubClient,
    target: CheckTarget,
    ctx: Context,
    report: Report,
    config: Config,
    snapshot: Snapshot,
    index_unreachable: bool,
    fresh: bool,
) -> None:
    """Post suggestions and the summary comment unless they were already posted.

    The store remembers per pull request what was last posted, so an update
    that changes none of it (and a clean pull request that was never at risk)
    costs no request at all.
    """
    number = target.pull_number
    if number is None:
        return
    stored = await ctx.store.get_pull_feedback(target.repo_id, number)
    at_risk = reviews.is_at_risk(report)
    was_at_risk = stored is not None and stored.verdict == Verdict.AT_RISK
    if not at_risk and not was_at_risk and not fresh:
        return  # never at risk, or already marked fixed
    plan = report.fixes[0] if report.fixes else None
    lock_blob = snapshot.shas.get(plan.path, "") if plan is not None else ""
    new = PullFeedback(
        report.verdict.value,
        feedback_digest(report, config, index_unreachable) if at_risk else "",
        lock_blob,
    )
    if stored == new and not fresh:
        return
    pull = reviews.PullRequest(
        target.owner, target.repo, number, target.head_sha, await ctx.identity()
    )
    done = await reviews.publish_feedback(
        gh,
        pull,
        report,
        snapshot.files,
        suggestions=config.suggestions,
        summary_comment=config.summary_comment,
        index_unreachable=index_unreachable,
    )
    if done is not None:
        await ctx.store.set_pull_feedback(target.repo_id, number, new)


async def _pull_base_sha(gh: GitHubClient, target: CheckTarget) -> str:
    """Return the pull request's base commit (the trigger did not name it)."""
    pull = await gh.getitem(
        "/repos/{owner}/{repo}/pulls/{number}",
        {"owner": target.owner, "repo": target.repo, "number": str(target.pull_number)},
    )
    return payload.commit_sha(pull, "base.sha")


async def _base_config(
    gh: GitHubClient, target: CheckTarget, ctx: Context
) -> BaseConfig:
    """Return the config file at the pull request's base commit.

    A pull request never configures its own check: its head could turn a
    failure into success (`enabled: false`, `ignore_paths: ["**"]`). The file
    is read once per base commit (then by blob sha from the blob cache), so
    pushes to a pull request whose base did not move cost no request.
    """
    base_sha = target.base_sha or await _pull_base_sha(gh, target)
    key = (target.repo_id, base_sha)
    blob = ctx.base_configs.get(key)
    if blob == "":
        return BaseConfig(None, None)
    if blob is not None:
        cached = ctx.blobs.get(blob)
        if cached is not None:
            return BaseConfig(cached, blob)
    try:
        data = await gh.get_raw(
            "/repos/{owner}/{repo}/contents/{path}?ref={ref}",
            {
                "owner": target.owner,
                "repo": target.repo,
                "path": CONFIG_PATH,
                "ref": base_sha,
            },
            max_bytes=MAX_CONFIG_BYTES,
        )
    except BlobTooLarge:
        error = f"larger than {MAX_CONFIG_BYTES} bytes; ignored"
        return BaseConfig(None, None, error)
    except gidgethub.BadRequest as exc:
        if exc.status_code != 404:
            raise
        ctx.base_configs[key] = ""
        return BaseConfig(None, None)
    blob = git_blob_sha(data)
    ctx.blobs.put(blob, data)
    ctx.base_configs[key] = blob
    return BaseConfig(data, blob)


def _config_annotation(error: ConfigError) -> dict[str, Any]:
    line = max(1, error.line)
    return {
        "path": CONFIG_PATH,
        "start_line": line,
        "end_line": line,
        "annotation_level": "warning",
        "message": error.message,
        "title": "musl-check config (takes effect after merge)",
    }


def _config_of(
    snapshot: Snapshot, base: BaseConfig | None
) -> tuple[Config | None, ConfigNotes]:
    """Return the repository's config for this check and what to say about it."""
    path = render.escape_markdown(CONFIG_PATH, code=True)
    head = snapshot.files.get(CONFIG_PATH)
    if base is None:  # a branch of this repository: its own file applies
        if head is None:
            return None, ConfigNotes()
        own, errors = check_config(head)
        return own, ConfigNotes(
            tuple(f"{path}: {render.escape_markdown(e.message)}" for e in errors)
        )
    config: Config | None = None
    notes: list[str] = []
    if base.error:
        notes.append(f"{path} on the base branch: {base.error}")
    if base.data is not None:
        config, errors = check_config(base.data)
        notes += [
            f"{path} on the base branch: {render.escape_markdown(e.message)}"
            for e in errors
        ]
    annotations: tuple[dict[str, Any], ...] = ()
    # Unread (too large) on the base: whether the pull request changed it is
    # unknown, so no notice.
    if not base.error and snapshot.shas.get(CONFIG_PATH) != base.blob:
        notes.append(CONFIG_CHANGED)
        if head is not None:
            _config, errors = check_config(head)
            annotations = tuple(_config_annotation(e) for e in errors)
    return config, ConfigNotes(tuple(notes), annotations)


def _analyse(
    snapshot: Snapshot,
    ctx: Context,
    entries: Sequence[IndexEntry] | None,
    org_default: tuple[Config | None, tuple[str, ...]] = (None, ()),
    base: BaseConfig | None = None,
) -> tuple[Report, Config, ConfigNotes]:
    """Return the report (cached while no read file changed), config, notes.

    The repository's `.github/musl-check.yml` (for a pull request: its base
    branch's, `base`) overrides the organisation default key by key.
    """
    org_config, org_errors = org_default
    repo_config, said = _config_of(snapshot, base)
    # Config errors quote the file's keys and values: escaped, never Markdown.
    said = dataclasses.replace(
        said, notes=(*(render.escape_markdown(e) for e in org_errors), *said.notes)
    )
    config = merge_config(org_config, repo_config)
    index_key = None if entries is None else hash(tuple(entries))
    key = (snapshot.key, snapshot.problems, index_key, config)
    report: Report | None = ctx.results.get(key)
    if report is None:
        try:
            report = ctx.options.analyse(snapshot.files, config, entries)
        except Exception as exc:
            raise checks.AnalysisError(type(exc).__name__) from exc
        report = add_problems(report, snapshot.problems)
        ctx.results[key] = report
    return report, config, said
