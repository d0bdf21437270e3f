"""Tests for bot.crates against a local server speaking the sparse-index format."""

from __future__ import annotations

import socket

import aiohttp

from bot.core.fixes import IndexEntry
from bot.crates import CratesIndex, parse_index
from tests.fixes.index_data import CKSUM, LIBC_TABLE, IndexServer, index_line


async def test_reads_every_version_with_checksums_yanked_and_msrv(
    crates_index: IndexServer, http_session: aiohttp.ClientSession
) -> None:
    entries = await CratesIndex(http_session, crates_index.url).libc()
    assert entries is not None
    by_vers = {e.vers: e for e in entries}
    assert set(by_vers) == {row[0] for row in LIBC_TABLE} | {"1.0.0-alpha.1"}
    assert by_vers["0.2.146"].cksum == CKSUM["0.2.146"]
    assert {e.vers for e in entries if e.yanked} == {"0.2.145", "0.2.154", "0.2.165"}
    assert by_vers["0.2.163"].rust_version == "1.19"
    assert by_vers["0.2.172"].rust_version == "1.63"
    assert by_vers["0.2.144"].rust_version is None
    # Publish order is kept: the pre-release sits between 0.2.171 and 0.2.172.
    order = [e.vers for e in entries]
    assert order.index("1.0.0-alpha.1") == order.index("0.2.171") + 1


async def test_fresh_results_come_from_the_cache(
    crates_index: IndexServer, http_session: aiohttp.ClientSession
) -> None:
    index = CratesIndex(http_session, crates_index.url, ttl=3600)
    first = await index.libc()
    second = await index.libc()
    assert first == second
    assert len(crates_index.requests) == 1


async def test_stale_results_are_revalidated_with_the_etag(
    crates_index: IndexServer, http_session: aiohttp.ClientSession
) -> None:
    index = CratesIndex(http_session, crates_index.url, ttl=0)
    first = await index.libc()
    second = await index.libc()
    assert first is not None
    assert first == second
    assert len(crates_index.requests) == 2
    assert "If-None-Match" not in crates_index.requests[0]
    assert crates_index.requests[1]["If-None-Match"] == crates_index.etag()
    # A changed file (new ETag) is read again in full.
    crates_index.lines.append(index_line("0.2.174", "1" * 64, False, "1.63"))
    third = await index.libc()
    assert third is not None
    assert third[-1].vers == "0.2.174"


async def test_server_error_gives_none(
    crates_index: IndexServer, http_session: aiohttp.ClientSession
) -> None:
    crates_index.status = 503
    assert await CratesIndex(http_session, crates_index.url).libc() is None


async def test_unreachable_index_gives_none(
    http_session: aiohttp.ClientSession,
) -> None:
    # Port 9 on loopback: nothing listens (connection refused at once).
    assert (
        await CratesIndex(http_session, "http://127.0.0.1:9", timeout=5).libc() is None
    )


async def test_oversized_body_gives_none(
    crates_index: IndexServer, http_session: aiohttp.ClientSession
) -> None:
    crates_index.extra = b"x" * 300_000
    index = CratesIndex(http_session, crates_index.url, max_bytes=200_000)
    assert await index.libc() is None
    assert index.last_error == "its answer was too large to be an index file"
    crates_index.extra = b""
    assert await index.libc() is not None
    assert index.last_error == ""


async def test_slow_index_gives_none_and_says_why(
    http_session: aiohttp.ClientSession,
) -> None:
    # Accepts the connection, never answers: the read times out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        index = CratesIndex(http_session, url, timeout=0.5)
        assert await index.libc() is None
    assert index.last_error == "it did not answer in time"


async def test_invalid_url_says_why(http_session: aiohttp.ClientSession) -> None:
    index = CratesIndex(http_session, "http://[::1")
    assert await index.libc() is None
    assert index.last_error


async def test_malformed_lines_are_skipped(
    crates_index: IndexServer, http_session: aiohttp.ClientSession
) -> None:
    crates_index.extra = (
        b'not json\n[1,2]\n{"vers": 1}\n'
        b'{"name":"libc","vers":"0.2.200","cksum":"short","yanked":false}\n'
        b'{"name":"libc","vers":"0.2.201","cksum":"' + b"a" * 64 + b'","yanked":"no"}\n'
        b"\xff\xfe\n" + b"[" * 100_000 + b"\n"
    )
    entries = await CratesIndex(http_session, crates_index.url).libc()
    assert entries is not None
    assert len(entries) == len(LIBC_TABLE) + 1


def test_parse_index_keeps_only_well_formed_entries() -> None:
    good = index_line("0.2.146", CKSUM["0.2.146"], False, None)
    text = "\n".join(
        [
            good,
            "",
            '{"vers":"0.2.147","cksum":"' + CKSUM["0.2.147"] + '","rust_version":7}',
            "x" * 300_000,
        ]
    )
    assert parse_index(text) == [
        IndexEntry("0.2.146", CKSUM["0.2.146"], False, None),
        IndexEntry("0.2.147", CKSUM["0.2.147"], False, None),
    ]
