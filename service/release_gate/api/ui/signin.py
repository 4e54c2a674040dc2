"""Sign-in and sign-out for people: ``GET``/``POST /ui/signin``, ``POST /ui/signout``.

The key travels only in a POSTed form body, over HTTPS in production; it is
never echoed into a page, put in a URL or logged (the access log has the
route and status only). A query string that carries a key is refused, since
it may already sit in some log. Both forms are protected against cross-site
submission: a MAC'd token tied to an ``HttpOnly``, ``SameSite=Strict``
cookie, and ``Sec-Fetch-Site`` must not say ``cross-site``.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from release_gate.api.deps import get_runtime
from release_gate.api.ui.access import (
    ROLE,
    UiProblem,
    base_context,
    cookie_names,
    require_tls,
    session_keys,
    viewer,
)
from release_gate.api.ui.render import render
from release_gate.api.ui.session import SIGNIN_FORM_SECONDS
from release_gate.errors import GateError
from release_gate.runtime import Runtime

__all__ = ["router", "safe_next", "signin_page"]

router = APIRouter(include_in_schema=False)

_MAX_FORM_BYTES = 8192
_URL_SECRETS = ("key", "api_key", "apikey", "token", "authorization")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path under ``/ui/`` only (no open redirect)."""
    if (
        not value
        or len(value) > 1024
        or not (value == "/ui/" or value.startswith("/ui/"))
        or "//" in value
        or "\\" in value
        or "/." in value
        or "%2e" in value.lower()
        or "%5c" in value.lower()
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        return "/ui/"
    return value


def _secure(runtime: Runtime) -> bool:
    return runtime.settings.env == "production"


def signin_page(
    request: Request,
    *,
    status: int,
    message: str | None,
    next_path: str,
    headers: dict[str, str] | None = None,
) -> Response:
    """The sign-in form, with a fresh form cookie (its token is in the form)."""
    runtime = get_runtime(request)
    cookie, token = session_keys(request, runtime).signin_cookie(
        now=int(time.time()), next_path=safe_next(next_path)
    )
    context: dict[str, Any] = {
        **base_context(request, None),
        "message": message,
        "signin_token": token,
    }
    response = render(request, "signin.html", context, status=status, headers=headers)
    response.set_cookie(
        cookie_names(runtime)[1],
        cookie,
        max_age=SIGNIN_FORM_SECONDS,
        path="/",
        secure=_secure(runtime),
        httponly=True,
        samesite="strict",
    )
    return response


def _refuse_url_secrets(request: Request) -> None:
    if any(name.lower() in _URL_SECRETS for name in request.query_params):
        raise UiProblem(
            400,
            "Never put a key in a URL",
            "This address carries a key in its query string, where browsers, proxies and "
            "servers keep it in their history and logs. Nothing was done with it. Treat the "
            "key as exposed: ask for a new one, and sign in with the form.",
        )


def _cross_site(request: Request) -> bool:
    return request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none")


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        raise UiProblem(415, "Unsupported form", "Submit the form from the sign-in page.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM_BYTES:
            raise UiProblem(413, "Form too large", "Submit the form from the sign-in page.")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=8)
    except (UnicodeDecodeError, ValueError) as exc:
        raise UiProblem(400, "Unreadable form", "Submit the form from the sign-in page.") from exc
    return {name: values[0] for name, values in fields.items()}


@router.get("/ui/signin")
async def signin_form(request: Request, next: str | None = None) -> Response:
    runtime = get_runtime(request)
    require_tls(request, runtime)
    _refuse_url_secrets(request)
    if not runtime.auth.enabled:
        return RedirectResponse(safe_next(next), status_code=303)
    return signin_page(request, status=200, message=None, next_path=safe_next(next))


@router.post("/ui/signin")
async def signin(request: Request) -> Response:
    runtime = get_runtime(request)
    require_tls(request, runtime)
    _refuse_url_secrets(request)
    if not runtime.auth.enabled:
        return RedirectResponse("/ui/", status_code=303)
    if _cross_site(request):
        raise UiProblem(403, "Forbidden", "Sign in from the gate's own sign-in page.")
    form = await _form(request)
    keys, now = session_keys(request, runtime), int(time.time())
    cookie = request.cookies.get(cookie_names(runtime)[1], "")
    target = keys.open_signin(cookie, form.get("csrf", ""), now=now)
    if target is None:
        message = "The sign-in form expired or did not come from this gate. Please try again."
        return signin_page(request, status=400, message=message, next_path="/ui/")
    next_path = safe_next(target)
    try:
        principal = runtime.auth.authenticate("Bearer " + form.get("key", "").strip())
    except GateError:
        return signin_page(
            request, status=401, message="That key is not valid.", next_path=next_path
        )
    entry = runtime.auth.key_named(principal.name)
    if ROLE not in principal.roles or entry is None:
        message = f"The key {principal.name!r} does not have the auditor role."
        return signin_page(request, status=403, message=message, next_path=next_path)
    value, _ = keys.seal(
        name=entry.name,
        key_sha256=entry.sha256,
        now=now,
        lifetime=runtime.settings.ui_session_seconds,
    )
    response = RedirectResponse(next_path, status_code=303)
    session_cookie, signin_cookie = cookie_names(runtime)
    response.set_cookie(
        session_cookie,
        value,
        max_age=runtime.settings.ui_session_seconds,
        path="/",
        secure=_secure(runtime),
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(
        signin_cookie, path="/", secure=_secure(runtime), httponly=True, samesite="strict"
    )
    return response


@router.post("/ui/signout")
async def signout(request: Request) -> Response:
    runtime = get_runtime(request)
    require_tls(request, runtime)
    if _cross_site(request):
        raise UiProblem(403, "Forbidden", "Sign out from the gate's own pages.")
    try:
        who = viewer(request)
    except UiProblem:
        who = None  # no valid session: clearing the cookie is all there is to do
    if who is not None and who.session is not None:
        try:
            form = await _form(request)
        except UiProblem:
            form = {}  # not our form: no token, refused below
        if not session_keys(request, runtime).form_token_valid(
            who.session.csrf, form.get("csrf", "")
        ):
            raise UiProblem(403, "Forbidden", "Sign out from the gate's own pages.")
    response = RedirectResponse("/ui/signin", status_code=303)
    response.delete_cookie(
        cookie_names(runtime)[0],
        path="/",
        secure=_secure(runtime),
        httponly=True,
        samesite="strict",
    )
    return response
