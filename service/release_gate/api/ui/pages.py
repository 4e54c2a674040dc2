"""The packet pages: ``/ui/`` (recent packets), ``/ui/packets/{id}`` (a packet's story)
and ``/ui/decisions/{id}`` (a link to one decision: its anchor on its packet's page).

Each page reads through :mod:`release_gate.store.story`, which reads the
decisions with the audit API's own query, and renders server-side; nothing
here knows SQL.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from release_gate.api.deps import get_runtime
from release_gate.api.ui.access import UiProblem, Viewer, base_context, viewer
from release_gate.api.ui.render import RuleBook, render
from release_gate.errors import GateError
from release_gate.store import Store
from release_gate.store.story import list_packets, read_packet_story

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

ViewerDep = Annotated[Viewer, Depends(viewer)]
_ID = re.compile(r"[A-Za-z0-9._:@+-]{1,128}")
_PACKETS_PER_PAGE = 25
_T = TypeVar("_T")


def _store(request: Request) -> Store:
    store = get_runtime(request).store
    if store is None:
        raise UiProblem(503, "Decision store unavailable", "No decision store is configured.")
    return store


async def _read(function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a store read in a worker thread; its errors become pages."""
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except GateError as exc:
        raise UiProblem(exc.status, exc.title, exc.detail) from exc


@router.get("/ui")
async def ui_root() -> Response:
    return RedirectResponse("/ui/", status_code=308)


@router.get("/ui/")
async def packets(
    request: Request,
    who: ViewerDep,
    lane: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """Recent packets, one row per packet and lane, newest activity first."""
    runtime = get_runtime(request)
    if lane is not None and not _ID.fullmatch(lane):
        raise UiProblem(400, "Unknown lane", "A lane is 1-128 characters of [A-Za-z0-9._:@+-].")
    page = await _read(
        list_packets,
        _store(request).db,
        lane=lane,
        limit=_PACKETS_PER_PAGE,
        cursor=cursor,
        now_s=int(time.time()),
    )
    lanes = sorted(runtime.governance.lanes) if runtime.governance is not None else []
    context = {**base_context(request, who), "page": page, "lane": lane, "lanes": lanes}
    return await run_in_threadpool(render, request, "packets.html", context)


@router.get("/ui/packets/{packet_id}")
async def packet(
    request: Request,
    packet_id: str,
    who: ViewerDep,
    cursor: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """Everything about one packet, newest first."""
    if not _ID.fullmatch(packet_id):
        raise UiProblem(
            404, "No such packet", "A packet id is 1-128 characters of [A-Za-z0-9._:@+-]."
        )
    runtime = get_runtime(request)
    story = await _read(
        read_packet_story, _store(request).db, packet_id, now_s=int(time.time()), cursor=cursor
    )
    if story.empty:
        raise UiProblem(404, "No such packet", f"The gate has recorded nothing for {packet_id}.")
    book: RuleBook = request.app.state.ui_rules
    context = {
        **base_context(request, who),
        "story": story,
        "rules": book.load(runtime.bundle),
        "cursor": cursor,
        "superseded": {
            (r.lane, r.revision): r for r in story.revisions if r.superseded_by is not None
        },
    }
    # A long story renders in tens of milliseconds: off the event loop, like the reads.
    return await run_in_threadpool(render, request, "packet.html", context)


@router.get("/ui/decisions/{decision_id}")
async def decision(request: Request, decision_id: str, who: ViewerDep) -> Response:
    """A stable link to one decision: its anchor on its packet's page."""
    del who  # the dependency is the access check
    try:
        canonical = str(uuid.UUID(decision_id))
    except ValueError as exc:
        raise UiProblem(404, "No such decision", "That is not a decision id.") from exc
    record = await _read(_store(request).decisions.get, canonical)
    if record is None:
        raise UiProblem(404, "No such decision", f"The gate has no decision {canonical}.")
    target = f"/ui/packets/{record.decision.packet.id}#decision-{canonical}"
    return RedirectResponse(target, status_code=303)
