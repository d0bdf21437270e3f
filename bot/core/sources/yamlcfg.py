"""The musl scan shared by YAML CI files (loading: `yamlload.py`).

Each CI system (GitHub Actions, GitLab, CircleCI, Cirrus, Azure) is a
`Dialect` of one scan:

* every scalar of active configuration (not a comment, not a matrix `exclude:`,
  not a step or job disabled with `if: false`) that names a musl triple is a
  use, unless the triple is part of a download of a prebuilt tool;
* a triple in a condition (`if:`, `${{ ... }}`) is a use only when the same
  job also builds it: a condition on a target whose matrix entry is commented
  out is dead code;
* implicit uses: templated triples (`${{ matrix.arch }}-unknown-linux-musl`,
  `$ARCH-unknown-linux-${{ matrix.libc }}`), maturin `manylinux: musllinux_*`,
  and musl builder images used to build (`builders.py`), Alpine's own Rust
  in an Alpine job;
* each use builds in a directory (`working-directory`, `defaults.run`, `cd`,
  `--manifest-path`) that the analysis resolves to a Cargo.lock.

GitHub workflows are first split (see `prune.py`): the jobs and steps that
mention no marker are only checked by libyaml, not walked, and are read when
a question needs them, so the answers are those of the whole file.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from bot.core.sources import Hint, HintKind, MuslUse, Problem, SourceResult, UseKind
from bot.core.sources.builders import (
    ALPINE_RE,
    ARCH_ALIASES,
    FALLBACK_ARCHES,
    HOST_MUSL_IMAGE_RE,
    MUSL_FOR_ARCH,
    MUSL_IMAGE_RE,
    RUST_ALPINE_RE,
    musl_triple_for,
    runs_build,
)
from bot.core.sources.prune import Split
from bot.core.sources.shell import (
    BUILD_RUN_RE as _BUILD_RUN_RE,
)
from bot.core.sources.shell import (
    TemplatedTriple,
    apk_adds_rust,
    command_dir,
    continues_download,
    find_dynamic_musl,
    find_templated,
    find_toolchain_pins,
    find_triples,
    join_dir,
    manifest_dir,
    strip_comment,
)
from bot.core.sources.yamlload import (
    Document,
    Path,
    Scalar,
    load_workflow,
    load_yaml,
    segments,
)

# Cheap pre-filter: files without these markers cannot hold a musl use.
MARKERS: Final = ("musl", "alpine")
# Text without these cannot name a musl target or image (see `_Scan`): a
# triple without "musl" counts only with a templated env part
# (`-linux-${{ matrix.libc }}`, `-linux-"$LIBC"`, `-linux-<< x >>`; see
# `shell.find_templated`).
CANDIDATE_MARKERS: Final = ("musl", "alpine", "-linux-$", '-linux-"', "-linux-<")


# ---------------------------------------------------------------------------
# Dialects and the shared scan


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one CI system lays out jobs, conditions and build images."""

    kind: UseKind
    # Top-level key holding the jobs ("jobs"), or "" when jobs are top-level keys.
    jobs_key: str
    condition_keys: frozenset[str]
    skip_keys: frozenset[str] = frozenset({"services"})
    image_keys: frozenset[str] = frozenset({"image"})
    # GitHub expressions `${{ ... }}` are conditions when they hold a triple.
    expressions: bool = True
    # Conditions must be backed by a use in the same job (else: anywhere in file).
    job_scoped_conditions: bool = False
    # Top-level keys that hold defaults for every job rather than a job.
    global_keys: frozenset[str] = frozenset()
    # False: the file is one scope (job nesting too irregular, e.g. Azure stages).
    scoped: bool = True
    # Jobs under a top-level `jobs:` that mention no marker may be left unread
    # until a question needs them (GitHub Actions: conditions are job-scoped).
    split_jobs: bool = False


def _expressions(text: str) -> list[tuple[int, int]]:
    """Return the spans of the `${{ ... }}` expressions in one line, in order.

    An unclosed `${{` ends the search: nothing after it can close (linear,
    where a lazy regex rescanned the rest of the line from every `${{`).
    """
    spans = []
    start = text.find("${{")
    while start >= 0:
        end = text.find("}}", start + 3)
        if end < 0:
            break
        spans.append((start, end + 2))
        start = text.find("${{", end + 2)
    return spans


