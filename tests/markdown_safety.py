"""Check that Markdown the App posts carries no markup taken from hostile text.

GitHub renders comments, check-run summaries and pull-request bodies as GFM with
raw HTML allowed (sanitised), bare-URL autolinks, @mentions and #references.
markdown-it-py parses the CommonMark part; what it does not model (autolinks,
mentions, references) is looked for in the text it leaves as plain text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Final

from markdown_it import MarkdownIt
from markdown_it.token import Token

MARKDOWN: Final = MarkdownIt("commonmark", {"html": True}).enable(
    ["table", "strikethrough"]
)

# Text repository or comment content tries to smuggle in.
HOSTILE: Final = (
    "`",
    "``a`b```",
    "@org/admins",
    "a`@org/admins",
    "a`[x](https://evil.example)",
    "[Fix now](https://evil.example)",
    "![img](https://evil.example/x.png)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<!-- hidden -->",
    "<https://evil.example>",
    "#123",
    "acme/app#123",
    "https://evil.example/x",
    "www.evil.example",
    "mail@evil.example",
    "\u200b@admin",
    "\u202egnp.exe",
    "\u2066@admin\u2069",
    "line\nbreak\r\n# heading",
    "&#64;admin &lt;b&gt;",
    "*em* _u_ ~~s~~ **b**",
    "| a | b |",
    "back\\slash\\",
    "[ref]: https://evil.example",
    "   ",
    "",
)

_MENTION: Final = re.compile(r"(?<![\w`])@[A-Za-z0-9]")
_REFERENCE: Final = re.compile(r"#[0-9]")
_AUTOLINK: Final = re.compile(r"https?://|www\.|[\w.+-]@[\w-]+\.", re.I)
# Zero-width space is what the escaping inserts on purpose; every other format
# character (bidi overrides and isolates, joiners) must not reach the output.
_ALLOWED_FORMAT: Final = frozenset({"\u200b"})


def _walk(tokens: Iterable[Token]) -> Iterable[Token]:
    for token in tokens:
        yield token
        if token.children:
            yield from _walk(token.children)


def assert_inert(
    markdown: str,
    *,
    links: Iterable[str] = (),
    html: Iterable[str] = (),
    own: Iterable[str] = (),
) -> None:
    """Fail unless `markdown` holds only the given links and HTML, and no
    mention, issue reference, autolink, image or format character.

    `own` lists the App's own text that looks like a reference (`#7`).
    """
    allowed_links, allowed_html, own_text = set(links), set(html), tuple(own)
    for char in markdown:
        if unicodedata.category(char) == "Cf" and char not in _ALLOWED_FORMAT:
            raise AssertionError(f"format character U+{ord(char):04X} in output")
    for token in _walk(MARKDOWN.parse(markdown)):
        if token.type in ("html_inline", "html_block"):
            assert token.content.strip() in allowed_html, token.content
        elif token.type == "image":
            raise AssertionError(f"image {token.attrGet('src')!r}")
        elif token.type == "link_open":
            assert token.attrGet("href") in allowed_links, token.attrGet("href")
        elif token.type == "text":
            content = token.content
            for text in own_text:
                content = content.replace(text, "")
            for pattern in (_MENTION, _REFERENCE, _AUTOLINK):
                found = pattern.search(content)
                assert found is None, (pattern.pattern, token.content)
