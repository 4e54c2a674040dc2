"""Compatibility: the decision store moved to :mod:`release_gate.store`."""

from __future__ import annotations

from release_gate.store import DecisionRecord, DecisionStore, StoreUnavailable

__all__ = ["DecisionRecord", "DecisionStore", "StoreUnavailable"]
