"""Request context: a request id on every request, its response and its log lines.

``X-Request-ID`` is accepted from the caller when it is 1-128 characters of
``[A-Za-z0-9._:@+-]`` (anything else could smuggle text into logs, so it is
replaced), generated otherwise, and always returned. One access line per
request is logged with the route template only (query strings and unmatched
paths are never logged), and with the method's metrics label: a method the app
does not serve is written ``other``, so a caller cannot put its text in the log.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from release_gate.ops.logs import bind_request, unbind_request
from release_gate.ops.metrics import OTHER, UNMATCHED_ROUTE, Metrics

__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware", "request_id_from"]

logger = logging.getLogger("release_gate.access")

REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:@+\-]{1,128}")


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's request id if it is safe to echo and log, else a new UUID."""
    for name, value in headers:
        if name.lower() == REQUEST_ID_HEADER.encode():
            text = value.decode("latin-1")
            if _SAFE_ID.fullmatch(text):
                return text
            break
    return str(uuid.uuid4())


class RequestContextMiddleware:
    """Pure ASGI middleware (no body buffering, works with streaming)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope.get("headers", []))
        token = bind_request(request_id)
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            metrics = getattr(getattr(scope.get("app"), "state", None), "metrics", None)
            metrics = metrics if isinstance(metrics, Metrics) else None
            method = metrics.labels.method(scope.get("method")) if metrics else OTHER
            route = _route(scope)
            logger.info(
                "%s %s %s",
                method,
                route,
                state["status"],
                extra={"status": state["status"], "duration_ms": _ms(started)},
            )
            if metrics is not None:
                metrics.observe_request(method=method, route=route, status=state["status"])
            unbind_request(token)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
