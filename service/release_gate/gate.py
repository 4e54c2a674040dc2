"""The decision path, top to bottom.

    parse (I-JSON, then the manifest's shape)
    canonicalise (JCS digest of the manifest as received)
    verify (Ed25519 signatures against the trust store)
    facts (the packet's history and holds, read from the store)
    evaluate (the Rego policy, on the embedded engine or OPA, with those facts)
    mint (only on allow; signed in memory, not yet released)
    record (committed to the decision store, after re-reading the facts under
            the chain lock; if they moved, evaluate again; on failure the
            token is dropped)

Every failure raises a :class:`~release_gate.errors.GateError`; a deny is a
:class:`Decision` with ``allow=False``. No path returns a token without a
committed record.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from release_gate.canonical import manifest_digest
from release_gate.governance import Governance
from release_gate.ijson import parse_ijson
from release_gate.logs import bind_decision_id
from release_gate.manifest import Limits, Manifest, validate_manifest
from release_gate.policy.engine import PolicyEngine, PolicyEngineError, PolicyResult, RawViolation
from release_gate.policy_input import build_policy_input
from release_gate.signatures import SignatureStatus, verify_signatures
from release_gate.store import DecisionRecord, FactsChanged, StoreUnavailable
from release_gate.store.facts import empty_facts
from release_gate.timestamps import format_ns
from release_gate.tokens import MintedToken, TokenMinter

__all__ = ["STAGES", "Decision", "DecisionLog", "Gate"]

STAGES = ("parse", "canonicalise", "verify", "evaluate", "mint", "record")

logger = logging.getLogger(__name__)

#: Evaluations re-run when the facts move between evaluation and append
#: (a concurrent approval or hold); after this many the gate answers 503.
_MAX_ATTEMPTS = 5


def _violations(items: tuple[RawViolation, ...]) -> list[dict[str, str]]:
    return [{"code": v.code, "message": v.message, "path": v.path} for v in items]


@dataclass(frozen=True, slots=True)
class Decision:
    decision_id: str
    allow: bool
    manifest_digest: str
    packet: dict[str, Any]
    lane: str
    policy: dict[str, str]
    violations: list[dict[str, str]]
    warnings: list[dict[str, str]]
    token: str | None
    evaluated_at: str
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    def to_wire(self) -> dict[str, Any]:
        """The contract's decision object (section 4)."""
        return {
            "decision_id": self.decision_id,
            "allow": self.allow,
            "manifest_digest": self.manifest_digest,
            "packet": self.packet,
            "lane": self.lane,
            "policy": self.policy,
            "violations": self.violations,
            "warnings": self.warnings,
            "token": self.token,
            "evaluated_at": self.evaluated_at,
        }


