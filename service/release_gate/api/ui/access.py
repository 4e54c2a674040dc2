"""Who may see the packet pages: the ``auditor`` role, by bearer key or by session.

Every page runs :func:`viewer`, in this order:

1. production mode and not HTTPS: refused with a page that says so (HTTPS is
   the request's own scheme, or, with ``RELEASE_GATE_UI_TLS_PROXY=true``, the
   last ``X-Forwarded-Proto`` the operator's proxy set);
2. authentication off (development only): everyone, under the start-up
   warning's banner;
3. an ``Authorization: Bearer`` key (programs): it must be valid (else 401)
   and hold ``auditor`` (else 403); a cookie is then ignored;
4. the session cookie (people): it must open (signed, unexpired), name a key
   that is still configured with the same hash, and that key must hold
   ``auditor``; otherwise 401 and the sign-in form.

Errors are pages (:class:`UiProblem`), never the API's JSON problem details,
and never say which check failed beyond what the visitor may know.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request

from release_gate.api.deps import get_runtime
from release_gate.api.ui.session import Session, SessionKeys
from release_gate.errors import GateError
from release_gate.keys.api_keys import ANONYMOUS
from release_gate.runtime import AUTH_OFF_WARNING, Runtime

__all__ = [
    "ROLE",
    "UiProblem",
    "Viewer",
    "base_context",
    "cookie_names",
    "https",
    "require_tls",
    "session_keys",
    "viewer",
]

ROLE = "auditor"


@dataclass(frozen=True, slots=True)
class Viewer:
    name: str
    via: Literal["auth-off", "bearer", "session"]
    session: Session | None = None


class UiProblem(Exception):
    """An error shown as a page (``template``), with ``status``."""

    def __init__(
        self, status: int, title: str, detail: str, *, template: str = "error.html"
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.template = template


def cookie_names(runtime: Runtime) -> tuple[str, str]:
    """(session, sign-in form) cookie names: ``__Host-`` ones when the cookies are ``Secure``."""
    if runtime.settings.env == "production":
        return "__Host-release-gate-session", "__Host-release-gate-signin"
    return "release-gate-session", "release-gate-signin"


def https(request: Request, runtime: Runtime) -> bool:
    if request.url.scheme == "https":
        return True
    if runtime.settings.ui_tls_proxy:
        forwarded = request.headers.get("x-forwarded-proto", "")
        return forwarded.rsplit(",", 1)[-1].strip().lower() == "https"
    return False


def require_tls(request: Request, runtime: Runtime) -> None:
    if runtime.settings.env != "production" or https(request, runtime):
        return
    raise UiProblem(
        403,
        "HTTPS required",
        "In production mode the gate serves its pages over HTTPS only, so that keys and "
        "sessions never cross the network in the clear. Open this page with https://. "
        "Operators: when a proxy terminates TLS in front of the gate, set "
        "RELEASE_GATE_UI_TLS_PROXY=true and have the proxy set X-Forwarded-Proto.",
    )


def session_keys(request: Request, runtime: Runtime) -> SessionKeys:
    """The session MAC keys of the gate's active signing key (derived once per key).

    Cached on the app as one ``(kid, keys)`` pair, replaced whole: threads that
    race on the first request derive the same keys, and none sees a half update.
    """
    active = runtime.keyring.active
    cached: tuple[str, SessionKeys] | None = request.app.state.ui_session_keys
    if cached is None or cached[0] != active.kid:
        cached = (active.kid, SessionKeys(active.private_key))
        request.app.state.ui_session_keys = cached
    return cached[1]


def _unauthorized(detail: str) -> UiProblem:
    return UiProblem(401, "Sign in", detail, template="signin.html")


def _session(request: Request, runtime: Runtime) -> Session | None:
    cookie = request.cookies.get(cookie_names(runtime)[0])
    if not cookie:
        return None
    session = session_keys(request, runtime).open(cookie, now=int(time.time()))
    if session is None:
        return None
    key = runtime.auth.key_named(session.name)
    if key is None or ROLE not in key.roles:
        return None
    if session.binding != session_keys(request, runtime).binding(key.sha256):
        return None
    return session


def viewer(request: Request) -> Viewer:
    """The dependency of every page: who is looking, or a :class:`UiProblem`."""
    runtime = get_runtime(request)
    require_tls(request, runtime)
    if not runtime.auth.enabled:
        return Viewer(ANONYMOUS.name, "auth-off")
    authorization = request.headers.get("authorization")
    if authorization is not None:
        try:
            principal = runtime.auth.authenticate(authorization)
        except GateError as exc:
            raise _unauthorized("The API key is not valid.") from exc
        if ROLE not in principal.roles:
            raise UiProblem(
                403, "Forbidden", f"The API key {principal.name!r} does not have the auditor role."
            )
        return Viewer(principal.name, "bearer")
    session = _session(request, runtime)
    if session is None:
        raise _unauthorized("Sign in with an API key that has the auditor role.")
    return Viewer(session.name, "session", session)


def base_context(request: Request, who: Viewer | None) -> dict[str, Any]:
    """What every template needs: the viewer, the auth-off banner, the form token."""
    runtime = get_runtime(request)
    token = None
    if who is not None and who.session is not None:
        token = session_keys(request, runtime).form_token(who.session.csrf)
    return {
        "viewer": who,
        "auth_off_banner": None if runtime.auth.enabled else AUTH_OFF_WARNING,
        "form_token": token,
    }
