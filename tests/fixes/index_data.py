"""libc sparse-index lines in the real format, from docs/domain.md 7.4's verified table.

Each line carries the fields crates.io serves (`name`, `vers`, `deps`, `cksum`,
`features`, `yanked`, `links`, `v`, `rust_version` from 0.2.163 on); the
checksums are the real ones from the index snapshot the table was read from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

# docs/domain.md 7.4: vers, cksum, yanked, rust_version ("-" = none).
_TABLE_TEXT: Final = """
0.2.139 201de327520df007757c1f0adce6e827fe8562fbc28bfd9c15571c66ca1f5f79 no -
0.2.140 99227334921fae1a979cf0bfdfcc6b3e5ce376ef57e16fb6fb3ea2ed6095f80c no -
0.2.141 3304a64d199bb964be99741b7a14d26972741915b3649639149b2479bb46f4b5 no -
0.2.142 6a987beff54b60ffa6d51982e1aa1146bc42f19bd26be28b0586f252fccf5317 no -
0.2.143 edc207893e85c5d6be840e969b496b53d94cec8be2d501b214f50daa97fa8024 no -
0.2.144 2b00cc1c228a6782d0f076e7b232802e0c5689d41bb5df366f2a6b6621cfdfe1 no -
0.2.145 fc86cde3ff845662b8f4ef6cb50ea0e20c524eb3d29ae048287e06a1b3fa6a81 yes -
0.2.146 f92be4933c13fd498862a9e02a3055f8a8d9c039ce33db97306fd5a6caa7f29b no -
0.2.147 b4668fb0ea861c1df094127ac5f1da3409a82116a4ba74fca2e58ef927159bb3 no -
0.2.150 89d92a4743f9a61002fae18374ed11e7973f530cb3a3255fb354818118b2203c no -
0.2.153 9c198f91728a82281a64e1f4f9eeb25d82cb32a5de251c6bd1b5154d63a8e7bd no -
0.2.154 ae743338b92ff9146ce83992f766a31066a91a8c84a45e0e9f21e7cf6de6d346 yes -
0.2.155 97b3888a4aecf77e811145cadf6eef5901f4782c53886191b2f693f24761847c no -
0.2.158 d8adc4bb1803a324070e64a98ae98f38934d91957a99cfb3a43dcbc01bc56439 no -
0.2.161 8e9489c2807c139ffd9c1794f4af0ebe86a828db53ecdc7fea2111d0fed085d1 no -
0.2.163 1fdaeca4cf44ed4ac623e86ef41f056e848dbeab7ec043ecb7326ba300b36fd0 no 1.19
0.2.164 433bfe06b8c75da9b2e3fbea6e5329ff87748f0b144ef75306e674c3f6f7c13f no 1.63
0.2.165 fcb4d3d38eab6c5239a362fa8bae48c03baf980a6e7079f063942d563ef3533e yes 1.63
0.2.169 b5aba8db14291edd000dfcc4d620c7ebfb122c613afb886ca8803fa4e128a20a no 1.63
0.2.171 c19937216e9d3aa9956d9bb8dfc0b0c8beb6058fc4f7a4dc4d850edf86a237d6 no 1.63
0.2.172 d750af042f7ef4f724306de029d18836c26c1765a54a6a3f094cbd23a7267ffa no 1.63
"""
Row = tuple[str, str, bool, str | None]
LIBC_TABLE: Final[tuple[Row, ...]] = tuple(
    (vers, cksum, yanked == "yes", None if rust == "-" else rust)
    for vers, cksum, yanked, rust in (
        line.split() for line in _TABLE_TEXT.strip().splitlines()
    )
)
CKSUM: Final = {vers: cksum for vers, cksum, _, _ in LIBC_TABLE}

_FEATURES: Final = {
    "align": [],
    "const-extern-fn": [],
    "default": ["std"],
    "extra_traits": [],
    "rustc-dep-of-std": ["align", "rustc-std-workspace-core"],
    "std": [],
    "use_std": ["std"],
}
_DEPS: Final = [
    {
        "name": "rustc-std-workspace-core",
        "req": "^1.0.0",
        "features": [],
        "optional": True,
        "default_features": True,
        "target": None,
        "kind": "normal",
    }
]


def index_line(vers: str, cksum: str, yanked: bool, rust_version: str | None) -> str:
    """Return one sparse-index line as crates.io writes it."""
    obj: dict[str, object] = {
        "name": "libc",
        "vers": vers,
        "deps": _DEPS,
        "cksum": cksum,
        "features": _FEATURES,
        "yanked": yanked,
        "links": None,
    }
    if rust_version is not None:
        obj["rust_version"] = rust_version
        obj["v"] = 2
        obj["features2"] = {}
    return json.dumps(obj, separators=(",", ":"))


def index_lines(
    table: tuple[Row, ...] = LIBC_TABLE,
) -> list[str]:
    """Return index lines for `table`, with 1.0.0-alpha.1 where crates.io has it."""
    lines = [index_line(*row) for row in table]
    # 1.0.0-alpha.1 was published between 0.2.171 and 0.2.172: a pre-release
    # that must never be suggested. Its checksum is not in the table; any
    # well-formed digest will do because nothing may pick it.
    versions = [row[0] for row in table]
    if "0.2.171" in versions:
        at = versions.index("0.2.171") + 1
        lines.insert(at, index_line("1.0.0-alpha.1", "0" * 64, False, "1.63"))
    return lines


@dataclass
class IndexServer:
    """State of the local sparse index: what it serves and what it was asked."""

    lines: list[str] = field(default_factory=index_lines)
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""
    extra: bytes = b""  # appended to the body (malformed lines, padding)

    def body(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode() + self.extra

    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body()).hexdigest()[:16] + '"'


def index_app(state: IndexServer) -> web.Application:
    async def libc(request: web.Request) -> web.StreamResponse:
        state.requests.append(dict(request.headers))
        if state.status != 200:
            return web.Response(status=state.status, text="not available")
        etag = state.etag()
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=state.body(),
            content_type="text/plain",
            headers={"ETag": etag, "Cache-Control": "public,max-age=600"},
        )

    app = web.Application()
    app.router.add_get("/li/bc/libc", libc)
    return app
