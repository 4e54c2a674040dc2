"""Rendering the pages: the Jinja2 environment, the security headers, and small labels.

Autoescaping is on for every template and never switched off: text from a
manifest or a hold reason can only ever appear as text. The pages load
nothing but the gate's own stylesheet and run no script, which the
Content-Security-Policy states; the API docs page (``/docs``) runs the
vendored Swagger UI from the gate itself and gets its own policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from release_gate.policy.bundle import PolicyBundle
from release_gate.policy.metadata import RuleMetadata, rule_metadata
from release_gate.timestamps import format_ns

__all__ = [
    "DOCS_CSP",
    "PAGES_CSP",
    "RuleBook",
    "UiHeadersMiddleware",
    "make_environment",
    "render",
]

#: The packet pages: the gate's stylesheet, forms posting to the gate, nothing else.
PAGES_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
#: The API docs: Swagger UI's script and stylesheet from the gate (it sets inline
#: styles and data: icons), requests to the gate only.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

_COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}

_REASONS = {
    "superseded": "superseded: a higher revision was approved in this lane",
    "hold": "a release owner placed a hold",
    "evidence.changed": "the evidence it relied on changed",
    "policy.changed": "the policy changed",
}

_STATES = {
    "live": "approved, token live",
    "expired": "approved, token expired",
    "revoked": "approved, token revoked",
    "blocked": "blocked",
    "on_hold": "on hold",
    "superseded": "superseded",
}


class UiHeadersMiddleware:
    """Security headers on every response under ``/ui`` and ``/docs`` (errors included);
    in production mode also ``Strict-Transport-Security``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path == "/ui" or path.startswith(("/ui/", "/docs"))):
            await self.app(scope, receive, send)
            return
        policy = DOCS_CSP if path.startswith("/docs") else PAGES_CSP
        runtime = getattr(getattr(scope.get("app"), "state", None), "runtime", None)
        production = getattr(getattr(runtime, "settings", None), "env", None) == "production"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = policy
                for name, value in _COMMON.items():
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                if production:  # browsers heed it only over HTTPS, the only way pages are served
                    headers["strict-transport-security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RuleBook:
    """Titles and solutions by code, from the loaded policy's METADATA (cached per digest).

    A violation stored with its own ``title``/``solution`` (issue 9) shows those;
    older records, and codes the loaded policy no longer has, fall back to
    this book, and then to the bare code.
    """

    def __init__(self) -> None:
        self._digest: str | None = None
        self._rules: dict[str, RuleMetadata] = {}

    def load(self, bundle: PolicyBundle | None) -> RuleBook:
        if bundle is None:
            self._digest, self._rules = None, {}
        elif bundle.digest != self._digest:
            self._rules = {rule.code: rule for rule in rule_metadata(bundle)}
            self._digest = bundle.digest
        return self

    def title(self, item: Any) -> str:
        own = getattr(item, "title", None)
        rule = self._rules.get(item.code)
        return str(own or (rule.title if rule else item.code))

    def solution(self, item: Any) -> str | None:
        own = getattr(item, "solution", None)
        rule = self._rules.get(item.code)
        return own or (rule.solution if rule else None)


def _when(timestamp: str | None) -> Markup:
    """A ``<time>`` element: ``2026-11-26T09:00:00.123456Z`` shown to the second, in UTC.

    A filter rather than a macro: it runs thousands of times on a long page.
    """
    if not timestamp:
        return Markup("")
    shown = timestamp
    if timestamp.endswith("Z") and len(timestamp) >= 20:
        shown = f"{timestamp[:10]} {timestamp[11:19]} UTC"
    return Markup('<time datetime="{}">{}</time>').format(timestamp, shown)


def _short(digest: str | None) -> str:
    """``sha256:0123456789ab...`` cut to its first 12 hex digits, for tables."""
    if not digest:
        return ""
    return digest[:19] + "…" if digest.startswith("sha256:") else digest


def _epoch(seconds: int | None) -> str:
    """Epoch seconds (a token's ``exp``) as an RFC 3339 timestamp."""
    return "" if seconds is None else format_ns(seconds * 1_000_000_000)


def make_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("release_gate.api.ui", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["short"] = _short
    env.filters["epoch"] = _epoch
    env.globals["reason_label"] = lambda reason: _REASONS.get(reason, reason)
    env.globals["state_label"] = lambda kind: _STATES.get(kind, kind)
    return env


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """``template`` rendered with ``context``, by the app's environment (``install_ui``)."""
    env: Environment = request.app.state.ui_env
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))
