"""The packet pages for people, and the offline API docs: HTML served by the gate itself.

::

    /ui/                     recent packets per lane          pages
    /ui/packets/{id}         a packet's story                 pages
    /ui/decisions/{id}       -> its anchor on the packet page pages
    /ui/signin, /ui/signout  sessions for people              signin
    /ui/static/gate.css      the one stylesheet               assets
    /docs, /docs/assets/*    Swagger UI, no CDN               assets

Access (``access``): the ``auditor`` role, by bearer key or by a signed
session cookie (``session``); HTTPS only in production. Rendering
(``render``): Jinja2 with autoescaping, a strict Content-Security-Policy and
the other security headers on every response under ``/ui`` and ``/docs``.
The data come from :mod:`release_gate.store.story`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import Response

from release_gate.api.ui import assets, pages, signin
from release_gate.api.ui.access import UiProblem
from release_gate.api.ui.render import RuleBook, UiHeadersMiddleware, make_environment, render

__all__ = ["install_ui"]


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


async def _problem_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UiProblem)  # noqa: S101 - registered for UiProblem only
    if exc.template == "signin.html":
        return signin.signin_page(
            request,
            status=exc.status,
            message=exc.detail,
            next_path=_here(request) if request.method == "GET" else "/ui/",
            headers={"WWW-Authenticate": 'Bearer realm="release-gate"'},
        )
    context = {"viewer": None, "auth_off_banner": None, "form_token": None, "problem": exc}
    return render(request, exc.template, context, status=exc.status)


def install_ui(app: FastAPI) -> None:
    """Add the pages, the docs and their headers to ``app`` (``create_app`` calls this)."""
    app.state.ui_env = make_environment()
    app.state.ui_rules = RuleBook()
    app.state.ui_session_keys = None
    app.add_exception_handler(UiProblem, _problem_page)
    app.add_middleware(UiHeadersMiddleware)
    for router in (pages.router, signin.router, assets.router):
        app.include_router(router)
