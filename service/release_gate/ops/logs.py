"""Logging set-up: human-readable text in development, JSON lines in production.

Every line logged while a request is handled carries its ``request_id`` (and,
once the gate has assigned one, the ``decision_id``): the request middleware
binds a :class:`RequestContext` in a context variable, which follows the
request into worker threads, and :class:`ContextFilter` copies it onto each
record. Never log tokens, signatures or key material; callers pass ids and
codes only.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ContextFilter",
    "JsonFormatter",
    "RequestContext",
    "bind_decision_id",
    "bind_request",
    "configure_logging",
    "current_request",
    "unbind_request",
]


@dataclass
class RequestContext:
    """Mutable on purpose: the gate sets ``decision_id`` from a worker thread."""

    request_id: str
    decision_id: str | None = None


_REQUEST: ContextVar[RequestContext | None] = ContextVar("release_gate_request", default=None)


def bind_request(request_id: str) -> Token[RequestContext | None]:
    return _REQUEST.set(RequestContext(request_id=request_id))


def unbind_request(token: Token[RequestContext | None]) -> None:
    _REQUEST.reset(token)


def current_request() -> RequestContext | None:
    return _REQUEST.get()


def bind_decision_id(decision_id: str) -> None:
    """Attach ``decision_id`` to the current request's log lines (no-op outside one)."""
    context = _REQUEST.get()
    if context is not None:
        context.decision_id = decision_id


class ContextFilter(logging.Filter):
    """Copies the request and decision ids onto every record logged during a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _REQUEST.get()
        if context is not None:
            record.request_id = context.request_id
            if context.decision_id is not None:
                record.decision_id = context.decision_id
        return True


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry, default=str)


#: ``extra=`` of the warnings about an insecure default (dev key, auth off): a worker of
#: ``serve --workers`` drops them, since its supervisor has said them once already.
INSECURE_DEFAULT = {"insecure_default": True}


def _not_insecure_default(record: logging.LogRecord) -> bool:
    return not getattr(record, "insecure_default", False)


def configure_logging(fmt: str, *, quiet: bool = False, repeat_warnings: bool = True) -> None:
    """Configure the root logger once for a process (the CLI calls this, never imports).

    ``repeat_warnings=False`` drops the insecure-default warnings (:data:`INSECURE_DEFAULT`).
    """
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ContextFilter())
    if not repeat_warnings:
        handler.addFilter(_not_insecure_default)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    # Alembic narrates every schema check (each /readyz) at INFO; its warnings still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
