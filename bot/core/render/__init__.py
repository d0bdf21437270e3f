"""Turn a Report into scan JSON, terminal text, Markdown, SARIF and check-run output.

One module per output format, as cargo-deny's `diag/` does, sharing one escaping
function (`shared.escape_markdown`); this package re-exports what callers use.
"""

from __future__ import annotations

from bot.core.render.check_run import (
    Annotation,
    CheckRunOutput,
    Conclusion,
    check_run_output,
    could_not_analyse_output,
    limit_summary,
)
from bot.core.render.markdown import render_markdown
from bot.core.render.sarif import (
    DEFAULT_VERSION,
    INFORMATION_URI,
    SARIF_SCHEMA,
    render_sarif,
)
from bot.core.render.scan_json import JSON_SCHEMA_VERSION, render_json
from bot.core.render.shared import (
    ANNOTATION_LIBCS,
    ANNOTATION_MESSAGE_BYTES,
    ANNOTATION_TARGETS,
    BLOG_URL,
    FIELD_CHARS,
    MARKDOWN_LIMIT,
    SUMMARY_LIMIT,
    TABLE_ROWS,
    TEXT_USES,
    TITLE_LIMIT,
    escape_markdown,
    escape_message,
    verdict_words,
)
from bot.core.render.suggestion import render_suggestion
from bot.core.render.text import render_text

__all__ = [
    "ANNOTATION_LIBCS",
    "ANNOTATION_MESSAGE_BYTES",
    "ANNOTATION_TARGETS",
    "BLOG_URL",
    "DEFAULT_VERSION",
    "FIELD_CHARS",
    "INFORMATION_URI",
    "JSON_SCHEMA_VERSION",
    "MARKDOWN_LIMIT",
    "SARIF_SCHEMA",
    "SUMMARY_LIMIT",
    "TABLE_ROWS",
    "TEXT_USES",
    "TITLE_LIMIT",
    "Annotation",
    "CheckRunOutput",
    "Conclusion",
    "check_run_output",
    "could_not_analyse_output",
    "escape_markdown",
    "escape_message",
    "limit_summary",
    "render_json",
    "render_markdown",
    "render_sarif",
    "render_suggestion",
    "render_text",
    "verdict_words",
]