_DOCKER_RUN_RE: Final = re.compile(r"\b(?:docker|podman)\s+(?:container\s+)?run\b")
_MUSLLINUX_RE: Final = re.compile(r"musllinux[_0-9a-z]*")
_ARM_RE: Final = re.compile(r"arm64|aarch64")
# Keys that set the directory a step or action builds in.
_MANIFEST_KEYS: Final = frozenset({"manifest-path", "manifest_path", "manifestPath"})
_DIR_KEYS: Final = _MANIFEST_KEYS | {
    "working-directory",
    "working_directory",
    "workingDirectory",
    "workdir",
}
# Text without these sets no build directory (`_Scan.build_dirs`).
_DIR_MARKERS: Final = ("cd ", "manifest", "orking", "workdir")
# A value without these neither builds nor names a directory.
_DIR_WORDS_RE: Final = re.compile("cargo|cross|maturin|cd|manifest")


def _step_of(path: Path) -> Path:
    """Return the step (`steps` item) or else the list or mapping holding `path`."""
    for i in range(len(path) - 2, -1, -1):
        if path[i] == "steps":
            return path[: i + 2]
    return path[:-1]


# A line this long is probed around each templated triple, not whole, so that
# a line packed with them costs linear time (no real CI line comes close).
_PROBE_WHOLE_LINE: Final = 1024
_PROBE_CONTEXT: Final = 256


def _in_download(text: str, tpl: TemplatedTriple) -> bool:
    """Return whether a templated triple is part of a download where it stands.

    It is when, spelled as a literal triple, every triple on its line (or, on a
    very long line, near it) is a download (see `shell.find_triples`).
    """
    lo, hi = 0, len(text)
    if hi > _PROBE_WHOLE_LINE:
        lo = max(0, tpl.start - _PROBE_CONTEXT)
        hi = min(hi, tpl.start + len(tpl.text) + _PROBE_CONTEXT)
    probe = find_triples(
        text[lo : tpl.start]
        + "x86_64-unknown-linux-musl"
        + text[tpl.start + len(tpl.text) : hi]
    )
    return bool(probe) and all(m.download for m in probe)


