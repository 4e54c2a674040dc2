"""The FastAPI application: ``create_app()`` and its lifespan.

Nothing is built at import time. The lifespan builds the :class:`Runtime`
(signing key, store, policies, engine) unless one is injected (tests do), and
runs the :class:`~release_gate.reload.PolicyReloader` while the app serves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import BaseRoute

from release_gate import __version__
from release_gate.api import ROUTERS
from release_gate.api.middleware import RequestContextMiddleware
from release_gate.api.problems import install_problem_handlers
from release_gate.api.schemas import install_openapi
from release_gate.api.ui import install_ui
from release_gate.config import Settings
from release_gate.ops.metrics import Metrics
from release_gate.reload import PolicyReloader
from release_gate.runtime import Runtime, build_runtime

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. ``runtime`` is injected by tests; otherwise built at start-up."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        served: Runtime = runtime or build_runtime(settings or Settings())
        app.state.runtime = served
        metrics: Metrics = app.state.metrics
        _bind_policy_labels(metrics, served)
        if served.store is not None:
            appender = served.store.appender
            metrics.watch_appends(lambda: (appender.batches, appender.entries))
            metrics.count_revocations(appender.revocations)
        reloader = PolicyReloader(
            served, metrics=metrics, on_swap=lambda: _bind_policy_labels(metrics, served)
        )
        app.state.reloader = reloader
        reloader.start()
        try:
            yield
        finally:
            reloader.stop()
            if owned:
                served.close()

    app = FastAPI(
        title="release-gate",
        version=__version__,
        summary="Approves one exact disclosure-packet revision into one bounded intake lane.",
        lifespan=lifespan,
        docs_url=None,  # served offline by install_ui, with a strict CSP
        redoc_url=None,
    )
    install_problem_handlers(app)
    install_openapi(app)
    install_ui(app)
    app.add_middleware(RequestContextMiddleware)
    for router in ROUTERS:
        app.include_router(router)
    routes = [*app.routes, *(route for router in ROUTERS for route in router.routes)]
    app.state.metrics = Metrics(routes=_templates(routes), methods=_methods(routes))
    return app


def _templates(routes: list[BaseRoute]) -> set[str]:
    """The route templates (the routers are included without a prefix)."""
    return {path for route in routes if isinstance(path := getattr(route, "path", None), str)}


def _methods(routes: list[BaseRoute]) -> set[str]:
    return {method for route in routes for method in getattr(route, "methods", None) or ()}


def _bind_policy_labels(metrics: Metrics, runtime: Runtime) -> None:
    """The ``lane``, ``code`` and ``source`` label sets: the served lanes, the policy's
    codes and the evidence sources the lanes name (again after every reload)."""
    policy = runtime.policy
    lanes = policy.governance.lanes if policy is not None else {}
    codes = policy.rules.codes if policy is not None else frozenset()
    sources = {
        source
        for lane in lanes.values()
        for source in (*lane.required_evidence_sources, *lane.max_evidence_age_seconds)
    }
    metrics.use_policy(lanes=lanes, codes=codes, sources=sources)
