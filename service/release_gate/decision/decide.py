"""The decision path, top to bottom: :meth:`Gate.evaluate`.

    parse         strict I-JSON, then the manifest's shape     (decision.parse, .manifest)
    canonicalise  JCS digest of the manifest as received      (decision.canonical)
    verify        Ed25519 signatures against the trust store  (decision.signatures)
    facts         the packet's history and holds, from the log (DecisionLog.facts)
    evaluate      the Rego policy on those facts              (decision.policy_input, policy)
    explain       each finding's title and solution (METADATA) (decision.explain)
    mint          an allow's token, signed, not yet released  (decision.mint)
    record        committed to the decision log; if the facts moved meanwhile,
                  evaluate again; on failure the token is dropped (DecisionLog.append)

Every failure raises a :class:`~release_gate.errors.GateError`; a deny is a
:class:`Decision` with ``allow=False``. No path returns a token without a
committed record.

:meth:`Gate.replay` decides a recorded manifest again on the same steps, as a
dry run (evaluated at a given instant, never minted or recorded): the impact
replay (``policy impact``) and the re-check of live approvals after a reload.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from release_gate.decision.canonical import manifest_digest
from release_gate.decision.explain import explain
from release_gate.decision.log import DecisionLog, FactsChanged
from release_gate.decision.manifest import Limits, Manifest, validate_manifest
from release_gate.decision.mint import Minted, accepted_objections, mint
from release_gate.decision.model import Basis, Decision, Facts, PacketRef, PolicyRef
from release_gate.decision.parse import parse_ijson
from release_gate.decision.policy_input import build_policy_input
from release_gate.decision.signatures import SignatureStatus, verify_signatures
from release_gate.errors import StoreUnavailable
from release_gate.keys.tokens import TokenMinter
from release_gate.ops.logs import bind_decision_id
from release_gate.policy.engine import PolicyEngine, PolicyResult
from release_gate.policy.governance import Governance
from release_gate.policy.metadata import PolicyRules
from release_gate.timestamps import format_ns

__all__ = ["STAGES", "Gate"]

STAGES = ("parse", "canonicalise", "verify", "facts", "evaluate", "mint", "record")

logger = logging.getLogger(__name__)

#: Evaluations re-run when the facts move between evaluation and append
#: (a concurrent approval or hold); after this many the gate answers 503.
_MAX_ATTEMPTS = 5


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


class Gate:
    """Owns one decision: everything it needs is injected, nothing is global."""

    def __init__(
        self,
        *,
        governance: Governance,
        engine: PolicyEngine,
        rules: PolicyRules,
        store: DecisionLog | None,
        minter: TokenMinter,
        limits: Limits,
        max_depth: int,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._governance = governance
        self._engine = engine
        self._rules = rules
        self._store = store
        self._minter = minter
        self._limits = limits
        self._max_depth = max_depth
        self._clock = clock

    @property
    def rules(self) -> PolicyRules:
        """The METADATA of the rules this gate's policy is made of, by code."""
        return self._rules

    def evaluate(self, body: bytes, *, now_ns: int | None = None) -> Decision:
        """Decide on one manifest. ``now_ns`` makes a dry run: not recorded, no token."""
        watch = _Stopwatch()
        case = self._check(body, watch)
        facts = self._facts(case.manifest)
        watch.lap("facts")
        for _attempt in range(_MAX_ATTEMPTS):
            try:
                return self._attempt(case, facts, now_ns, watch)
            except FactsChanged as changed:
                logger.info(
                    "facts changed during evaluation of %s; re-evaluating", case.manifest.lane
                )
                facts = changed.current
        raise StoreUnavailable("the packet's history kept changing; no decision was recorded")

    def replay(
        self,
        manifest_text: str,
        *,
        now_ns: int,
        facts: Facts | None = None,
        digest: str | None = None,
    ) -> Decision:
        """Decide again on a recorded manifest at ``now_ns``: a dry run (not recorded, no token).

        On ``facts`` when given (an impact replay passes the facts recorded with
        the decision), else on the store's facts now (the re-check of a live
        approval after a reload). The manifest is parsed and its signatures are
        verified again, against this gate's trust store; ``digest``, the manifest
        digest recorded with it (the chain covers both), spares canonicalising it
        again.
        """
        watch = _Stopwatch()
        case = self._check(manifest_text.encode("utf-8"), watch, digest=digest)
        known = self._facts(case.manifest) if facts is None else facts
        watch.lap("facts")
        return self._attempt(case, known, now_ns, watch)

    def _check(self, body: bytes, watch: _Stopwatch, *, digest: str | None = None) -> _Case:
        """Parse, canonicalise and verify: what every attempt at a decision shares."""
        document = parse_ijson(body, max_depth=self._max_depth)
        manifest = validate_manifest(document, limits=self._limits)
        watch.lap("parse")
        digest = digest or manifest_digest(document)
        watch.lap("canonicalise")
        statuses = verify_signatures(
            manifest.signatures, digest=digest, governance=self._governance
        )
        watch.lap("verify")
        return _Case(body.decode("utf-8"), manifest, digest, statuses)

    def _facts(self, manifest: Manifest) -> Facts:
        if self._store is None:
            return Facts()
        evidence = tuple(dict.fromkeys((e.source, e.ref) for e in manifest.evidence))
        return self._store.facts(
            packet_id=manifest.packet.id, lane=manifest.lane, evidence=evidence
        )

    def _attempt(
        self, case: _Case, facts: Facts, now_ns: int | None, watch: _Stopwatch
    ) -> Decision:
        dry_run = now_ns is not None
        evaluated_ns = now_ns if now_ns is not None else self._clock()
        policy_input = build_policy_input(
            manifest_text=case.text,
            manifest=case.manifest,
            digest=case.digest,
            statuses=case.statuses,
            now_ns=evaluated_ns,
            facts=facts,
        )
        result = explain(self._engine.evaluate(policy_input), self._rules)
        watch.lap("evaluate")
        decision_id = str(uuid.uuid4())
        bind_decision_id(decision_id)
        minted = None
        if result.allow and not dry_run:
            minted = mint(
                minter=self._minter,
                governance=self._governance,
                decision_id=decision_id,
                manifest=case.manifest,
                digest=case.digest,
                statuses=case.statuses,
                policy=_policy(result),
                issued_at=evaluated_ns // 1_000_000_000,
            )
        watch.lap("mint")
        decision = self._decision(decision_id, case, facts, result, minted, evaluated_ns, watch)
        if not dry_run:
            self._record(decision, facts)
        watch.lap("record")
        return decision

    def _decision(
        self,
        decision_id: str,
        case: _Case,
        facts: Facts,
        result: PolicyResult,
        minted: Minted | None,
        evaluated_ns: int,
        watch: _Stopwatch,
    ) -> Decision:
        manifest = case.manifest
        packet = manifest.packet
        return Decision(
            decision_id=decision_id,
            allow=result.allow,
            manifest_digest=case.digest,
            packet=PacketRef(id=packet.id, revision=packet.revision, digest=packet.digest),
            lane=manifest.lane,
            policy=_policy(result),
            violations=result.violations,
            warnings=result.warnings,
            token=minted.token if minted else None,
            token_expires_at=minted.expires_at if minted else None,
            evaluated_at=format_ns(evaluated_ns),
            basis=Basis(
                manifest_id=manifest.manifest_id,
                manifest_text=case.text,
                supersedes_revision=packet.supersedes_revision,
                accepted_objections=accepted_objections(manifest),
                facts=facts,
                engine=self._engine.name,
                evaluated_at_ns=evaluated_ns,
            ),
            timings=watch.timings,
        )

    def _record(self, decision: Decision, facts: Facts) -> None:
        if self._store is None:
            raise RuntimeError("a recorded evaluation needs a decision store")
        self._store.append(decision, expected_facts=facts if decision.allow else None)


def _policy(result: PolicyResult) -> PolicyRef:
    return PolicyRef(revision=result.policy_revision, digest=result.policy_digest)