@functools.lru_cache(maxsize=256)
def _key_re(key: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(key)}['\"]?[ \t]*:")  # a literal first: fast


_LINE_LEAD_RE: Final = re.compile(r"[ \t-]*")


def holds_key(text: str, key: str) -> bool:
    """Return whether `key` may be a mapping key in `text` (not in a comment line).

    Linear in `text`: each line's start is found once, however many matches.
    """
    searched = 0  # no newline between the current line's start and here
    comment: bool | None = None  # whether the current line is a comment
    for match in _key_re(key).finditer(text):
        at = match.start()
        if at and (text[at - 1].isalnum() or text[at - 1] in "_.-"):
            continue  # part of a longer word: `cross-matrix:`, `${{ x.matrix }}`
        newline = text.rfind("\n", searched, at)
        if newline >= 0 or comment is None:
            lead = _LINE_LEAD_RE.match(text, newline + 1 if newline >= 0 else 0)
            comment = lead is not None and text.startswith("#", lead.end())
        searched = at
        if not comment:
            return True
    return False


def _dedupe(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(slots=True)
class _Scan:
    """Mutable state of one file's scan."""

    path: str
    dialect: Dialect
    lines: Sequence[str]
    scalars: Sequence[Scalar]
    uses: dict[tuple[int, str], MuslUse] = field(default_factory=dict)
    hints: list[Hint] = field(default_factory=list)
    # (scope, key) -> value scalars; matrix values also under (scope, "matrix.key").
    values: dict[tuple[Path, str], list[Scalar]] = field(default_factory=dict)
    built: dict[Path, set[str]] = field(default_factory=dict)
    dynamic_scopes: set[Path] = field(default_factory=set)
    indexed: bool = False
    candidates: list[Scalar] = field(default_factory=list)
    building_scopes: set[Path] | None = None
    # What `scalars` leave out (see `load_workflow`), and how to read it all.
    split: Split | None = None
    whole_file: Callable[[], Document | Problem] | None = None
    asked: set[tuple[object, ...]] = field(default_factory=set)
    # key -> the lists of `values` under that key, one per scope, in order.
    named: dict[str, list[list[Scalar]]] = field(default_factory=dict)
    at_path: dict[Path, list[Scalar]] | None = None
    # The path of the scalar each use stands in (`at` while it is added).
    use_paths: dict[tuple[int, str], Path] = field(default_factory=dict)
    at: Path = ()
    # scope -> (directory of each building step or list, the job's directory,
    # the default from `defaults:`)
    dirs: dict[Path, tuple[dict[Path, str], str, str]] = field(default_factory=dict)
    # scope -> its scalars that may name a directory (see `dir_scalars`)
    dir_groups: dict[Path, list[Scalar]] | None = None

    def __post_init__(self) -> None:
        # Only scalars that can name a musl target or image take part below.
        self.candidates = [
            s
            for s in self.scalars
            if "musl" in s.value or "alpine" in s.value or "-linux-" in s.value
        ]

    def whole(self) -> None:
        """Read the parts left out, for a question they may change the answer to.

        The parts left out mention no marker, so they hold no candidate (and
        the steps kept keep their indices): only the index and the building
        scopes change. Callers index again afterwards.
        """
        if self.whole_file is None:
            return
        doc, self.whole_file, self.split = self.whole_file(), None, None
        if isinstance(doc, Document):  # else (too deep, say): what was read
            self.scalars = doc.scalars
            self.values, self.named, self.at_path = {}, {}, None
            self.dynamic_scopes = set()
            self.indexed = False
            self.building_scopes = None
            self.dir_groups = None

    def steps_left_out(self, scope: Path) -> str:
        """Return the text of the steps of job `scope` that were left out."""
        if self.split is None or len(scope) != 2:  # () is the top level
            return ""
        return self.split.steps_left_out.get(str(scope[1]), "")

    def needs(self, scope: Path | None, key: str) -> None:
        """Read the whole file if a part left out may hold `key`.

        `scope` None: any part; else the steps left out of job `scope`.
        """
        if self.split is None:
            return
        text = self.split.left_out if scope is None else self.steps_left_out(scope)
        self._whole_if((scope, key), lambda: holds_key(text, key))

    def _whole_if(
        self, question: tuple[object, ...], found: Callable[[], bool]
    ) -> None:
        """Read the whole file if `found()`; each question is asked once
        (the texts left out can be large)."""
        if self.split is not None and question not in self.asked:
            self.asked.add(question)
            if found():
                self.whole()

    def scope(self, path: Path) -> Path:
        if not self.dialect.scoped:
            return ()
        if self.dialect.jobs_key:
            if len(path) >= 2 and path[0] == self.dialect.jobs_key:
                return path[:2]
            return ()
        if path and path[0] in self.dialect.global_keys:
            return ()
        return path[:1]

    def add(self, line: int, target: str, resolves: tuple[str, ...] = ()) -> None:
        key = (line, target)
        if key not in self.uses:
            self.use_paths[key] = self.at
            self.uses[key] = MuslUse(
                self.path,
                line,
                target,
                self.dialect.kind,
                implicit=bool(resolves),
                resolves_to=resolves or (target,),
            )

    # -- indexing (built on first use: most files never need it) -------------

    def index(self) -> None:
        if self.indexed:
            return
        self.indexed = True
        values = self.values
        for scalar in self.scalars:
            if scalar.is_key:
                continue
            path = scalar.path
            # The last key on the path; most paths end with one (not an index).
            key = path[-1] if path else None
            if not isinstance(key, str):
                strings = [p for p in path if isinstance(p, str)]
                if not strings:
                    continue
                key = strings[-1]
            scope = self.scope(path)
            same = values.get((scope, key))
            if same is None:
                same = values[scope, key] = []
                self.named.setdefault(key, []).append(same)
            same.append(scalar)
            if "matrix" in path:
                names = [p for p in path if isinstance(p, str)]
                self.values.setdefault((scope, f"matrix.{key}"), []).append(scalar)
                if len(names) >= 2 and names[-2] not in ("matrix", "include"):
                    # `${{ matrix.platform.target }}`: an object-valued axis.
                    dotted = f"matrix.{names[-2]}.{key}"
                    self.values.setdefault((scope, dotted), []).append(scalar)
                if "${{" in scalar.value:
                    # `matrix: ${{ fromJSON(...) }}`: the job's targets are unknown.
                    self.dynamic_scopes.add(scope)

    def builds(self, scope: Path) -> bool:
        """Return whether the job `scope` (() = whole file) runs a Rust build."""
        if not scope:
            self.whole()
            return bool(self.building())
        if scope not in self.building():
            left_out = self.steps_left_out(scope)
            self._whole_if(("build", scope), lambda: runs_build(left_out))
        return scope in self.building()

    def building(self) -> set[Path]:
        """Return the scopes with a value that runs a Rust build."""
        if self.building_scopes is None:
            self.building_scopes = set()
            for scalar in self.scalars:
                if not scalar.is_key and runs_build(scalar.value):
                    self.building_scopes.add(self.scope(scalar.path))
        return self.building_scopes

    def resolve(self, ref: str, scope: Path, depth: int = 0) -> list[str]:
        """Return the literal values a variable reference can take."""
        parts = ref.split(".")
        name = parts[-1]
        in_matrix = parts[0] == "matrix"
        self.needs(scope, "matrix" if in_matrix else name)
        self.index()
        lookup = f"matrix.{name}" if in_matrix else name
        found = (
            self.values.get((scope, ref))
            or self.values.get((scope, lookup))
            or self.values.get(((), lookup), [])
        )
        if not found and not in_matrix:
            # `$ARCH` may be set anywhere in the file (another job's env, a
            # template): take every value the file gives it.
            self.needs(None, name)
            self.index()
            found = [n for ns in self.named.get(name, []) for n in ns]
        out: list[str] = []
        for scalar in found:
            value = scalar.value.strip()
            if "$" in value or "<<" in value:
                refs = [
                    t.arch_ref for t in find_templated(value + "-unknown-linux-musl")
                ]
                if depth < 3 and refs and refs[0] and refs[0] != ref:
                    out.extend(self.resolve(refs[0], scope, depth + 1))
                continue
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return list(dict.fromkeys(out))

    def sibling(self, scalar: Scalar, key: str) -> list[str]:
        """Return the value(s) of `key` in the mapping that holds `scalar`."""
        if self.at_path is None:
            # Each value by its path; an item of a list also by the list's path.
            self.at_path = {}
            for s in self.scalars:
                if not s.is_key:
                    self.at_path.setdefault(s.path, []).append(s)
                    if s.path and isinstance(s.path[-1], int):
                        self.at_path.setdefault(s.path[:-1], []).append(s)
        return [s.value for s in self.at_path.get((*scalar.path[:-1], key), [])]

    # -- explicit triples -----------------------------------------------------

    def explicit(self) -> None:
        # (line, triple, scope, path, is_condition) of every non-download mention.
        mentions: list[tuple[int, str, Path, Path, bool]] = []
        guards: dict[Path, str] = {}  # step/job path -> its `if:` text
        condition_keys = self.dialect.condition_keys
        for scalar in self.candidates:
            value = scalar.value
            if "linux-musl" not in value:
                continue
            scope = self.scope(scalar.path)
            # Under a condition key? Keys are strings; indices never match.
            condition = not condition_keys.isdisjoint(scalar.path) or (
                scalar.is_key and value.lstrip().startswith("${{")
            )
            if condition and scalar.path[-1] == "if":
                guards[scalar.path[:-1]] = value
            for seg in segments(scalar, self.lines, "-linux-musl"):
                if scalar.line != scalar.end_line and continues_download(
                    self.lines, seg.line - 1
                ):
                    continue
                exprs = (
                    _expressions(seg.text)
                    if self.dialect.expressions and "${{" in seg.text
                    else []
                )
                expr = 0  # mentions come in order: the first span not before it
                for mention in find_triples(seg.text):
                    if mention.download:
                        continue
                    while expr < len(exprs) and exprs[expr][1] <= mention.start:
                        expr += 1
                    in_expr = expr < len(exprs) and exprs[expr][0] <= mention.start
                    mentions.append(
                        (
                            seg.line,
                            mention.triple,
                            scope,
                            scalar.path,
                            condition or in_expr,
                        )
                    )

        order = {guard: i for i, guard in enumerate(guards)}
        found: dict[Path, Path | None] = {}

        def guard_of(path: Path) -> Path | None:
            """Return the first guard (in file order) over `path`, if any."""
            if path not in found:
                over = [p for k in range(len(path) + 1) if (p := path[:k]) in order]
                found[path] = min(over, key=order.__getitem__) if over else None
            return found[path]

        # Targets a job builds: plain mentions outside steps guarded by a
        # condition on a triple (such a step may itself be dead).
        for _line, triple, scope, path, cond in mentions:
            if not cond and guard_of(path) is None:
                self.built.setdefault(scope, set()).add(triple)
        dead = {g for g, text in guards.items() if self.guard_dead(g, text)}
        for _line, triple, scope, path, cond in mentions:
            guard = guard_of(path)
            if not cond and guard is not None and guard not in dead:
                self.built.setdefault(scope, set()).add(triple)
        for line, triple, scope, path, cond in mentions:
            guard = guard_of(path)
            if guard in dead:
                continue  # a step that only runs for a target nobody builds
            if not cond or self.condition_live(triple, scope):
                self.at = path
                self.add(line, triple)

    def guard_dead(self, guard: Path, text: str) -> bool:
        """Return whether an `if:` on musl triples can never hold in its job."""
        if not self.dialect.job_scoped_conditions or "!" in text:
            return False
        scope = self.scope(guard)
        triples = {m.triple for m in find_triples(text)}
        return bool(triples) and not any(self.condition_live(t, scope) for t in triples)

    def condition_live(self, triple: str, scope: Path) -> bool:
        """Return whether a condition on `triple` can hold (the triple is built)."""
        if self.dialect.job_scoped_conditions and scope:
            self.needs(scope, "matrix")  # a step's matrix input may be dynamic
            self.index()
            if scope in self.dynamic_scopes:
                return True
            return triple in self.built.get(scope, set()) or triple in self.built.get(
                (), set()
            )
        self.whole()  # a matrix anywhere may be dynamic
        self.index()
        if self.dynamic_scopes:
            return True
        return any(triple in b for b in self.built.values())

    # -- implicit uses --------------------------------------------------------

    def templated(self) -> None:
        condition_keys = self.dialect.condition_keys
        for scalar in self.candidates:
            # Conditions are read by `explicit` (see `condition_live`).
            if "-linux-" not in scalar.value or not condition_keys.isdisjoint(
                scalar.path
            ):
                continue
            scope = self.scope(scalar.path)
            for seg in segments(scalar, self.lines, "-linux-"):
                for tpl in find_templated(seg.text):
                    if (seg.line, tpl.text) in self.uses:
                        continue  # the same text on this line: the same use
                    if _in_download(seg.text, tpl) or (
                        scalar.line != scalar.end_line
                        and continues_download(self.lines, seg.line - 1)
                    ):
                        continue  # part of a download URL / tool asset name
                    self.at = scalar.path
                    self.add_templated(seg.line, tpl, scope)

    def add_templated(self, line: int, tpl: TemplatedTriple, scope: Path) -> None:
        if tpl.arch_ref:
            arches = [a for a in self.resolve(tpl.arch_ref, scope) if a]
            arches = [ARCH_ALIASES.get(a.lower(), a) for a in arches]
            if not arches:
                arches = list(FALLBACK_ARCHES)
        else:
            arches = [tpl.arch]
        env_nodes: list[Scalar] = []
        if tpl.env_ref:
            name = tpl.env_ref.split(".")[-1]
            in_matrix = tpl.env_ref.startswith("matrix.")
            self.needs(scope, "matrix" if in_matrix else name)
            self.index()
            lookup = f"matrix.{name}" if in_matrix else name
            found = self.values.get((scope, lookup)) or self.values.get(
                ((), lookup), []
            )
            env_nodes = [n for n in found if n.value.strip().startswith("musl")]
            envs = [n.value.strip() for n in env_nodes]
        else:
            envs = [tpl.env]
        triples = [
            f"{arch}-{tpl.vendor}-linux-{env}" for env in envs for arch in arches
        ]
        if not triples:
            return
        resolved = _dedupe(triples)
        self.add(line, tpl.text, resolved)
        for node in env_nodes:
            env = node.value.strip()
            own = tuple(t for t in resolved if t.endswith(f"-linux-{env}"))
            self.at = node.path
            self.add(node.line + 1, env, own or resolved)

    def musllinux(self) -> None:
        for scalar in self.candidates:
            if scalar.is_key or "musllinux" not in scalar.value:
                continue
            names = [p for p in scalar.path if isinstance(p, str)]
            if not names or names[-1] != "manylinux":
                continue
            match = _MUSLLINUX_RE.search(scalar.value)
            if match is None:  # pragma: no cover - guarded by the `in` test
                continue
            scope = self.scope(scalar.path)
            targets: list[str] = []
            raw = self.sibling(scalar, "target")
            for value in raw:
                tpls = find_templated(value.strip() + "-unknown-linux-musl")
                if "${{" in value and tpls and tpls[0].arch_ref:
                    raw_values = self.resolve(tpls[0].arch_ref, scope)
                else:
                    raw_values = [value]
                targets += [t for v in raw_values if (t := musl_triple_for(v))]
            if not raw:
                targets = [MUSL_FOR_ARCH["x86_64"]]  # maturin builds for the host
            if targets:
                self.at = scalar.path
                self.add(scalar.line + 1, match.group(0), _dedupe(targets))

    def images(self) -> None:
        for scalar in self.candidates:
            if scalar.is_key:
                continue
            self.at = scalar.path
            if "docker" in scalar.value and "run" in scalar.value:
                self.docker_run_images(scalar)
            names = [p for p in scalar.path if isinstance(p, str)]
            if not names:
                continue
            value = scalar.value.strip()
            key = names[-1]
            if key == "uses" and value.startswith("docker://"):
                value = value.removeprefix("docker://")
            elif key not in self.dialect.image_keys and not (
                key == "name"
                and len(names) >= 2
                and names[-2] in self.dialect.image_keys
            ):
                continue
            self.image(scalar, value.split("@", 1)[0])

    def docker_run_images(self, scalar: Scalar) -> None:
        """Report musl builder images a `docker run` command builds in."""
        for seg in segments(scalar, self.lines):
            if _DOCKER_RUN_RE.search(seg.text) is None:
                continue
            for word in seg.text.split():
                musl = MUSL_IMAGE_RE.search(word)
                if musl is not None:
                    self.add_musl_image(seg.line, musl)
                elif HOST_MUSL_IMAGE_RE.search(word):
                    self.add_host_image(seg.line, word.strip("'\""))

    def add_musl_image(self, line: int, musl: re.Match[str]) -> None:
        arch = ARCH_ALIASES.get(musl.group("arch"), musl.group("arch"))
        triple = f"{arch}-unknown-linux-{musl.group('env')}"
        name = f"{musl.group('name')}:{musl.group('arch')}-{musl.group('env')}"
        self.add(line, name, (triple,))

    def add_host_image(self, line: int, image: str) -> None:
        arch = "aarch64" if re.search(r"arm64|aarch64", image) else "x86_64"
        self.add(line, image, (MUSL_FOR_ARCH[arch],))

    def image(self, scalar: Scalar, image: str) -> None:
        musl = MUSL_IMAGE_RE.search(image)
        host = musl is None and HOST_MUSL_IMAGE_RE.search(image) is not None
        rust_alpine = not (musl or host) and RUST_ALPINE_RE.search(image) is not None
        alpine = rust_alpine or ALPINE_RE.search(image) is not None
        if not (musl or host or alpine) or not self.builds(self.scope(scalar.path)):
            return  # not a musl image, or it runs or tests something already built
        line = scalar.line + 1
        if musl is not None:
            self.add_musl_image(line, musl)
        elif host:
            self.add_host_image(line, image)
        else:
            if rust_alpine:
                self.add(line, image, (MUSL_FOR_ARCH["x86_64"],))
            elif self.native_alpine(self.scope(scalar.path)):
                # Alpine's own Rust (or rustup on Alpine) builds for the musl
                # host: a native musl build with no triple in the file.
                arch = "aarch64" if _ARM_RE.search(image) else "x86_64"
                self.add(line, image, (MUSL_FOR_ARCH[arch],))
            self.hints.append(Hint(self.path, line, HintKind.SYSTEM_MUSL, image))

    def native_alpine(self, scope: Path) -> bool:
        """Return whether job `scope` installs Rust on Alpine and builds with it."""
        if scope:
            left_out = self.steps_left_out(scope)
            self._whole_if(
                ("alpine", scope),
                lambda: "apk" in left_out or _BUILD_RUN_RE.search(left_out) is not None,
            )
        else:
            self.whole()
        texts = [
            s.value
            for s in self.scalars
            if not s.is_key and (not scope or self.scope(s.path) == scope)
        ]
        installs = any(
            ("apk" in t and apk_adds_rust(t)) or "rustup" in t for t in texts
        )
        return installs and any(_BUILD_RUN_RE.search(t) for t in texts)

    # -- where each use builds -------------------------------------------------

    def dir_scalars(self, scope: Path) -> list[Scalar]:
        """Return the value scalars of `scope` (of every scope for `()`) that can
        name a directory to build in, in order; grouped once per reading."""
        if self.dir_groups is None:
            groups: dict[Path, list[Scalar]] = {(): []}
            for s in self.scalars:
                if not s.is_key and (
                    s.path[-1] in _DIR_KEYS or _DIR_WORDS_RE.search(s.value) is not None
                ):
                    groups[()].append(s)
                    own = self.scope(s.path)
                    if own:
                        groups.setdefault(own, []).append(s)
            self.dir_groups = groups
        return self.dir_groups.get(scope, [])

    def projects(self) -> dict[tuple[int, str], str]:
        """Return the directory each use builds in, where it is not the root."""
        out: dict[tuple[int, str], str] = {}
        for key, path in self.use_paths.items():
            project = self.project_for(path)
            if project:
                out[key] = project
        return out

    def project_for(self, path: Path) -> str:
        """Return the directory the build that `path` belongs to runs in."""
        scope = self.scope(path)
        steps, job, _ = self.build_dirs(scope)
        for owner, where in steps.items():
            if path[: len(owner)] == owner:
                return where
        if not steps and scope:
            return self.build_dirs(())[1] or job
        return job

    def build_dirs(self, scope: Path) -> tuple[dict[Path, str], str, str]:
        """Return (directory of each building step, the job's) for `scope`.

        A step's base is its `working-directory` (an action's input too),
        else the job's or the file's `defaults.run.working-directory`; then
        `cd dir` and `--manifest-path` in its commands. The job's directory
        is that of its first build for a target (`--target`, musl), else
        its first build, else its default.
        """
        if scope in self.dirs:
            return self.dirs[scope]
        if scope:
            left_out = self.steps_left_out(scope)
            # A step left out matters if it names a directory to build in
            # (`cd` only counts next to a build: it is common for other work).
            self._whole_if(
                ("dirs", scope),
                lambda: (
                    any(m in left_out for m in _DIR_MARKERS[1:])
                    or (
                        "cd " in left_out and _BUILD_RUN_RE.search(left_out) is not None
                    )
                ),
            )
        mine = self.dir_scalars(scope)
        default = ""
        bases: dict[Path, str] = {}
        for scalar in mine:
            key = scalar.path[-1] if scalar.path else None
            if key not in _DIR_KEYS:
                continue
            value = scalar.value.strip()
            if key in _MANIFEST_KEYS:
                value = manifest_dir(value)
            where = join_dir("", value)
            if where is None:
                continue
            if "defaults" not in scalar.path:
                bases.setdefault(_step_of(scalar.path), where)
            elif self.scope(scalar.path) == scope:  # a job's own, or the file's
                default = default or where
        if not default and scope:
            default = self.build_dirs(())[2]  # the file's `defaults:`
        steps: dict[Path, str] = {}
        first: str | None = None
        targeted: str | None = None
        cwd: dict[Path, str] = {}
        for scalar in mine:
            if scalar.path and scalar.path[-1] in _DIR_KEYS:
                continue
            step = _step_of(scalar.path)
            shell = step if "steps" in scalar.path else scope
            here = cwd.get(shell, bases.get(step, default))
            for raw in scalar.value.split("\n"):
                line = strip_comment(raw)
                build = _BUILD_RUN_RE.search(line)
                moved = command_dir(line, here)
                if build is None and "--manifest-path" not in line:
                    if moved is not None:
                        here = cwd[shell] = moved  # `cd dir` for what follows
                    continue
                where = here if moved is None else moved
                steps.setdefault(step, where)
                first = where if first is None else first
                if targeted is None and ("--target" in line or "musl" in line):
                    targeted = where
        for step, where in bases.items():
            steps.setdefault(step, where)  # an action given a directory
            first = where if first is None else first
        job = targeted if targeted is not None else first
        self.dirs[scope] = (steps, default if job is None else job, default)
        return self.dirs[scope]


# ---------------------------------------------------------------------------
# Hints (regex over the raw text: cheap, and also for files without "musl")

_PIN: Final = r"(?P<pin>\d+\.\d+(?:\.\d+)?|stable|beta|nightly(?:-\d{4}-\d{2}-\d{2})?)"
# Each pattern starts with a literal so the regex engine skips ahead cheaply.
_ACTION_PIN_RE: Final = re.compile(r"dtolnay/rust-toolchain@" + _PIN + r"(?![\w.])")
_TOOLCHAIN_KEY_RE: Final = re.compile(
    r"toolchain:[ \t]*['\"]?" + _PIN + r"['\"]?[ \t]*(?:#.*)?$", re.M
)
_DYNAMIC_MATRIX_RE: Final = re.compile(r"matrix:[ \t]*['\"]?\$\{\{")
_REUSABLE_RE: Final = re.compile(
    r"uses:[ \t]*['\"]?(?P<wf>[\w.\-/]*\.github/workflows/[^\s'\"]+)"
)


# Needles of the lines worth a closer look (`rustup default X`, `-crt-static`).
_LINE_NEEDLES: Final = ("rustup", "cargo +", "crt-static", "link-self-contained")


def _marked_lines(text: str) -> list[tuple[int, str]]:
    """Return (start offset, text) of each line that holds one of `_LINE_NEEDLES`."""
    starts: set[int] = set()
    for needle in _LINE_NEEDLES:
        pos = text.find(needle)
        while pos >= 0:  # str.find skips ahead far faster than a regex
            starts.add(text.rfind("\n", 0, pos) + 1)
            end = text.find("\n", pos)
            if end < 0:
                break
            pos = text.find(needle, end)
    found = []
    for start in sorted(starts):
        end = text.find("\n", start)
        found.append((start, text[start : end if end >= 0 else len(text)]))
    return found


def scan_hints(path: str, text: str) -> list[Hint]:
    """Return toolchain pins, dynamic-musl flags and unresolvable matrices in `text`."""
    # (offset, kind, value, must be the key of its line), in pass order.
    found: list[tuple[int, HintKind, str, bool]] = []
    if "toolchain" in text:
        for m in _ACTION_PIN_RE.finditer(text):
            found.append((m.start(), HintKind.TOOLCHAIN, m.group("pin"), False))
        for m in _TOOLCHAIN_KEY_RE.finditer(text):
            found.append((m.start(), HintKind.TOOLCHAIN, m.group("pin"), True))
    for start, line_text in _marked_lines(text):
        if "rustup" in line_text or "cargo +" in line_text:
            for pin in find_toolchain_pins(line_text):
                found.append(
                    (start + line_text.find(pin), HintKind.TOOLCHAIN, pin, False)
                )
        if "crt-static" in line_text or "link-self-contained" in line_text:
            flag = find_dynamic_musl(line_text)
            if flag is not None:
                at = start + line_text.find(flag)
                found.append((at, HintKind.DYNAMIC_MUSL, flag, False))
    if "${{" in text:
        for m in _DYNAMIC_MATRIX_RE.finditer(text):
            found.append((m.start(), HintKind.UNRESOLVED, "dynamic matrix", True))
    if ".github/workflows/" in text and "target" in text:
        for m in _REUSABLE_RE.finditer(text):
            found.append((m.start(), HintKind.UNRESOLVED, m.group("wf"), True))
    if not found:
        return []
    # Line numbers in one forward pass over the sorted offsets.
    line_of: dict[int, int] = {}
    line, last = 1, 0
    for pos in sorted({f[0] for f in found}):
        line += text.count("\n", last, pos)
        line_of[pos] = line
        last = pos
    hints: list[Hint] = []
    for pos, kind, value, key in found:
        before = text[text.rfind("\n", 0, pos) + 1 : pos]
        if strip_comment(before) != before or before.lstrip().startswith("#"):
            continue  # inside a comment
        if key and before.strip(" \t-"):
            continue  # `toolchain:` etc. must be the key of its line
        hints.append(Hint(path, line_of[pos], kind, value))
    return hints


def scan_ci(path: str, text: str, dialect: Dialect) -> SourceResult:
    """Return the musl uses, hints and problems of one YAML CI file."""
    hints = sorted(scan_hints(path, text), key=lambda h: h.line)
    if not any(marker in text for marker in MARKERS):
        return SourceResult(hints=tuple(hints))
    skip = dialect.skip_keys
    if dialect.split_jobs:
        doc, split = load_workflow(path, text, skip, CANDIDATE_MARKERS)
    else:
        doc, split = load_yaml(path, text, skip), None
    if isinstance(doc, Problem):
        return SourceResult(hints=tuple(hints), problems=(doc,))
    scan = _Scan(path, dialect, doc.lines, doc.scalars)
    if split is not None:
        scan.split = split
        scan.whole_file = functools.partial(load_yaml, path, text, skip)
    scan.explicit()
    scan.templated()
    scan.musllinux()
    scan.images()
    if scan.uses and any(marker in text for marker in _DIR_MARKERS):
        for key, project in scan.projects().items():
            scan.uses[key] = dataclasses.replace(scan.uses[key], project=project)
    uses = tuple(sorted(scan.uses.values(), key=lambda u: (u.line, u.target)))
    all_hints = sorted([*hints, *scan.hints], key=lambda h: h.line)
    return SourceResult(uses=uses, hints=tuple(all_hints))
