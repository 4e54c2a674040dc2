"""Files the gate serves itself: the pages' stylesheet and the offline API docs (``/docs``).

Swagger UI's script and stylesheet come from the ``swagger-ui-py`` package
(Swagger UI 5, Apache-2.0; its licence is served at
``/docs/assets/LICENSE``), so ``/docs`` loads nothing from another origin and
works without a network. Only the files listed here are served.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from release_gate.api.ui.access import UiProblem
from release_gate.api.ui.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_CACHE = {"cache-control": "public, max-age=3600"}
_PAGE_ASSETS = {"gate.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
#: name -> (directory key, media type)
_DOCS_ASSETS = {
    "swagger-ui-bundle.js": ("swagger", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger", "text/css; charset=utf-8"),
    "favicon-32x32.png": ("swagger", "image/png"),
    "LICENSE": ("swagger", "text/plain; charset=utf-8"),
    "docs-init.js": ("own", "text/javascript; charset=utf-8"),
}


def _own_dir() -> Path:
    return Path(str(files("release_gate.api.ui"))) / "static"


def _swagger_dir() -> Path:
    return Path(str(files("swagger_ui"))) / "static"


@router.get("/ui/static/{name}")
async def static(name: str) -> Response:
    """The pages' stylesheet and icon (and nothing else from that folder)."""
    media_type = _PAGE_ASSETS.get(name)
    if media_type is None:
        raise UiProblem(404, "Not found", "No such file.")
    return FileResponse(_own_dir() / name, media_type=media_type, headers=_CACHE)


@router.get("/docs")
async def docs(request: Request) -> Response:
    """The OpenAPI document in Swagger UI, every asset from the gate itself."""
    return render(request, "docs.html", {"openapi_url": request.app.openapi_url})


@router.get("/docs/assets/{name}")
async def docs_asset(name: str) -> Response:
    found = _DOCS_ASSETS.get(name)
    if found is None:
        raise UiProblem(404, "Not found", "No such file.")
    where, media_type = found
    directory = _own_dir() if where == "own" else _swagger_dir()
    return FileResponse(directory / name, media_type=media_type, headers=_CACHE)
