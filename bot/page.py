"""The house HTML page layout, shared by the server's pages and the setup app."""

from __future__ import annotations

import html
from typing import Final

PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #1f2328; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #d0d7de; }}
button {{ font-size: 1rem; padding: .4rem 1rem; }}
.warning {{ background: #fff8c5; border: 1px solid #d4a72c; padding: .5rem .8rem; }}
</style></head><body>
{body}
</body></html>
"""


def render_page(title: str, body_html: str) -> str:
    """Wrap already-escaped `body_html` in the house page layout."""
    return PAGE.format(title=html.escape(title), body=body_html)
