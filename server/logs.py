"""The service's log lines: text for a terminal or one JSON object per line, each tagged with the current RPC.

The RPC being handled (its request id and method) lives in a context variable that the observability stage
binds for the length of the call, so every record emitted while handling it carries `request_id` and `method`
without the code that logs knowing about them. Fields passed with `extra=` (for instance the audit records'
`principal` and `graph_version`) become top-level keys in JSON and `key=value` pairs in text.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

LOG_FORMATS = ("text", "json")
TEXT_LAYOUT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    method: str


_current: ContextVar[RequestContext | None] = ContextVar("chokepoint_request", default=None)
# Everything a bare LogRecord carries; any other attribute came from `extra=` (or from our filter).
_RECORD_FIELDS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_CONTEXT_FIELDS = ("request_id", "method")


def bind_request(request_id: str, method: str) -> Token[RequestContext | None]:
    """Tag the records logged from here on (in this thread or task) with this call; undo with `unbind_request`."""
    return _current.set(RequestContext(request_id, method))


def unbind_request(token: Token[RequestContext | None]) -> None:
    try:
        _current.reset(token)
    except ValueError:
        # A streaming call's generator can be closed from another thread; that context is not ours to restore.
        _current.set(None)


def current_request() -> RequestContext | None:
    return _current.get()


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `method` of the call being handled, unless the log call passed its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _current.get()
        if request is not None:
            for name, value in (("request_id", request.request_id), ("method", request.method)):
                if not hasattr(record, name):
                    setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO 8601 UTC), level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(extra_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, followed by the call's and the record's extra fields as `key=value`."""

    def __init__(self) -> None:
        super().__init__(TEXT_LAYOUT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={value}" for key, value in extra_fields(record).items())
        message = super().formatMessage(record)
        return f"{message} [{fields}]" if fields else message


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's fields beyond the standard ones: the call's request id and method first, then the rest."""
    extras = {key: value for key, value in record.__dict__.items() if key not in _RECORD_FIELDS}
    ordered = {key: extras.pop(key) for key in _CONTEXT_FIELDS if key in extras}
    return ordered | extras


def setup_logging(*, level: str, log_format: str, stream: TextIO | None = None) -> None:
    """Send every logger's records to `stream` (stderr) in `log_format`, replacing any handlers set before."""
    if log_format not in LOG_FORMATS:
        msg = f"log_format: must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}"
        raise ValueError(msg)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for previous in root.handlers[:]:
        root.removeHandler(previous)
        previous.close()
    root.addHandler(handler)
    root.setLevel(level.upper())
