"""The audit API: ``GET /v1/decisions``, ``/v1/decisions/head``, ``/v1/decisions/{id}``.

Newest first, filtered by packet, revision, lane, outcome and evaluation time
(``since`` inclusive, ``until`` exclusive, RFC 3339), paginated by an opaque
``cursor`` (``next_cursor`` of the previous page). Records are read-only.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from release_gate.api.deps import AuditorDep, StoreDep
from release_gate.api.schemas import problem_responses
from release_gate.errors import BadRequest, FieldError, GateError
from release_gate.store.query import DecisionQuery, list_decisions
from release_gate.timestamps import parse_timestamp_ns

__all__ = ["router"]

router = APIRouter(tags=["audit"])

_ID = r"^[A-Za-z0-9._:@+-]{1,128}$"


class DecisionNotFound(GateError):
    status = 404
    title = "Decision not found"
    type_suffix = "decision-not-found"


def _instant(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_timestamp_ns(value)
    except ValueError as exc:
        raise BadRequest(
            f"{name} is not an RFC 3339 timestamp", errors=(FieldError("", f"{name}: {exc}"),)
        ) from exc


@router.get("/v1/decisions", responses=problem_responses(400, 401, 403, 422, 503))
async def decisions(
    _caller: AuditorDep,
    store: StoreDep,
    packet_id: Annotated[str | None, Query(pattern=_ID)] = None,
    packet: Annotated[str | None, Query(pattern=_ID, description="alias of packet_id")] = None,
    revision: Annotated[int | None, Query(ge=1, le=2**53 - 1)] = None,
    lane: Annotated[str | None, Query(pattern=_ID)] = None,
    outcome: Literal["allow", "deny"] | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,  # checked by the store: any bad cursor is a 400
) -> dict[str, Any]:
    """Decisions, newest first; ``next_cursor`` is null on the last page."""
    if packet_id is not None and packet is not None and packet_id != packet:
        raise BadRequest(
            "packet is an alias of packet_id: give one, or the same value in both",
            errors=(FieldError("", "packet and packet_id disagree"),),
        )
    query = DecisionQuery(
        packet_id=packet_id or packet,
        revision=revision,
        lane=lane,
        allow=None if outcome is None else outcome == "allow",
        since_ns=_instant("since", since),
        until_ns=_instant("until", until),
        limit=limit,
        cursor=cursor,
    )
    page = await run_in_threadpool(list_decisions, store.db, query)
    return {
        "items": [r.to_wire(with_manifest=False) for r in page.items],
        "next_cursor": page.next_cursor,
    }


@router.get("/v1/decisions/head", responses=problem_responses(401, 403, 503))
async def chain_head(_caller: AuditorDep, store: StoreDep) -> dict[str, Any]:
    """The audit chain's head: record it elsewhere to anchor the log (docs/audit.md)."""
    head = await run_in_threadpool(store.decisions.head)
    return {"seq": head.seq, "hash": head.hash}


@router.get("/v1/decisions/{decision_id}", responses=problem_responses(401, 403, 404, 503))
async def decision(decision_id: str, _caller: AuditorDep, store: StoreDep) -> dict[str, Any]:
    """One decision with the manifest as received (``manifest``, and ``manifest_text``)."""
    try:
        canonical = str(uuid.UUID(decision_id))
    except ValueError as exc:
        raise DecisionNotFound(f"no decision {decision_id[:64]!r}") from exc
    record = await run_in_threadpool(store.decisions.get, canonical)
    if record is None:
        raise DecisionNotFound(f"no decision {canonical}")
    return record.to_wire()