class DecisionLog(Protocol):
    """What the gate needs of the store (:class:`release_gate.store.Store`)."""

    def facts(self, *, packet_id: str, lane: str) -> dict[str, Any]: ...

    def append(
        self, record: DecisionRecord, *, expected_facts: Mapping[str, Any] | None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class _Case:
    """One request's checked input, shared by every attempt."""

    text: str
    manifest: Manifest
    digest: str
    statuses: tuple[SignatureStatus, ...]


class _Stopwatch:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + (now - self._last)
        self._last = now


def _valid_signers(
    manifest: Manifest, statuses: tuple[SignatureStatus, ...], governance: Governance
) -> list[tuple[str, str]]:
    return [
        (s.subject, s.role)
        for s, status in zip(manifest.signatures, statuses, strict=True)
        if status is SignatureStatus.VERIFIED and s.role in governance.roles_of(s.subject)
    ]


def _accepted_objections(manifest: Manifest) -> list[str]:
    return [
        o.id
        for o in manifest.objections
        if o.status == "open" and o.residual_acceptance is not None
    ]


class Gate:
    """Owns one decision: everything it needs is injected, nothing is global."""

    def __init__(
        self,
        *,
        governance: Governance,
        engine: PolicyEngine,
        store: DecisionLog | None,
        minter: TokenMinter,
        limits: Limits,
        max_depth: int,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._governance = governance
        self._engine = engine
        self._store = store
        self._minter = minter
        self._limits = limits
        self._max_depth = max_depth
        self._clock = clock

    def evaluate(self, body: bytes, *, now_ns: int | None = None) -> Decision:
        """Decide on one manifest. ``now_ns`` makes a dry run: not recorded, no token."""
        watch = _Stopwatch()
        document = parse_ijson(body, max_depth=self._max_depth)
        manifest = validate_manifest(document, limits=self._limits)
        watch.lap("parse")
        digest = manifest_digest(document)
        watch.lap("canonicalise")
        statuses = verify_signatures(
            manifest.signatures, digest=digest, governance=self._governance
        )
        watch.lap("verify")
        case = _Case(body.decode("utf-8"), manifest, digest, statuses)
        facts = self._facts(manifest)
        watch.lap("record")
        for _attempt in range(_MAX_ATTEMPTS):
            try:
                decision = self._attempt(case, facts, now_ns, watch)
            except FactsChanged as changed:
                logger.info("facts changed during evaluation of %s; re-evaluating", manifest.lane)
                facts = changed.current
                continue
            decision.timings.update(watch.timings)
            return decision
        raise StoreUnavailable("the packet's history kept changing; no decision was recorded")

    def _facts(self, manifest: Manifest) -> dict[str, Any]:
        if self._store is None:
            return empty_facts()
        return self._store.facts(packet_id=manifest.packet.id, lane=manifest.lane)

    def _attempt(
        self, case: _Case, facts: dict[str, Any], now_ns: int | None, watch: _Stopwatch
    ) -> Decision:
        dry_run = now_ns is not None
        evaluated_ns = now_ns if now_ns is not None else self._clock()
        policy_input = build_policy_input(
            manifest_text=case.text,
            manifest=case.manifest,
            digest=case.digest,
            statuses=case.statuses,
            now_ns=evaluated_ns,
            store_facts=facts,
        )
        result = self._engine.evaluate(policy_input)
        watch.lap("evaluate")
        decision_id = str(uuid.uuid4())
        bind_decision_id(decision_id)
        minted = None
        if result.allow and not dry_run:
            minted = self._mint(decision_id, case, result, evaluated_ns)
        watch.lap("mint")
        decision = self._decision(decision_id, case, result, minted, evaluated_ns)
        if not dry_run:
            self._record(decision, case, facts, minted, evaluated_ns)
        watch.lap("record")
        return decision

    def _mint(
        self, decision_id: str, case: _Case, result: PolicyResult, evaluated_ns: int
    ) -> MintedToken:
        manifest = case.manifest
        lane = self._governance.lanes.get(manifest.lane)
        if lane is None:
            raise PolicyEngineError(
                f"the policy allowed lane {manifest.lane!r}, unknown to governance"
            )
        return self._minter.mint(
            jti=decision_id,
            issued_at=evaluated_ns // 1_000_000_000,
            ttl_seconds=lane.token_ttl_seconds,
            lane=manifest.lane,
            packet_id=manifest.packet.id,
            packet_revision=manifest.packet.revision,
            packet_digest=manifest.packet.digest,
            manifest_id=manifest.manifest_id,
            manifest_digest=case.digest,
            signers=_valid_signers(manifest, case.statuses, self._governance),
            accepted_objections=_accepted_objections(manifest),
            audience=manifest.audience,
            actions=manifest.requested_actions,
            policy_revision=result.policy_revision,
            policy_digest=result.policy_digest,
        )

    def _decision(
        self,
        decision_id: str,
        case: _Case,
        result: PolicyResult,
        minted: MintedToken | None,
        evaluated_ns: int,
    ) -> Decision:
        manifest = case.manifest
        return Decision(
            decision_id=decision_id,
            allow=result.allow,
            manifest_digest=case.digest,
            packet={
                "id": manifest.packet.id,
                "revision": manifest.packet.revision,
                "digest": manifest.packet.digest,
            },
            lane=manifest.lane,
            policy={"revision": result.policy_revision, "digest": result.policy_digest},
            violations=_violations(result.violations),
            warnings=_violations(result.warnings),
            token=minted.token if minted else None,
            evaluated_at=format_ns(evaluated_ns),
        )

    def _record(
        self,
        decision: Decision,
        case: _Case,
        facts: dict[str, Any],
        minted: MintedToken | None,
        evaluated_ns: int,
    ) -> None:
        if self._store is None:
            raise RuntimeError("a recorded evaluation needs a decision store")
        manifest = case.manifest
        self._store.append(
            DecisionRecord(
                decision_id=decision.decision_id,
                evaluated_at=decision.evaluated_at,
                evaluated_at_ns=evaluated_ns,
                manifest_id=manifest.manifest_id,
                manifest_digest=decision.manifest_digest,
                packet_id=manifest.packet.id,
                packet_revision=manifest.packet.revision,
                packet_digest=manifest.packet.digest,
                supersedes_revision=manifest.packet.supersedes_revision,
                lane=manifest.lane,
                allow=decision.allow,
                violations=decision.violations,
                warnings=decision.warnings,
                accepted_objections=_accepted_objections(manifest),
                facts=facts,
                policy_revision=decision.policy["revision"],
                policy_digest=decision.policy["digest"],
                engine=self._engine.name,
                token_id=minted.jti if minted else None,
                token_expires_at=minted.expires_at if minted else None,
                manifest=case.text,
            ),
            expected_facts=facts if decision.allow else None,
        )
