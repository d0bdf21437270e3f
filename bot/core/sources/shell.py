"""Find Rust musl targets in shell and command text (CI steps, RUN lines, recipes).

A triple on a command line is a build target unless it is part of a download:
a URL, a fetch command (curl, wget, gh release download, binstall), or the
release asset of a third-party tool built for musl
(`cross-x86_64-unknown-linux-musl.tar.gz`, `sccache-v0.5.4-...`). Artifact
names of the project itself (`starship-x86_64-unknown-linux-musl.tar.gz`) and
`target/<triple>/release` paths stay uses: the corpus labels them so.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from bot.core.targets import TRIPLE_RE

# TRIPLE_RE without the `-` in its look-behind, so hyphen-prefixed artifact
# names match too; `classify` then decides whether the prefix is a download.
_LOOSE_TRIPLE_RE: Final = re.compile(
    TRIPLE_RE.pattern.replace("(?<![A-Za-z0-9_-])", "(?<![A-Za-z0-9_])", 1)
)
_URL_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
# Commands that fetch something; a hyphen-prefixed triple on such a line names a
# release asset of whatever is being fetched.
_FETCH_RE: Final = re.compile(
    r"\b(?:curl|wget|aria2c|Invoke-WebRequest|iwr|gh\s+release\s+download|"
    r"cargo[\s-]+binstall|binstall)\b|releases/download"
)
# Uploads of the project's own artifacts are not fetches.
_UPLOAD_RE: Final = re.compile(r"upload|--data-binary|--form\b|\s-[TF]\s")
# Release assets of third-party tools published for musl, seen in CI files.
_TOOL_PREFIXES: Final = (
    "cross-",
    "sccache-",
    "wasm-pack-",
    "wasm-bindgen-",
    "hyperfine-",
    "cargo-binstall-",
    "cargo-nextest-",
    "nextest-",
    "mdbook-",
    "cpython-",
    "pypy-",
    "python-",
    "typos-",
    "cargo-deny-",
    "cargo-audit-",
    "cargo-make-",
    "cargo-llvm-cov-",
    "cargo-semver-checks-",
    "grcov-",
    "taplo-",
    "dprint-",
    "trunk-",
    "mold-",
    "zola-",
    "cargo-hack-",
    "cargo-udeps-",
    "cargo-machete-",
)
# Characters that end a token (a release asset name, a path, a variable).
_NOT_TOKEN_RE: Final = re.compile(r"[^A-Za-z0-9_.+\-${}@~]")
_LONGEST_TOOL: Final = max(map(len, _TOOL_PREFIXES))

# `${{ matrix.arch }}`, `${ARCH}`, `$ARCH`, `"$ARCH"`, `$(ARCH)` (Azure),
# `<< parameters.arch >>` (CircleCI).
_REF: Final = (
    r"(?:\$\{\{\s*[A-Za-z_][\w.\-]*\s*\}\}|\$\{[A-Za-z_]\w*\}|\$[A-Za-z_]\w*"
    r"|\"\$\{?[A-Za-z_]\w*\}?\"|\$\([A-Za-z_][\w.]*\)|<<\s*[A-Za-z_][\w.\-]*\s*>>)"
)
_ARCH_LITERAL: Final = (
    r"(?:aarch64(?:_be)?|arm|armv5te|armv7|thumbv7neon|hexagon|i[56]86|loongarch64"
    r"|mips(?:64)?(?:el)?|powerpc(?:64(?:le)?)?|riscv(?:32|64)gc|s390x|wasm32|x86_64)"
)
_TEMPLATED_RE: Final = re.compile(
    rf"(?<![A-Za-z0-9_])(?P<arch>{_REF}|{_ARCH_LITERAL})-"
    r"(?P<vendor>unknown|openwrt|unikraft|wali)-linux-"
    rf"(?P<env>musl(?:eabihf|eabi|abi64|spe)?(?![A-Za-z0-9_])|{_REF})"
)
_REF_NAME_RE: Final = re.compile(r"[A-Za-z_][\w.\-]*")

_CHANNEL: Final = (
    r"(?P<channel>(?:stable|beta|nightly|\d+\.\d+(?:\.\d+)?)(?:-\d{4}-\d{2}-\d{2})?)"
)
# Each starts with its word, then checks the boundary before it (`\b` first
# would cost the engine its fast scan for the word).
_RUSTUP_PIN_RE: Final = re.compile(
    r"rustup(?<!\wrustup)\s+(?:default|override\s+set|toolchain\s+install|install)\s+"
    # An option's value never starts with `-` (else `-a -a ...` parses in
    # exponentially many ways before failing).
    r"(?:--?[\w-]+(?:[= ](?![\d-])[\w,-]+)?\s+)*" + _CHANNEL + r"(?![\w.])"
)
_CARGO_PLUS_RE: Final = re.compile(r"cargo(?<!\wcargo)\s+\+" + _CHANNEL + r"(?![\w.])")
_DYNAMIC_RE: Final = re.compile(
    r"target-feature\s*=\s*[+\-\w,]*-crt-static|link-self-contained\s*=\s*no"
)


@dataclass(frozen=True, slots=True)
class TripleMention:
    """A musl triple in a piece of text; `download` marks a fetched tool asset."""

    triple: str
    start: int
    end: int
    download: bool


@dataclass(frozen=True, slots=True)
class TemplatedTriple:
    """A musl triple spelled with a variable: `${{ matrix.arch }}-unknown-linux-musl`.

    `arch_ref` / `env_ref` name the variables (`matrix.arch`, `ARCH`), or are
    empty when that part is literal; `vendor` and `env` are the literal parts.
    """

    text: str
    start: int
    arch: str
    arch_ref: str
    vendor: str
    env: str
    env_ref: str


def strip_comment(line: str) -> str:
    """Return `line` without a shell comment (`#` at a word start, outside quotes)."""
    if "#" not in line:
        return line
    quote = ""
    prev = " "
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and prev in " \t":
            return line[:i]
        prev = ch
    return line


def find_triples(text: str) -> list[TripleMention]:
    """Return every musl triple in `text`, marking downloads of prebuilt tools.

    Linear in `text`, however many triples it holds: URLs and token starts are
    found in one forward pass.
    """
    if "linux-musl" not in text:
        return []
    urls = [m.span() for m in _URL_RE.finditer(text)] if "://" in text else []
    fetch_line = fetches(text) or not_a_build(text)
    found = []
    url = 0  # index of the first URL that does not end before the triple
    token_start, scanned = 0, 0  # no token boundary in [token_start, scanned)
    for match in _LOOSE_TRIPLE_RE.finditer(text):
        start, end = match.span()
        while url < len(urls) and urls[url][1] <= start:
            url += 1
        in_url = url < len(urls) and urls[url][0] <= start
        download = fetch_line or in_url
        if not download and start > 0 and text[start - 1] == "-":
            # A hyphen-prefixed triple: is its token a tool's release asset?
            for boundary in _NOT_TOKEN_RE.finditer(text, scanned, start):
                token_start = boundary.end()
            scanned = start
            head = text[token_start : min(start, token_start + _LONGEST_TOOL)]
            download = head.lower().startswith(_TOOL_PREFIXES)
        found.append(TripleMention(match.group("triple"), start, end, download))
    return found


def _ref_name(part: str) -> str:
    match = _REF_NAME_RE.search(part.replace("${{", "").replace("<<", ""))
    return match.group(0) if match else ""


def find_templated(text: str) -> list[TemplatedTriple]:
    """Return musl triples whose arch or env part is a variable reference."""
    if "-linux-" not in text:
        return []
    found = []
    for match in _TEMPLATED_RE.finditer(text):
        arch, env = match.group("arch"), match.group("env")
        arch_ref = _ref_name(arch) if arch[0] in '$"<' else ""
        env_ref = _ref_name(env) if env[0] in "$<" else ""
        if not arch_ref and not env_ref:
            continue  # a literal triple: find_triples reports it
        found.append(
            TemplatedTriple(
                text=match.group(0),
                start=match.start(),
                arch=arch,
                arch_ref=arch_ref,
                vendor=match.group("vendor"),
                env=env,
                env_ref=env_ref,
            )
        )
    return found


def find_toolchain_pins(text: str) -> list[str]:
    """Return the toolchain channels `rustup default|install X` / `cargo +X` select."""
    if "rustup" not in text and "cargo" not in text:
        return []
    pins = [m.group("channel") for m in _RUSTUP_PIN_RE.finditer(text)]
    pins += [m.group("channel") for m in _CARGO_PLUS_RE.finditer(text)]
    return pins


def find_dynamic_musl(text: str) -> str | None:
    """Return the flag that links against the system musl (`-crt-static`), if any."""
    match = _DYNAMIC_RE.search(text)
    return match.group(0) if match else None


# ---------------------------------------------------------------------------
# Where a command line builds: `cd dir && cargo ...`, `--manifest-path dir/...`

_WORD: Final = r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s;&|()]+)"
# `cd dir` as a command of its own: at the start, or after `;`, `&&`, `||`,
# `|`, `(`, `then`, `do`.
_CD_RE: Final = re.compile(
    r"(?:^|[;&|(]|\bthen\b|\bdo\b)[ \t]*cd[ \t]+(?:--?[A-Za-z]+[ \t]+)*"
    rf"(?P<dir>{_WORD})"
)
_MANIFEST_RE: Final = re.compile(rf"--manifest-path(?:=|[ \t]+)(?P<path>{_WORD})")
# A command that compiles the project (not `cargo install tool`, `cargo fmt`).
# Each tool's word comes first, its boundary checked after it (as for
# `_RUSTUP_PIN_RE`): the engine then skips ahead to the words.
BUILD_RUN_RE: Final = re.compile(
    r"(?:cargo(?<!\wcargo)(?:[ \t]+\+[\w.-]+)?|cross(?<!\wcross)|maturin(?<!\wmaturin))"
    r"[ \t]+(?:--?[\w-]+[ \t]+)*"
    r"(?:build|test|run|check|zigbuild|rustc|nextest|auditable|bench|clippy|"
    r"install[ \t]+--path|develop|publish|dist|deb|generate-rpm)\b"
)
# What stands for the repository root in CI paths.
_WORKSPACE_PREFIXES: Final = (
    "${{ github.workspace }}/",
    "${{github.workspace}}/",
    "$GITHUB_WORKSPACE/",
    "${GITHUB_WORKSPACE}/",
    "$CI_PROJECT_DIR/",
    "${CI_PROJECT_DIR}/",
)


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) >= 2 and word[0] == word[-1] in "'\"" else word


def join_dir(base: str, rel: str) -> str | None:
    """Return the repository directory `rel` names from directory `base`.

    "" is the repository root. None when it cannot be told (a variable, an
    absolute path, a home directory) or lies outside the repository.
    """
    rel = _unquote(rel.strip())
    for prefix in _WORKSPACE_PREFIXES:
        if rel.startswith(prefix):
            base, rel = "", rel[len(prefix) :]
            break
    if rel in ("${{ github.workspace }}", "$GITHUB_WORKSPACE", "$CI_PROJECT_DIR"):
        return ""
    if not rel or rel.startswith(("/", "~", "-")) or any(c in rel for c in "$`{}*"):
        return None
    joined = posixpath.normpath(posixpath.join(base, rel))
    if joined == ".":
        return ""
    if joined == ".." or joined.startswith("../"):
        return None
    return joined


def manifest_dir(path: str) -> str:
    """Return the directory of a `--manifest-path` value (`.` for the current)."""
    path = _unquote(path)
    if path.endswith(".toml"):
        path = posixpath.dirname(path)
    return path or "."


def command_dir(code: str, base: str) -> str | None:
    """Return the directory a command line ends up building in, from `base`.

    Follows `cd dir` commands on the line, then a `--manifest-path`; None when
    the line names neither, or names a directory that cannot be told.
    """
    if "cd" not in code and "manifest-path" not in code:
        return None
    where: str | None = base
    moved = False
    build = BUILD_RUN_RE.search(code)
    stop = build.start() if build is not None else len(code)
    for match in _CD_RE.finditer(code, 0, stop):
        moved = True
        where = join_dir(where, match["dir"]) if where is not None else None
    manifest = _MANIFEST_RE.search(code)
    if manifest is not None:
        moved = True
        where = (
            join_dir(where, manifest_dir(manifest["path"]))
            if where is not None
            else None
        )
    return where if moved else None


# `apk add ... rust|cargo` within one `;&|`-separated command (`apk_adds_rust`).
_APK_RE: Final = re.compile(r"\bapk\b")
_ADD_RE: Final = re.compile(r"\badd\b")
_RUST_PACKAGE_RE: Final = re.compile(r"(?<![\w-])(?:rust|cargo)(?![\w-])")
_COMMAND_END_RE: Final = re.compile(r"[;&|]")


def apk_adds_rust(code: str) -> bool:
    """Return whether `code` runs `apk ... add ... rust|cargo` in one command.

    The same as searching `\\bapk\\b[^;&|]*\\badd\\b[^;&|]*<rust|cargo>`, in
    linear time: in each command the first `apk`, then the first `add` after it
    leave the most room for what must follow.
    """
    pos = 0
    while (apk := _APK_RE.search(code, pos)) is not None:
        stop = _COMMAND_END_RE.search(code, apk.end())
        end = stop.start() if stop else len(code)
        add = _ADD_RE.search(code, apk.end(), end)
        if add is not None and _RUST_PACKAGE_RE.search(code, add.end(), end):
            return True
        pos = end + 1
    return False


# A musl triple on such a line names no build of this project: an argument to
# an installer script piped from a download (`| sh -s -- --git other/tool
# --target ...`), `cargo install --git other/tool`, a filter over release asset
# names before a download (`.assets[] | select(.name | contains(...))`), or
# a test's expected output. (rustup's own installer is not one of them: a
# musl host or target given to it is this project's toolchain.)
_NOT_A_BUILD_RE: Final = re.compile(
    r"\|[ \t]*(?:sudo[ \t]+)?(?:ba|z|da)?sh[ \t]+-s\b|\binstall\.sh\b|--git[ =]+\S+/"
    r"|browser_download_url|\.assets\b|select\([ \t]*\.name"
    r"|\b(?:[Ee]xpect|EXPECT|assert)\w*"
)
# One of these is in every text `_NOT_A_BUILD_RE` matches.
_NOT_A_BUILD_WORDS: Final = (
    "|", "install.sh", "--git", "browser_download_url", ".assets", ".name",
    "xpect", "EXPECT", "assert",
)  # fmt: skip
_NEW_COMMAND_RE: Final = re.compile(r"(?:&&|\|\||;|\|)[ \t]*\\?[ \t]*$")
_STARTS_COMMAND_RE: Final = re.compile(r"[ \t]*(?:&&|\|\||;|\|)")


def fetches(text: str) -> bool:
    """Return whether a command line downloads something (and uploads nothing)."""
    return _FETCH_RE.search(text) is not None and not _UPLOAD_RE.search(text)


def continues_download(lines: Sequence[str], index: int) -> bool:
    """Return whether line `index` continues a download or another tool's install.

    Earlier lines joined to it by `\\` (the same command) are read back.
    """
    if "rustup" in lines[index]:
        return False  # rustup's installer: this project's toolchain
    found = False
    while index > 0 and carries_on(lines[index - 1], lines[index]):
        index -= 1
        line = lines[index]
        if "rustup" in line:
            return False
        found = found or fetches(line) or not_a_build(line)
    return found


def not_a_build(text: str) -> bool:
    """Return whether the musl triples on a command line name no build of it."""
    if not any(word in text for word in _NOT_A_BUILD_WORDS):
        return False  # the regex has no literal prefix: slow on every line
    return _NOT_A_BUILD_RE.search(text) is not None and "rustup" not in text


def carries_on(previous: str, line: str) -> bool:
    """Return whether `line` continues the command `previous` holds.

    The previous line ends with `\\` and neither line starts a new command
    there (`&&`, `||`, `;`, `|`).
    """
    head = previous.rstrip()
    if not head.endswith("\\"):
        return False
    return not _NEW_COMMAND_RE.search(head[:-1]) and not _STARTS_COMMAND_RE.match(line)
