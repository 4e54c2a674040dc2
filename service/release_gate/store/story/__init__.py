"""The packet story: what the audit log knows about one packet, for people (the packet pages).

Read-only. The decisions come from the audit API's own query
(:func:`release_gate.store.query.list_decisions`: the same records, newest
first, the same cursor); the other sections are small indexed reads of the
same tables (``read``). Everything is a typed, frozen value (``model``), one
section per kind of entry::

    PacketStory
    ├── revisions        RevisionEntry         per lane and revision: digests, state,
    │                                          superseded by which revision and decision
    ├── decisions        DecisionRecord        one page of the audit API's records
    ├── disagreements    AcceptedDisagreement  the residual disagreement each approval accepted
    ├── tokens           TokenEntry            live, expired or revoked (reason, cause); outcome
    ├── holds            HoldEntry             placed and lifted, reason and actor
    └── evidence_events  EvidenceEventEntry    source systems' events about the evidence
                                               the page's manifests cite

:func:`list_packets` (``packets``) gives the recent packets, one row per
packet and lane, with the state of its highest revision.

**Adding a kind**: define its frozen entry in ``model``, write its reader in
``read`` (one bounded, indexed query, newest first), add the field to
:class:`PacketStory` and one line to :func:`read_packet_story`, and give it a
section in ``api/ui/templates/packet.html``. Intake outcomes are read per token
(:func:`release_gate.store.story.read.outcomes`, by the tokens on the page);
evidence events by the source and ref of the evidence the page's manifests
cite (:func:`release_gate.store.story.read.evidence_events`; each manifest is
parsed once, shared with the accepted disagreement). A new revocation reason
needs no change here: reason and cause are shown as recorded, labelled by the
page.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from release_gate.store.db import Database, StoreUnavailable
from release_gate.store.query import DecisionQuery, list_decisions
from release_gate.store.story import read
from release_gate.store.story.model import (
    AcceptanceEntry,
    AcceptedDisagreement,
    EvidenceEventEntry,
    HoldEntry,
    OutcomeEntry,
    PacketPage,
    PacketStory,
    PacketSummary,
    RevisionEntry,
    RevisionState,
    RevocationEntry,
    TokenEntry,
)
from release_gate.store.story.packets import read_packet_page

__all__ = [
    "DECISIONS_PER_PAGE",
    "AcceptanceEntry",
    "AcceptedDisagreement",
    "EvidenceEventEntry",
    "HoldEntry",
    "OutcomeEntry",
    "PacketPage",
    "PacketStory",
    "PacketSummary",
    "RevisionEntry",
    "RevisionState",
    "RevocationEntry",
    "TokenEntry",
    "list_packets",
    "read_packet_story",
]

#: Decisions on one page of a packet's story; older ones through ``next_cursor``.
DECISIONS_PER_PAGE = 1000


def read_packet_story(
    db: Database, packet_id: str, *, now_s: int, cursor: str | None = None
) -> PacketStory:
    """The story of ``packet_id`` at ``now_s`` (``InvalidCursor`` for a bad cursor)."""
    page = list_decisions(
        db, DecisionQuery(packet_id=packet_id, limit=DECISIONS_PER_PAGE, cursor=cursor)
    )
    try:
        with db.read() as conn:
            holds = read.holds(conn, packet_id)
            manifests = read.manifests(page.items)
            return PacketStory(
                packet_id=packet_id,
                revisions=read.revisions(conn, packet_id, holds, now_s),
                decisions=tuple(page.items),
                next_cursor=page.next_cursor,
                disagreements=read.disagreements(page.items, manifests),
                tokens=read.tokens(conn, page.items, now_s),
                holds=holds,
                evidence_events=read.evidence_events(conn, manifests.values()),
            )
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the decision store cannot be read") from exc


def list_packets(
    db: Database, *, lane: str | None, limit: int, cursor: str | None, now_s: int
) -> PacketPage:
    """Recent packets, newest activity first (``InvalidCursor`` for a bad cursor)."""
    try:
        with db.read() as conn:
            return read_packet_page(conn, lane=lane, limit=limit, cursor=cursor, now_s=now_s)
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the decision store cannot be read") from exc
