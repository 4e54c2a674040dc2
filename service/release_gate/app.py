"""The FastAPI application: ``create_app()`` and its lifespan.

Nothing is built at import time. The lifespan builds the :class:`Runtime`
(signing key, store, policies, engine) unless one is injected (tests do).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from release_gate import __version__
from release_gate.api import ROUTERS
from release_gate.api.middleware import RequestContextMiddleware
from release_gate.api.problems import install_problem_handlers
from release_gate.api.schemas import install_openapi
from release_gate.api.ui import install_ui
from release_gate.config import Settings
from release_gate.ops.metrics import Metrics
from release_gate.runtime import Runtime, build_runtime

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. ``runtime`` is injected by tests; otherwise built at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = runtime or build_runtime(settings or Settings())
        try:
            yield
        finally:
            if owned:
                app.state.runtime.close()

    app = FastAPI(
        title="release-gate",
        version=__version__,
        summary="Approves one exact disclosure-packet revision into one bounded intake lane.",
        lifespan=lifespan,
        docs_url=None,  # served offline by install_ui, with a strict CSP
        redoc_url=None,
    )
    app.state.metrics = Metrics()
    install_problem_handlers(app)
    install_openapi(app)
    install_ui(app)
    app.add_middleware(RequestContextMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    return app
