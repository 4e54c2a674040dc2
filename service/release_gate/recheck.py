"""After a reload or a start: live approvals decided again under the served policy.

When a reload changes the policy digest, each recorded allow whose token is
still live (unexpired, not revoked) is decided again, as a dry run
(:meth:`~release_gate.decision.decide.Gate.replay`: not recorded, no token),
under the new policy, at the instant the re-check starts and on the store's
facts at that instant: the packet's history and holds in the lane and the
newest evidence snapshots, what a new evaluation of the same manifest would
see. (The approval itself is then the latest approved revision of its packet
in its lane; the packet rules deny only a *lower* revision, so it is not
superseded by itself.) Those now denied are revoked with reason
``policy.changed``, the new digest as the cause, in one chained policy event
(:mod:`release_gate.store.policy_events`): a stale approval is never routed
after the audience scope, the signers or the evidence rules changed.

A gate that starts (a restart, a new deployment, a replica added) does the
same for the live approvals decided under any other policy digest: a policy
changed while no gate ran, or shipped by redeploying instead of a reload, is
not a way around the re-check. A start on the policy the approvals were
decided under re-checks and records nothing.

Fail closed: an approval the new policy cannot decide while its engine is
ready (an error on that manifest alone, which a new evaluation would answer
with a 503) counts as denied. When the engine itself is not ready (OPA not
yet on the new revision, or unreachable) or the store cannot be read or
written, nothing is revoked and :class:`RecheckPostponed` says why; the
reloader tries again.

Several workers or replicas re-checking at once revoke each token once and
chain one event per digest unless a later one revokes something new: the store
decides that under the chain's lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from release_gate.decision.model import Decision
from release_gate.errors import GateError, StoreUnavailable
from release_gate.served import ServedPolicy
from release_gate.store import Store
from release_gate.store.policy_events import PolicyChange

__all__ = ["RecheckPostponed", "RecheckResult", "recheck_live_approvals"]

logger = logging.getLogger(__name__)


class RecheckPostponed(Exception):
    """Nothing was revoked: the engine or the store is not available right now."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class RecheckResult:
    evaluated: int  # live approvals decided again
    denied: frozenset[str]  # their token ids the new policy denies
    revoked: tuple[str, ...]  # of those, the ones this call revoked (not another replica)


def recheck_live_approvals(
    policy: ServedPolicy,
    store: Store,
    *,
    previous_digest: str | None,
    now_ns: int,
    actor: str,
    other_policies_only: bool = False,
) -> RecheckResult:
    """Decide every live approval again under ``policy`` at ``now_ns``; revoke the denied.

    With ``other_policies_only`` (a gate that starts, rather than reloads), only the
    approvals decided under another policy digest are decided again, and when there is
    none nothing is recorded.
    """
    denied: set[str] = set()
    evaluated = 0
    try:
        for record in store.policy_events.live_approvals(now_s=now_ns // 1_000_000_000):
            decision = record.decision
            if other_policies_only and decision.policy.digest == policy.digest:
                continue
            evaluated += 1
            if not _still_allowed(policy, decision, now_ns):
                denied.add(decision.token_id or decision.decision_id)
        if other_policies_only and not evaluated:
            return RecheckResult(0, frozenset(), ())
        change = PolicyChange(
            revision=policy.revision,
            digest=policy.digest,
            previous_digest=previous_digest,
            engine=policy.engine.name,
            denied=frozenset(denied),
        )
        revoked = store.policy_events.record(change, actor=actor, now_ns=now_ns)
    except StoreUnavailable as exc:
        raise RecheckPostponed(f"the decision store is unavailable: {exc.detail}") from exc
    return RecheckResult(evaluated, frozenset(denied), tuple(revoked))


def _still_allowed(policy: ServedPolicy, decision: Decision, now_ns: int) -> bool:
    try:
        replayed = policy.gate.replay(
            decision.basis.manifest_text, now_ns=now_ns, digest=decision.manifest_digest
        )
        return replayed.allow
    except StoreUnavailable:
        raise
    except GateError as exc:
        status = policy.engine.status()
        if not status.ready:
            raise RecheckPostponed(
                f"the {policy.engine.name} engine is not ready: {status.detail}"
            ) from exc
        logger.warning(
            "live approval %s cannot be decided under policy revision %s (%s): revoking it",
            decision.decision_id,
            policy.revision,
            exc.detail,
        )
        return False
