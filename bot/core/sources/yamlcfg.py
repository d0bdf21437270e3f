"""Safe YAML loading with line numbers, and the musl scan shared by YAML CI files.

Files are composed (never constructed) with libyaml's C loader, so anchors and
aliases stay shared nodes: an alias bomb costs no more than its text, and the
walker visits every node once. libyaml itself refuses nesting deeper than 1000
levels; the walker stops far earlier. Each CI system (GitHub Actions, GitLab,
CircleCI, Cirrus, Azure) is a `Dialect` of one scan:

* every scalar of active configuration (not a comment, not a matrix `exclude:`,
  not a step or job disabled with `if: false`) that names a musl triple is a
  use, unless the triple is part of a download of a prebuilt tool;
* a triple in a condition (`if:`, `${{ ... }}`) is a use only when the same
  job also builds it: a condition on a target whose matrix entry is commented
  out is dead code;
* implicit uses: templated triples (`${{ matrix.arch }}-unknown-linux-musl`,
  `$ARCH-unknown-linux-${{ matrix.libc }}`), maturin `manylinux: musllinux_*`,
  and musl builder images used to build.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.core.sources import Hint, HintKind, MuslUse, Problem, SourceResult, UseKind
from bot.core.sources.shell import (
    TemplatedTriple,
    find_dynamic_musl,
    find_templated,
    find_toolchain_pins,
    find_triples,
    strip_comment,
)
from bot.core.targets import TRIPLE_RE, is_musl_triple

MAX_TEXT_CHARS: Final = 2_000_000
MAX_NODES: Final = 200_000
MAX_DEPTH: Final = 64
# Cheap pre-filter: files without these markers cannot hold a musl use.
MARKERS: Final = ("musl", "alpine")

Path = tuple[str | int, ...]


class _LimitError(Exception):
    """The document is too large or too deep to analyse."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Document:
    """Composed YAML documents of one file plus its source lines."""

    roots: tuple[Node, ...]
    lines: tuple[str, ...]


