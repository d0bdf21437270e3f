"""Append-only ingress journal: a delivery is durable once its record is written.

One `os.write` of a length-prefixed, CRC-checked record per accepted delivery
(and one small record when it finishes). The record reaches the page cache, so
it survives a process kill (like SQLite WAL with synchronous=NORMAL, an OS
crash may lose the last ones). `SqliteStore` moves records into the database
in large transactions and deletes journal files once they are moved.
"""

from __future__ import annotations

import fcntl
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# kind (1 byte), crc32 of the rest, then lengths and the fixed fields.
_HEAD: Final = struct.Struct("<BI")
_ADD: Final = struct.Struct(
    "<ddHHHI"
)  # received_at, lease_until, id/event/owner/body lens
_FINISH: Final = struct.Struct("<dHH")  # finished_at, id/error lengths (0xFFFF = None)
KIND_ADD: Final = 1
KIND_FINISH: Final = 2
_NO_ERROR: Final = 0xFFFF
MAX_TEXT: Final = 0xFFFE


@dataclass(frozen=True, slots=True)
class AddRecord:
    """A delivery accepted by this instance."""

    delivery_id: str
    event: str
    owner: str | None
    received_at: float
    lease_until: float
    body: bytes


@dataclass(frozen=True, slots=True)
class FinishRecord:
    """A delivery whose processing ended (with an error, if it failed)."""

    delivery_id: str
    finished_at: float
    error: str | None


def encode_add(r: AddRecord) -> list[bytes]:
    """Return the journal bytes of an AddRecord, in parts (the body is not copied)."""
    i, e, o = r.delivery_id.encode(), r.event.encode(), (r.owner or "").encode()
    fixed = _ADD.pack(r.received_at, r.lease_until, len(i), len(e), len(o), len(r.body))
    prefix = b"".join((fixed, i, e, o))
    crc = zlib.crc32(r.body, zlib.crc32(prefix))
    return [_HEAD.pack(KIND_ADD, crc) + prefix, r.body]


def encode_finish(r: FinishRecord) -> bytes:
    """Return the journal bytes of a FinishRecord."""
    i = r.delivery_id.encode()
    err = b"" if r.error is None else r.error.encode()[:MAX_TEXT]
    n_err = _NO_ERROR if r.error is None else len(err)
    rest = _FINISH.pack(r.finished_at, len(i), n_err) + i + err
    return _HEAD.pack(KIND_FINISH, zlib.crc32(rest)) + rest


def decode(data: bytes) -> Iterator[AddRecord | FinishRecord]:
    """Yield the records of one journal file; stop at a torn or damaged tail."""
    view = memoryview(data)
    pos, end = 0, len(data)
    while pos + _HEAD.size <= end:
        kind, crc = _HEAD.unpack_from(view, pos)
        start = pos + _HEAD.size
        if kind == KIND_ADD and start + _ADD.size <= end:
            got, lease, ni, ne, no, nb = _ADD.unpack_from(view, start)
            stop = start + _ADD.size + ni + ne + no + nb
            if stop > end or zlib.crc32(view[start:stop]) != crc:
                return
            p = start + _ADD.size
            i, e, o = (
                bytes(view[p : p + ni]),
                bytes(view[p + ni : p + ni + ne]),
                bytes(view[p + ni + ne : p + ni + ne + no]),
            )
            body = bytes(view[p + ni + ne + no : stop])
            yield AddRecord(
                i.decode(), e.decode(), o.decode() or None, got, lease, body
            )
        elif kind == KIND_FINISH and start + _FINISH.size <= end:
            at, ni, nerr = _FINISH.unpack_from(view, start)
            p = start + _FINISH.size
            stop = p + ni + (0 if nerr == _NO_ERROR else nerr)
            if stop > end or zlib.crc32(view[start:stop]) != crc:
                return
            error = None if nerr == _NO_ERROR else bytes(view[p + ni : stop]).decode()
            yield FinishRecord(bytes(view[p : p + ni]).decode(), at, error)
        else:
            return
        pos = stop


def journal_files(db_path: str) -> list[tuple[int, Path]]:
    """Return the journal files of the database at `db_path`, oldest first."""
    db = Path(db_path)
    found: list[tuple[int, Path]] = []
    for p in db.parent.glob(db.name + ".ingress.*"):
        seq = p.name.rsplit(".", 1)[1]
        if seq.isdigit():
            found.append((int(seq), p))
    return sorted(found)


def lock(db_path: str) -> int | None:
    """Take the journal lock of the database at `db_path`; None if another holds it.

    Only the holder may replay or delete journal files; a second store opened
    on the same file meanwhile writes to SQLite directly.
    """
    fd = os.open(db_path + ".ingress.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


class Journal:
    """The file records are appended to now; `rotate` starts the next one."""

    def __init__(self, db_path: str, seq: int, lock_fd: int) -> None:
        """Open journal file number `seq` of `db_path`, holding its lock `lock_fd`."""
        self._db_path = db_path
        self._lock_fd = lock_fd
        self.seq = seq
        self.size = 0
        self._fd = self._open(seq)

    def _open(self, seq: int) -> int:
        path = f"{self._db_path}.ingress.{seq}"
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append(self, *parts: bytes) -> None:
        """Write one record (a short write is an error: the record is not durable)."""
        size = sum(map(len, parts))
        if os.writev(self._fd, parts) != size:
            raise OSError("short write to the ingress journal")
        self.size += size

    def rotate(self) -> int:
        """Append to a new file from now on; return the number of the old one."""
        old, fd = self.seq, self._open(self.seq + 1)
        os.close(self._fd)
        self._fd, self.seq, self.size = fd, self.seq + 1, 0
        return old

    def remove_upto(self, seq: int) -> None:
        """Delete the files numbered `seq` and below (their records are moved)."""
        for n, path in journal_files(self._db_path):
            if n <= seq:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        """Close the current file and release the lock."""
        os.close(self._fd)
        os.close(self._lock_fd)
