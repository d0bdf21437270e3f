"""Leaving out the jobs and steps of a workflow that mention no marker.

The scan of a split workflow must equal the scan of the whole file: on every
real workflow we hold, and on small files made to hit each question that needs
a part left out (a variable set in another job or step, a build command in a
step left out, a dynamic matrix, a syntax error in a job left out).
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from bot.core.sources import Problem, SourceResult, workflows, yamlcfg, yamlload
from bot.core.sources.prune import Split, split_workflow
from tests.paths import CORPUS

MARKERS = yamlcfg.CANDIDATE_MARKERS
WHOLE = dataclasses.replace(workflows.DIALECT, split_jobs=False)
HELDOUT = Path(__file__).resolve().parents[1] / "fixtures"


def real_workflows() -> list[Path]:
    found = [
        path
        for root in (CORPUS, HELDOUT)
        for path in sorted(root.rglob("*.y*ml"))
        if path.parent.name == "workflows" and path.parent.parent.name == ".github"
    ]
    return found


def both(text: str) -> SourceResult:
    """Scan `text` split and whole, check that they agree, return the result."""
    split = yamlcfg.scan_ci("w.yml", text, workflows.DIALECT)
    whole = yamlcfg.scan_ci("w.yml", text, WHOLE)
    assert split == whole
    return split


def must_split(text: str) -> Split:
    split = split_workflow(text, MARKERS)
    assert split is not None
    assert split.kept.count("\n") == text.count("\n")
    return split


def test_real_workflows_scan_the_same_split_or_whole() -> None:
    paths = real_workflows()
    assert len(paths) > 100
    split_count = 0
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        split_count += split_workflow(text, MARKERS) is not None
        assert yamlcfg.scan_ci("w.yml", text, workflows.DIALECT) == yamlcfg.scan_ci(
            "w.yml", text, WHOLE
        ), path
    assert split_count > 50  # the split is really exercised


JOBS = """\
name: ci
on: push
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: cargo clippy

  musl:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Install
        run: rustup target add x86_64-unknown-linux-musl
      - run: cargo test
      - run: cargo build --target x86_64-unknown-linux-musl