def load_yaml(path: str, text: str) -> Document | Problem:
    """Compose `text` with the C loader, or return a Problem naming the bad line."""
    if len(text) > MAX_TEXT_CHARS:
        return Problem(path, 1, f"file too large to analyse ({len(text)} characters)")
    nul = text.find("\x00")
    if nul >= 0:
        return Problem(path, text.count("\n", 0, nul) + 1, "binary content (NUL byte)")
    try:
        roots = tuple(yaml.compose_all(text, Loader=yaml.CSafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return Problem(path, line, f"invalid YAML: {exc.problem or exc.context}")
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        return Problem(path, line, f"invalid YAML: {exc.reason}")
    except (yaml.YAMLError, UnicodeError, RecursionError) as exc:
        return Problem(path, 1, f"invalid YAML: {type(exc).__name__}")
    return Document(tuple(r for r in roots if r is not None), tuple(text.split("\n")))


def get(node: Node | None, key: str) -> Node | None:
    """Return the value of `key` in a mapping node, or None."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key and isinstance(v, Node):
                return v
    return None


@dataclass(frozen=True, slots=True)
class Segment:
    """One source line of a scalar: 1-based `line`, comment-free `text`."""

    line: int
    text: str


def segments(node: ScalarNode, lines: Sequence[str]) -> list[Segment]:
    """Return the source lines a scalar spans, without shell comments."""
    start, end = node.start_mark, node.end_mark
    if start.line == end.line:
        text = strip_comment(node.value) if "\n" not in node.value else node.value
        return [Segment(start.line + 1, text)]
    if node.style in ("|", ">"):
        first, last = start.line + 1, end.line if end.column == 0 else end.line + 1
        spans = [(i, lines[i]) for i in range(first, min(last, len(lines)))]
    else:
        spans = []
        for i in range(start.line, min(end.line + 1, len(lines))):
            raw = lines[i]
            if i == end.line:
                raw = raw[: end.column]
            if i == start.line:
                raw = raw[start.column :]
            spans.append((i, raw))
    return [Segment(i + 1, strip_comment(raw)) for i, raw in spans]


@dataclass(frozen=True, slots=True)
class Scalar:
    """A scalar of active configuration: `path` from the root, `owner` mapping."""

    path: Path
    node: ScalarNode
    is_key: bool
    owner: MappingNode | None


def _is_disabled(node: MappingNode) -> bool:
    cond = get(node, "if")
    if isinstance(cond, ScalarNode):
        value = cond.value.replace(" ", "").lower()
        if value in ("false", "${{false}}", "0"):
            return True
    when = get(node, "when")
    return isinstance(when, ScalarNode) and when.value == "never"


def _skipped(path: Path, skip_keys: frozenset[str]) -> bool:
    last = path[-1]
    if last == "exclude" and len(path) >= 2 and path[-2] == "matrix":
        return True
    return isinstance(last, str) and last in skip_keys


def walk(root: Node, skip_keys: frozenset[str] = frozenset()) -> list[Scalar]:
    """Return the scalars (keys and values) of active configuration in order."""
    out: list[Scalar] = []
    seen: set[int] = set()
    budget = MAX_NODES
    stack: list[tuple[Node, Path, int, MappingNode | None, bool]] = [
        (root, (), 0, None, False)
    ]
    while stack:
        node, path, depth, owner, is_key = stack.pop()
        if id(node) in seen:
            continue  # an alias: its lines were scanned where the anchor stands
        seen.add(id(node))
        budget -= 1
        if budget < 0:
            raise _LimitError(node.start_mark.line + 1, "too many YAML nodes")
        if depth > MAX_DEPTH:
            raise _LimitError(node.start_mark.line + 1, "YAML nested too deeply")
        if isinstance(node, ScalarNode):
            out.append(Scalar(path, node, is_key, owner))
        elif isinstance(node, SequenceNode):
            stack.extend(
                (node.value[i], (*path, i), depth + 1, owner, False)
                for i in range(len(node.value) - 1, -1, -1)
            )
        elif isinstance(node, MappingNode) and not _is_disabled(node):
            children: list[tuple[Node, Path, int, MappingNode | None, bool]] = []
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else "?"
                child = (*path, name)
                if not _skipped(child, skip_keys):
                    children.append((key, child, depth + 1, node, True))
                    children.append((value, child, depth + 1, node, False))
            stack.extend(reversed(children))
    return out


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


_EXPR_RE: Final = re.compile(r"\$\{\{.*?\}\}")
_BUILD_CMD_RE: Final = re.compile(
    r"\b(?:cargo|rustc|cross|maturin|rustup|make|just)\b(?!-)"
)
_ARCH_ALIASES: Final = {
    "amd64": "x86_64",
    "x64": "x86_64",
    "x86_64": "x86_64",
    "x86": "i686",
    "i386": "i686",
    "i686": "i686",
    "i586": "i586",
    "arm64": "aarch64",
    "aarch64": "aarch64",
    "armv7": "armv7",
    "armv7l": "armv7",
    "armv6": "arm",
    "armv6l": "arm",
    "arm": "arm",
    "ppc64le": "powerpc64le",
    "powerpc64le": "powerpc64le",
    "ppc64": "powerpc64",
    "powerpc64": "powerpc64",
    "s390x": "s390x",
    "riscv64": "riscv64gc",
    "riscv64gc": "riscv64gc",
    "loongarch64": "loongarch64",
}
# The musl triple maturin / musllinux builds for a given architecture.
_MUSL_FOR_ARCH: Final = {
    "x86_64": "x86_64-unknown-linux-musl",
    "i686": "i686-unknown-linux-musl",
    "i586": "i586-unknown-linux-musl",
    "aarch64": "aarch64-unknown-linux-musl",
    "armv7": "armv7-unknown-linux-musleabihf",
    "arm": "arm-unknown-linux-musleabihf",
    "powerpc64le": "powerpc64le-unknown-linux-musl",
    "powerpc64": "powerpc64-unknown-linux-musl",
    "s390x": "s390x-unknown-linux-musl",
    "riscv64gc": "riscv64gc-unknown-linux-musl",
    "loongarch64": "loongarch64-unknown-linux-musl",
}
# When a templated arch cannot be resolved: the two musl host platforms.
_FALLBACK_ARCHES: Final = ("x86_64", "aarch64")
_MUSL_IMAGE_RE: Final = re.compile(
    r"(?:^|/)(?P<name>blackdex/rust-musl|(?:messense|rust-cross)/rust-musl-cross)"
    r":(?P<arch>[a-z0-9_]+)-(?P<env>musl(?:eabihf|eabi|abi64|spe)?)(?![a-z])"
)
_HOST_MUSL_IMAGE_RE: Final = re.compile(
    r"(?:^|/)(?:clux/muslrust|ekidd/rust-musl-builder|emk/rust-musl-builder)(?::|$)"
)
_RUST_ALPINE_RE: Final = re.compile(r"(?:^|/)rust:[^\s/]*alpine")
_ALPINE_RE: Final = re.compile(r"(?:^|/)alpine(?::|$)")
_MUSLLINUX_RE: Final = re.compile(r"musllinux[_0-9a-z]*")


def musl_triple_for(value: str) -> str | None:
    """Return the musl triple an arch (`x86_64`, `arm64`) or triple names, or None."""
    value = value.strip().strip("'\"")
    if TRIPLE_RE.fullmatch(value):
        return value
    arch = value.split("-", 1)[0].lower()
    canonical = _ARCH_ALIASES.get(arch)
    return _MUSL_FOR_ARCH.get(canonical) if canonical else None


def _dedupe(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@dataclass(slots=True)
class _Scan:
    """Mutable state of one file's scan."""

    path: str
    dialect: Dialect
    lines: Sequence[str]
    scalars: list[Scalar]
    uses: dict[tuple[int, str], MuslUse] = field(default_factory=dict)
    hints: list[Hint] = field(default_factory=list)
    # (scope, key) -> value scalars; matrix values are also under ("matrix", key).
    values: dict[tuple[Path, str], list[ScalarNode]] = field(default_factory=dict)
    built: dict[Path, set[str]] = field(default_factory=dict)
    dynamic_scopes: set[Path] = field(default_factory=set)
    scope_text: dict[Path, list[str]] = field(default_factory=dict)

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
        implicit = bool(resolves)
        key = (line, target)
        if key not in self.uses:
            self.uses[key] = MuslUse(
                self.path,
                line,
                target,
                self.dialect.kind,
                implicit=implicit,
                resolves_to=resolves if implicit else (target,),
            )

    # -- indexing -------------------------------------------------------------

    def index(self) -> None:
        for scalar in self.scalars:
            scope = self.scope(scalar.path)
            if scalar.is_key:
                continue
            names = [p for p in scalar.path if isinstance(p, str)]
            if not names:
                continue
            key = names[-1]
            in_matrix = "matrix" in names
            self.values.setdefault((scope, key), []).append(scalar.node)
            if in_matrix:
                self.values.setdefault((scope, f"matrix.{key}"), []).append(scalar.node)
                if "${{" in scalar.node.value or "fromJSON" in scalar.node.value:
                    self.dynamic_scopes.add(scope)
            if names[-1] == "matrix":
                # `matrix: ${{ fromJSON(...) }}`: the job's targets are unknown.
                self.dynamic_scopes.add(scope)
            self.scope_text.setdefault(scope, []).append(scalar.node.value)

    def resolve(self, ref: str, scope: Path, depth: int = 0) -> list[str]:
        """Return the literal values a variable reference can take."""
        parts = ref.split(".")
        name = parts[-1]
        in_matrix = parts[0] == "matrix"
        lookup = f"matrix.{name}" if in_matrix else name
        nodes = self.values.get((scope, lookup)) or self.values.get(((), lookup), [])
        if not nodes and not in_matrix:
            # `$ARCH` may be set anywhere in the file (another job's env, a
            # template): take every value the file gives it.
            nodes = [n for (_s, k), ns in self.values.items() if k == name for n in ns]
        out: list[str] = []
        for node in nodes:
            value = node.value.strip()
            if "$" in value or "<<" in value:
                refs = [
                    t.arch_ref for t in find_templated(value + "-unknown-linux-musl")
                ]
                if depth < 3 and refs and refs[0] and refs[0] != ref:
                    out.extend(self.resolve(refs[0], scope, depth + 1))
                continue
            out.extend(v.strip() for v in value.split(",") if v.strip())
        return list(dict.fromkeys(out))

    # -- explicit triples -----------------------------------------------------

    def is_condition(self, scalar: Scalar) -> bool:
        keys = self.dialect.condition_keys
        return any(isinstance(p, str) and p in keys for p in scalar.path)

    def explicit(self) -> None:
        pending: list[tuple[int, str, Path]] = []
        for scalar in self.scalars:
            value = scalar.node.value
            if "linux-musl" not in value:
                continue
            scope = self.scope(scalar.path)
            condition = self.is_condition(scalar) or (
                scalar.is_key and value.lstrip().startswith("${{")
            )
            for seg in segments(scalar.node, self.lines):
                exprs = (
                    [m.span() for m in _EXPR_RE.finditer(seg.text)]
                    if self.dialect.expressions and "${{" in seg.text
                    else []
                )
                for mention in find_triples(seg.text):
                    if mention.download:
                        continue
                    in_expr = any(a <= mention.start < b for a, b in exprs)
                    if condition or in_expr:
                        pending.append((seg.line, mention.triple, scope))
                    else:
                        self.built.setdefault(scope, set()).add(mention.triple)
                        self.add(seg.line, mention.triple)
        for line, triple, scope in pending:
            if self.condition_live(triple, scope):
                self.add(line, triple)

    def condition_live(self, triple: str, scope: Path) -> bool:
        """Return whether a condition on `triple` can hold (the triple is built)."""
        if self.dialect.job_scoped_conditions and scope:
            if scope in self.dynamic_scopes:
                return True
            return triple in self.built.get(scope, set()) or triple in self.built.get(
                (), set()
            )
        if self.dynamic_scopes:
            return True
        return any(triple in b for b in self.built.values())

    # -- implicit uses --------------------------------------------------------

    def templated(self) -> None:
        for scalar in self.scalars:
            value = scalar.node.value
            if "-linux-" not in value or self.is_condition(scalar):
                continue
            scope = self.scope(scalar.path)
            for seg in segments(scalar.node, self.lines):
                for tpl in find_templated(seg.text):
                    probe = find_triples(
                        seg.text[: tpl.start]
                        + "x86_64-unknown-linux-musl"
                        + seg.text[tpl.start + len(tpl.text) :]
                    )
                    if probe and all(m.download for m in probe):
                        continue  # part of a download URL / tool asset name
                    self.add_templated(seg.line, tpl, scope)

    def add_templated(self, line: int, tpl: TemplatedTriple, scope: Path) -> None:
        if tpl.arch_ref:
            arches = [a for a in self.resolve(tpl.arch_ref, scope) if a]
            arches = [_ARCH_ALIASES.get(a.lower(), a) for a in arches]
            if not arches:
                arches = list(_FALLBACK_ARCHES)
        else:
            arches = [tpl.arch]
        env_nodes: list[ScalarNode] = []
        if tpl.env_ref:
            name = tpl.env_ref.split(".")[-1]
            lookup = f"matrix.{name}" if tpl.env_ref.startswith("matrix.") else name
            nodes = self.values.get((scope, lookup)) or self.values.get(
                ((), lookup), []
            )
            env_nodes = [n for n in nodes if n.value.strip().startswith("musl")]
            envs = [n.value.strip() for n in env_nodes]
        else:
            envs = [tpl.env]
        triples = [
            f"{arch}-{tpl.vendor}-linux-{env}"
            for env in envs
            for arch in arches
            if is_musl_triple(f"{arch}-{tpl.vendor}-linux-{env}")
        ]
        if not triples:
            return
        resolved = _dedupe(triples)
        self.add(line, tpl.text, resolved)
        for node in env_nodes:
            env = node.value.strip()
            own = tuple(t for t in resolved if t.endswith(f"-linux-{env}"))
            self.add(node.start_mark.line + 1, env, own or resolved)

    def musllinux(self) -> None:
        for scalar in self.scalars:
            if scalar.is_key or "musllinux" not in scalar.node.value:
                continue
            names = [p for p in scalar.path if isinstance(p, str)]
            if not names or names[-1] != "manylinux":
                continue
            match = _MUSLLINUX_RE.search(scalar.node.value)
            if match is None:  # pragma: no cover - guarded by the `in` test
                continue
            scope = self.scope(scalar.path)
            targets: list[str] = []
            sibling = get(scalar.owner, "target")
            raw: list[str] = []
            if isinstance(sibling, ScalarNode):
                raw = [sibling.value]
            elif isinstance(sibling, SequenceNode):
                raw = [n.value for n in sibling.value if isinstance(n, ScalarNode)]
            for value in raw:
                tpls = find_templated(value.strip() + "-unknown-linux-musl")
                if "${{" in value and tpls and tpls[0].arch_ref:
                    raw_values = self.resolve(tpls[0].arch_ref, scope)
                else:
                    raw_values = [value]
                targets += [t for v in raw_values if (t := musl_triple_for(v))]
            if not raw:
                targets = [_MUSL_FOR_ARCH["x86_64"]]  # maturin builds for the host
            if targets:
                line = scalar.node.start_mark.line + 1
                self.add(line, match.group(0), _dedupe(targets))

    def images(self) -> None:
        for scalar in self.scalars:
            if scalar.is_key:
                continue
            names = [p for p in scalar.path if isinstance(p, str)]
            if not names:
                continue
            value = scalar.node.value.strip()
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

    def image(self, scalar: Scalar, image: str) -> None:
        scope = self.scope(scalar.path)
        texts = (
            self.scope_text.get(scope, [])
            if scope
            else [t for ts in self.scope_text.values() for t in ts]
        )
        builds = any(_BUILD_CMD_RE.search(t) for t in texts)
        if not builds:
            return  # runs or tests something already built
        line = scalar.node.start_mark.line + 1
        musl = _MUSL_IMAGE_RE.search(image)
        if musl is not None:
            arch = _ARCH_ALIASES.get(musl.group("arch"), musl.group("arch"))
            triple = f"{arch}-unknown-linux-{musl.group('env')}"
            if is_musl_triple(triple):
                name = f"{musl.group('name')}:{musl.group('arch')}-{musl.group('env')}"
                self.add(line, name, (triple,))
            return
        if _HOST_MUSL_IMAGE_RE.search(image):
            arch = "aarch64" if re.search(r"arm64|aarch64", image) else "x86_64"
            self.add(line, image, (_MUSL_FOR_ARCH[arch],))
            return
        if _RUST_ALPINE_RE.search(image):
            self.add(line, image, (_MUSL_FOR_ARCH["x86_64"],))
            self.hints.append(Hint(self.path, line, HintKind.SYSTEM_MUSL, image))
        elif _ALPINE_RE.search(image):
            self.hints.append(Hint(self.path, line, HintKind.SYSTEM_MUSL, image))


# ---------------------------------------------------------------------------
# Hints (regex over the raw text: cheap, and also for files without "musl")

_PIN: Final = r"(?P<pin>\d+\.\d+(?:\.\d+)?|stable|beta|nightly(?:-\d{4}-\d{2}-\d{2})?)"
_TOOLCHAIN_HINT_RES: Final = (
    re.compile(r"dtolnay/rust-toolchain@" + _PIN + r"(?![\w.])"),
    re.compile(
        r"^[ \t-]*toolchain:[ \t]*['\"]?" + _PIN + r"['\"]?[ \t]*(?:#.*)?$", re.M
    ),
)
_UNRESOLVED_RES: Final = (
    re.compile(r"^[ \t-]*matrix:[ \t]*['\"]?\$\{\{[^\n]*\}\}", re.M),
    re.compile(
        r"^[ \t-]*uses:[ \t]*['\"]?(?P<wf>[\w.\-/]*\.github/workflows/[^\s'\"]+)", re.M
    ),
)


def _line_of(text: str, pos: int) -> tuple[int, str]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text.count("\n", 0, pos) + 1, text[start : end if end >= 0 else len(text)]


def _active(line_text: str, col_text: str) -> bool:
    """Return whether the match at the end of `col_text` is outside a comment."""
    return strip_comment(col_text) == col_text and not line_text.lstrip().startswith(
        "#"
    )


def scan_hints(path: str, text: str) -> list[Hint]:
    """Return toolchain pins, dynamic-musl flags and unresolvable matrices in `text`."""
    hints: list[Hint] = []

    def emit(pos: int, kind: HintKind, value: str) -> None:
        line, line_text = _line_of(text, pos)
        start = text.rfind("\n", 0, pos) + 1
        if _active(line_text, text[start:pos]):
            hints.append(Hint(path, line, kind, value))

    if "toolchain" in text:
        for regex in _TOOLCHAIN_HINT_RES:
            for m in regex.finditer(text):
                emit(m.start("pin"), HintKind.TOOLCHAIN, m.group("pin"))
    if "rustup" in text or "cargo +" in text:
        for m in re.finditer(r"[^\n]*(?:rustup|cargo \+)[^\n]*", text):
            for pin in find_toolchain_pins(m.group(0)):
                emit(m.start() + m.group(0).find(pin), HintKind.TOOLCHAIN, pin)
    if "crt-static" in text or "link-self-contained" in text:
        for m in re.finditer(r"[^\n]*(?:crt-static|link-self-contained)[^\n]*", text):
            flag = find_dynamic_musl(m.group(0))
            if flag is not None:
                emit(m.start() + m.group(0).find(flag), HintKind.DYNAMIC_MUSL, flag)
    if "matrix" in text:
        for m in _UNRESOLVED_RES[0].finditer(text):
            emit(m.end() - 1, HintKind.UNRESOLVED, "dynamic matrix")
    if ".github/workflows/" in text and "target" in text:
        for m in _UNRESOLVED_RES[1].finditer(text):
            emit(m.start("wf"), HintKind.UNRESOLVED, m.group("wf"))
    return hints


def scan_ci(path: str, text: str, dialect: Dialect) -> SourceResult:
    """Return the musl uses, hints and problems of one YAML CI file."""
    hints = scan_hints(path, text)
    if not any(marker in text for marker in MARKERS):
        return SourceResult(hints=tuple(hints))
    doc = load_yaml(path, text)
    if isinstance(doc, Problem):
        return SourceResult(hints=tuple(hints), problems=(doc,))
    try:
        scalars = [s for root in doc.roots for s in walk(root, dialect.skip_keys)]
    except _LimitError as exc:
        return SourceResult(
            hints=tuple(hints), problems=(Problem(path, exc.line, exc.message),)
        )
    scan = _Scan(path, dialect, doc.lines, scalars)
    scan.index()
    scan.explicit()
    scan.templated()
    scan.musllinux()
    scan.images()
    uses = tuple(sorted(scan.uses.values(), key=lambda u: (u.line, u.target)))
    all_hints = sorted([*hints, *scan.hints], key=lambda h: (h.line, h.kind))
    return SourceResult(uses=uses, hints=tuple(all_hints))
