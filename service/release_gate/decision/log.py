"""What the decision path needs of the decision log (``release_gate.store.Store``).

The store implements :class:`DecisionLog`; the path never imports the store.
"""

from __future__ import annotations

from typing import Protocol

from release_gate.decision.model import Decision, Facts

__all__ = ["DecisionLog", "FactsChanged"]


class FactsChanged(Exception):
    """The facts moved between evaluation and append; ``current`` is the new view."""

    def __init__(self, current: Facts) -> None:
        super().__init__("facts changed since evaluation")
        self.current = current


class DecisionLog(Protocol):
    def facts(
        self, *, packet_id: str, lane: str, evidence: tuple[tuple[str, str], ...] = ()
    ) -> Facts:
        """The packet's facts in the lane now, with the newest snapshots of the
        ``evidence`` (source, ref) it cites (:class:`StoreUnavailable` if unreadable)."""
        ...

    def append(self, decision: Decision, *, expected_facts: Facts | None) -> None:
        """Commit ``decision`` durably, or raise.

        With ``expected_facts`` (an allow) the facts are read again under the
        chain's lock and must equal them, else :class:`FactsChanged`.
        """
        ...
