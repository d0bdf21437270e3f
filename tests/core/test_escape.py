"""The one Markdown escaping function: whatever text goes in, nothing live comes out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.render import (
    BLOG_URL,
    check_run_output,
    could_not_analyse_output,
    escape_markdown,
    escape_message,
    render_markdown,
)
from bot.core.render.shared import FIELD_CHARS
from tests.markdown_safety import HOSTILE, MARKDOWN, assert_inert


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("code", [False, True])
@pytest.mark.parametrize("table", [False, True])
def test_hostile_text_is_inert(text: str, code: bool, table: bool) -> None:
    escaped = escape_markdown(text, code=code, table=table)
    assert "\n" not in escaped
    assert_inert(escaped)
    assert_inert(f"| a |\n|---|\n| {escaped} |")


@pytest.mark.parametrize("text", [t for t in HOSTILE if t.strip()])
def test_code_span_shows_the_text_literally(text: str) -> None:
    [para] = [t for t in MARKDOWN.parseInline(escape_markdown(text, code=True))]
    [span] = [c for c in para.children or [] if c.type == "code_inline"]
    # Line breaks and format characters are shown as escapes, not acted on.
    shown = span.content
    assert "\n" not in shown
    assert "\u202e" not in shown
    if text.isprintable():
        assert shown.strip() == text.strip()


def test_code_span_fence_is_longer_than_any_backtick_run() -> None:
    assert escape_markdown("a``b", code=True) == "```a``b```"
    assert escape_markdown("`", code=True) == "`` ` ``"
    assert escape_markdown("", code=True) == "(empty)"
    assert len(escape_markdown("x" * 1000, code=True)) == FIELD_CHARS + 2


@given(st.text(max_size=80))
def test_any_text_is_inert(text: str) -> None:
    assert_inert(escape_markdown(text))
    assert_inert(escape_markdown(text, code=True))


@given(st.lists(st.sampled_from(HOSTILE), max_size=6).map("".join))
def test_any_mix_of_hostile_text_is_inert(text: str) -> None:
    assert_inert(escape_markdown(text))
    assert_inert(escape_markdown(text, code=True, table=True))
    assert_inert(escape_message(text))


@pytest.mark.parametrize("text", HOSTILE)
def test_could_not_analyse_reason_is_inert(text: str) -> None:
    assert_inert(could_not_analyse_output(text).summary)


def test_scan_markdown_names_no_pull_request_commands() -> None:
    from tests.core.test_render import REPORTS

    for name, make in REPORTS.items():
        report = make()
        for_file = render_markdown(report, commands=False)
        assert "/musl-check" not in for_file, name
        assert "Fix libc" not in for_file, name
        assert check_run_output(report).summary == render_markdown(report)
    assert "/musl-check fix" in render_markdown(REPORTS["at-risk-fix"]())


@pytest.mark.parametrize("commands", [True, False])
def test_hostile_report_renders_inert(commands: bool) -> None:
    from tests.core.test_render import hostile_report

    text = render_markdown(hostile_report(), commands=commands)
    assert_inert(text, links=[BLOG_URL], html=["<sub>", "</sub>"])
    assert_inert(
        check_run_output(hostile_report()).summary,
        links=[BLOG_URL],
        html=["<sub>", "</sub>"],
    )


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("#", "h1"),
        ("## x", "h2"),
        ("- x", "ul"),
        ("+ x", "ul"),
        ("1. x", "ol"),
        ("12) x", "ol"),
    ],
)
def test_text_opening_a_line_stays_plain(text: str, tag: str) -> None:
    # Found by hypothesis: a finding message "#" became a heading of its own.
    assert f"<{tag}" in MARKDOWN.render(text)
    rendered = MARKDOWN.render(escape_markdown(text))
    assert rendered == f"<p>{text}</p>\n"
    assert MARKDOWN.render(escape_message(text)) == rendered


@pytest.mark.parametrize("text", ["12-3", "0.2.146", "a-b", ". x"])
def test_plain_line_starts_render_as_written(text: str) -> None:
    assert MARKDOWN.render(escape_markdown(text)) == f"<p>{text}</p>\n"


def test_message_text_after_a_code_span_is_not_escaped_as_a_line_start() -> None:
    assert escape_message("Run `cargo update`.") == "Run `cargo update`."
