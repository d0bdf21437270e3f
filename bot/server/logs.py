"""Log records as one text or JSON line each, with their `extra=` fields."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Final

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

STANDARD_RECORD_ATTRS: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Format each record as one JSON object per line, with its `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in STANDARD_RECORD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """Format records as text, appending `extra=` fields as key=value."""

    def __init__(self) -> None:
        """Use a timestamp, level and logger name prefix."""
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line (plus a traceback, if any)."""
        text = super().format(record)
        extras = " ".join(
            f"{k}={v}"
            for k, v in record.__dict__.items()
            if k not in STANDARD_RECORD_ATTRS and not k.startswith("_")
        )
        if not extras:
            return text
        first, sep, rest = text.partition("\n")
        return f"{first} [{extras}]{sep}{rest}"


def configure_logging(level: str, fmt: str) -> None:
    """Send logs to stderr at `level`, as text or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class AccessLog(AbstractAccessLogger):
    """One short access-log line: method, path without query, status, size, time.

    aiohttp's default line carries the whole request line, so a query string
    (the setup token, GitHub's manifest code) would reach the log; the raw
    path is logged as sent (percent escapes kept), so it cannot break a line.
    """

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Log one finished request."""
        self.logger.info(
            "%s %s %d %dB %.1fms",
            request.method,
            request.rel_url.raw_path,
            response.status,
            response.body_length,
            time * 1000,
        )
