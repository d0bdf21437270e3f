"""Pull-request feedback built from hostile lockfile text posts nothing live."""

from __future__ import annotations

import pytest

from bot.core.findings import Verdict
from bot.core.fixes import FixPlan, LineEdit
from bot.core.render import BLOG_URL
from bot.github.reviews import SUMMARY_MARKER, SuggestedChange, summary_body
from tests.fixes.test_reviews import report
from tests.markdown_safety import HOSTILE, assert_inert


def hostile_plan(text: str) -> FixPlan:
    return FixPlan(
        path=f"{text}/Cargo.lock",
        old_version=f"0.2.1{text}",
        new_version=f"0.2.9{text}",
        command=f"cargo update -p libc --precise {text}",
        edits=(LineEdit(3, 'version = "0.2.1"', 'version = "0.2.9"'),),
        reason=f"libc is locked twice ({text})",
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_summary_comment_is_inert(text: str) -> None:
    body = summary_body(report(Verdict.AT_RISK, hostile_plan(text)), "a" * 40)
    assert body.startswith(SUMMARY_MARKER)
    assert_inert(body, links=[BLOG_URL], html=[SUMMARY_MARKER, "<sub>", "</sub>"])


@pytest.mark.parametrize("text", HOSTILE)
def test_suggestion_comment_is_inert(text: str) -> None:
    change = SuggestedChange("Cargo.lock", 3, 3, ('version = "0.2.9"',))
    body = change.comment(hostile_plan(text))["body"]
    assert "```suggestion\n" in body
    assert_inert(body, html=["<!-- musl-check:suggestion -->"])