"""


def test_jobs_and_steps_without_markers_are_left_out_line_for_line() -> None:
    split = must_split(JOBS)
    kept = split.kept.split("\n")
    assert kept[3:8] == ["", "", "", "", ""]  # the lint job
    assert kept[12] == "      -"  # a step left out keeps its index
    assert kept[15] == "      -"
    assert "cargo clippy" in split.left_out
    assert split.steps_left_out == {
        "musl": "\n      - uses: actions/checkout@v4\n      - run: cargo test"
    }
    result = both(JOBS)
    assert [(u.line, u.target) for u in result.uses] == [
        (15, "x86_64-unknown-linux-musl"),
        (17, "x86_64-unknown-linux-musl"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "on: push\nbuild:\n  runs-on: x # musl\n",  # no jobs key
        "on: push\njobs:",  # `jobs:` is the last line
        "jobs:\n# only comments\n\non: push # musl\n",  # no jobs
        "jobs: {a: {runs-on: musl}}\n",  # flow style
        "jobs:\n    a:\n      run: musl\n  b:\n      run: x\n",  # odd indentation
        "jobs:\n  a:\n    run: musl\n  b:\n    run: musl\n",  # all kept
    ],
)
def test_files_that_are_not_split(text: str) -> None:
    assert split_workflow(text, MARKERS) is None
    both(text)


def test_jobs_end_at_the_next_top_level_key() -> None:
    text = "jobs:\n  a:\n    run: x\n  b:\n    run: musl\nenv:\n  A: 1\n"
    split = must_split(text)
    assert split.kept.endswith("\nenv:\n  A: 1\n")


def test_a_quoted_job_id_keeps_all_its_steps() -> None:
    text = (
        'jobs:\n  "musl build":\n    steps:\n      - run: cargo test\n'
        "      - run: cargo build --target x86_64-unknown-linux-musl\n"
        "  other:\n    steps:\n      - run: x\n"
    )
    split = must_split(text)
    assert split.steps_left_out == {}
    assert "cargo test" in split.kept
    both(text)


@pytest.mark.parametrize(
    "job",
    [
        "    runs-on: x86_64-unknown-linux-musl\n",  # no steps
        "    steps: []\n    runs-on: musl\n",  # steps not in block style
        "    steps:\n      uses: x\n    runs-on: musl\n",  # steps not a sequence
        "    steps:\n      - run: musl\n",  # every step kept
        "    steps:\n      -run: a\n      - run: musl\n",  # not a sequence item
        "",  # nothing under the job's key (the marker is in the key)
    ],
)
def test_jobs_whose_steps_are_not_split(job: str) -> None:
    text = f"jobs:\n  a{'' if job else '-musl'}:\n{job}  b:\n    run: x\n"
    split = must_split(text)
    assert split.steps_left_out == {}
    both(text)


def test_steps_sequence_at_the_key_indentation() -> None:
    text = (
        "jobs:\n  a:\n    steps:\n    - run: cargo test\n"
        "    - run: cargo build --target x86_64-unknown-linux-musl\n"
        "    env:\n      X: 1\n"
    )
    split = must_split(text)
    assert split.steps_left_out == {"a": "\n    - run: cargo test"}
    assert [u.line for u in both(text).uses] == [5]


def test_variable_set_in_a_step_left_out_is_resolved() -> None:
    text = (
        "jobs:\n  build:\n    steps:\n"
        "      - env:\n          ARCH: aarch64\n        run: echo set\n"
        "      - run: cargo build --target $ARCH-unknown-linux-musl\n"
    )
    split = must_split(text)
    assert "ARCH" in split.steps_left_out["build"]
    (use,) = both(text).uses
    assert use.resolves_to == ("aarch64-unknown-linux-musl",)


def test_variable_set_in_a_job_left_out_is_resolved() -> None:
    text = (
        "jobs:\n  setup:\n    env:\n      ARCH: armv7\n    steps:\n      - run: x\n"
        "  build:\n    steps:\n"
        "      - run: cargo build --target $ARCH-unknown-linux-musleabihf\n"
    )
    must_split(text)
    (use,) = both(text).uses
    assert use.resolves_to == ("armv7-unknown-linux-musleabihf",)


def test_top_level_variable_set_in_a_job_left_out_is_resolved() -> None:
    text = (
        "env:\n  T: $ARCH-unknown-linux-musl\n"
        "jobs:\n  setup:\n    env:\n      ARCH: aarch64\n"
        "  build:\n    steps:\n"
        "      - run: cargo build --target x86_64-unknown-linux-musl\n"
    )
    split = must_split(text)
    assert "ARCH" in split.left_out
    uses = both(text).uses
    assert [(u.line, u.resolves_to) for u in uses] == [
        (2, ("aarch64-unknown-linux-musl",)),
        (9, ("x86_64-unknown-linux-musl",)),
    ]


def test_env_axis_in_a_step_left_out_is_found() -> None:
    text = (
        "jobs:\n  build:\n    steps:\n"
        "      - with:\n          matrix: '{}'\n        run: echo x\n"
        "      - run: cargo build --target x86_64-unknown-linux-${{ matrix.env }}\n"
    )
    must_split(text)
    assert both(text).uses == ()


def test_key_in_a_commented_line_does_not_read_the_whole_file() -> None:
    assert not yamlcfg.holds_key("  # matrix: x\n", "matrix")
    assert not yamlcfg.holds_key("  run: echo ${{ x.matrix }}", "matrix")
    assert not yamlcfg.holds_key("  cross-matrix: 1\n", "matrix")
    assert yamlcfg.holds_key("  # note\n  - matrix: 1\n", "matrix")
    assert yamlcfg.holds_key("matrix: 1\n", "matrix")
    assert yamlcfg.holds_key("x: 1 # matrix: 2\n", "matrix")  # kept on the safe side
    comments = "# matrix:\n\n  # a: 1 matrix: 2 matrix: 3\n# - matrix: 4"
    assert not yamlcfg.holds_key(comments, "matrix")


def test_build_command_in_a_step_left_out_makes_the_image_a_build() -> None:
    text = (
        "jobs:\n  build:\n    container: rust:1.80-alpine\n    steps:\n"
        "      - run: cargo build --release\n"
        "  docs:\n    container: rust:1.80-alpine\n    steps:\n      - run: ls\n"
    )
    split = must_split(text)
    assert split.steps_left_out == {
        "build": "\n      - run: cargo build --release",
        "docs": "\n      - run: ls\n",
    }
    result = both(text)
    assert [(u.line, u.target) for u in result.uses] == [(3, "rust:1.80-alpine")]


def test_dynamic_matrix_in_a_step_left_out_keeps_conditions_live() -> None:
    text = (
        "jobs:\n  build:\n    steps:\n"
        "      - with:\n          matrix: ${{ fromJSON(needs.a.outputs.m) }}\n"
        "      - if: matrix.target == 'aarch64-unknown-linux-musl'\n"
        "        run: echo\n"
    )
    must_split(text)
    assert [u.line for u in both(text).uses] == [6]


def test_condition_at_the_top_level_reads_the_whole_file() -> None:
    text = (
        "env:\n  T: ${{ 'x86_64-unknown-linux-musl' }}\n"
        "jobs:\n  a:\n    strategy:\n      matrix: ${{ fromJSON(x) }}\n"
        "  b:\n    steps:\n"
        "      - run: cargo build --target aarch64-unknown-linux-musl\n"
    )
    must_split(text)
    assert [u.line for u in both(text).uses] == [2, 9]


def test_whole_file_too_deep_keeps_what_was_read() -> None:
    deep = "".join(f"{'  ' * (i + 2)}k{i}:\n" for i in range(70)) + "  " * 72 + "x: 1\n"
    text = (
        "jobs:\n  a:\n" + deep + "  b:\n    container: rust:alpine\n    steps:\n"
        "      - run: cargo build\n"
    )
    split = yamlcfg.scan_ci("w.yml", text, workflows.DIALECT)
    whole = yamlcfg.scan_ci("w.yml", text, WHOLE)
    assert isinstance(whole.problems[0], Problem)
    assert "deeply" in whole.problems[0].message
    # The deep job mentions no marker: the split scan walks it only when the
    # build in job b is asked about, and then keeps what it had read.
    assert split.problems == ()
    assert [u.target for u in split.uses] == []


def test_syntax_error_in_a_job_left_out_is_reported_at_its_line() -> None:
    text = (
        "jobs:\n  a:\n    steps:\n      - run: [unclosed\n"
        "  b:\n    steps:\n"
        "      - run: cargo build --target x86_64-unknown-linux-musl\n"
    )
    must_split(text)
    result = both(text)
    (problem,) = result.problems
    assert problem.line == 5
    assert problem.message.startswith("invalid YAML")


def test_a_quoted_scalar_across_jobs_is_read_whole() -> None:
    text = (
        'jobs:\n  a:\n    run: "one\n  b: two"\n'
        "  c:\n    run: x86_64-unknown-linux-musl\n"
    )
    must_split(text)
    assert [u.line for u in both(text).uses] == [6]


def test_too_many_events_in_parts_left_out_are_reported() -> None:
    big = "    k: [" + "1," * (yamlload.MAX_EVENTS + 10) + "1]\n"
    text = "jobs:\n  a:\n" + big + "  b:\n    run: x86_64-unknown-linux-musl\n"
    must_split(text)
    (problem,) = both(text).problems
    assert "too many" in problem.message


def test_binary_workflow_is_a_problem_before_any_split() -> None:
    text = "jobs:\n  a:\n    run: musl\x00\n"
    (problem,) = both(text).problems
    assert "binary" in problem.message


def test_damaged_real_workflows_scan_the_same_split_or_whole() -> None:
    """Lines deleted, repeated, shifted or cut: the split never changes the scan."""
    rng = random.Random(20261126)  # noqa: S311 - a seeded test, not a secret
    paths = real_workflows()
    endings = ['"', "'", "[", "{", ": x", "#", " &a", " *a", " musl"]
    for _ in range(400):
        lines = rng.choice(paths).read_text(encoding="utf-8").split("\n")
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(lines))
            change = rng.randrange(5)
            if change == 0:
                del lines[at]
            elif change == 1:
                lines.insert(at, rng.choice(lines))
            elif change == 2:
                lines[at] = " " + lines[at]
            elif change == 3:
                lines[at] = lines[at][1:]
            else:
                lines[at] += rng.choice(endings)
        both("\n".join(lines))


def test_gnu_only_jobs_are_left_out_but_templated_env_parts_are_kept() -> None:
    text = (
        "jobs:\n  gnu:\n    steps:\n"
        "      - run: cargo build --target x86_64-unknown-linux-gnu\n"
        "  any:\n    strategy:\n      matrix:\n        libc: [gnu, musl]\n"
        "    steps:\n"
        "      - run: cargo build --target x86_64-unknown-linux-${{ matrix.libc }}\n"
    )
    split = must_split(text)
    assert "linux-gnu" in split.left_out
    assert "matrix.libc" in split.kept
    result = both(text)
    assert [(u.line, u.target) for u in result.uses] == [
        (8, "musl"),
        (10, "x86_64-unknown-linux-${{ matrix.libc }}"),
    ]
