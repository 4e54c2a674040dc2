"""The policy a gate serves: one loaded bundle with its engine and gate, swapped in whole.

A :class:`ServedPolicy` is everything that depends on the policy directory: the
bundle, its governance data, its rules' METADATA, the engine that evaluates it
and the :class:`~release_gate.decision.decide.Gate` built on them. Start-up
builds one (:func:`load_served`); a reload builds another, which compiles the
bundle on every engine thread before anything is swapped, and puts it in place
with one assignment (:mod:`release_gate.reload`).

Leases: a request that uses the engine holds a lease on the policy it started
with (``Runtime.serving()``), so a decision in flight finishes, and is recorded,
on its revision. :meth:`ServedPolicy.retire` takes no new lease, waits for the
last one to end, and only then closes the engine.

:class:`ReloadError` is the last reload's failure, which ``/v1/policy`` and
``/readyz`` show.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from release_gate.config import Settings
from release_gate.decision.decide import Gate
from release_gate.decision.log import DecisionLog
from release_gate.decision.manifest import Limits
from release_gate.errors import ConfigurationError
from release_gate.keys.tokens import TokenMinter
from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.embedded import EmbeddedEngine
from release_gate.policy.engine import PolicyEngine
from release_gate.policy.governance import Governance, load_governance
from release_gate.policy.metadata import PolicyRules, policy_rules

__all__ = [
    "EngineSettingsError",
    "ReloadError",
    "ServedPolicy",
    "build_engine",
    "build_gate",
    "load_served",
]


class EngineSettingsError(ConfigurationError):
    """The engine cannot be configured as asked: the gate refuses to start."""


@dataclass(frozen=True, slots=True)
class ReloadError:
    """Why the last reload failed (contract section 8: ``reload_error``)."""

    at: str
    detail: str

    def to_wire(self) -> dict[str, str]:
        return {"at": self.at, "detail": self.detail}


class ServedPolicy:
    """One loaded policy and what evaluates it; leased by requests, retired on a reload."""

    def __init__(
        self,
        *,
        bundle: PolicyBundle,
        governance: Governance,
        rules: PolicyRules,
        engine: PolicyEngine,
        gate: Gate,
    ) -> None:
        self.bundle = bundle
        self.governance = governance
        self.rules = rules
        self.engine = engine
        self.gate = gate
        self._leases = 0
        self._retired = False
        self._idle = threading.Condition()

    @property
    def revision(self) -> str:
        return self.bundle.revision

    @property
    def digest(self) -> str:
        return self.bundle.digest

    def with_gate(self, gate: Gate) -> ServedPolicy:
        """The same policy and engine behind another gate (tests inject gates)."""
        return ServedPolicy(
            bundle=self.bundle,
            governance=self.governance,
            rules=self.rules,
            engine=self.engine,
            gate=gate,
        )

    def acquire(self) -> bool:
        """Take a lease; ``False`` once retired (a newer policy is in place: use that)."""
        with self._idle:
            if self._retired:
                return False
            self._leases += 1
            return True

    def release(self) -> None:
        with self._idle:
            self._leases -= 1
            if self._leases == 0:
                self._idle.notify_all()

    def retire(self, *, timeout: float) -> bool:
        """Take no new lease, wait up to ``timeout`` s for the last one, then close the engine.

        ``False`` if a lease was still held at the deadline: its decision then fails
        closed on the closed engine (503), never on another policy.
        """
        with self._idle:
            self._retired = True
            drained = self._idle.wait_for(lambda: self._leases == 0, timeout=timeout)
        self.engine.close()
        return drained

    def close(self) -> None:
        self.engine.close()


def build_engine(settings: Settings, bundle: PolicyBundle) -> PolicyEngine:
    """The OPA engine when ``RELEASE_GATE_OPA_URL`` is set, else regorus (compiled on
    every engine thread before this returns)."""
    if settings.opa_url:
        from release_gate.policy.opa import OpaEngine

        return OpaEngine(
            settings.opa_url,
            bundle=bundle,
            timeout=settings.opa_timeout_seconds,
            retries=settings.opa_retries,
            bundle_name=settings.opa_bundle_name,
            token=settings.opa_token.get_secret_value() if settings.opa_token else None,
        )
    return EmbeddedEngine(bundle)


def build_gate(
    settings: Settings,
    *,
    governance: Governance,
    rules: PolicyRules,
    engine: PolicyEngine,
    store: DecisionLog | None,
    minter: TokenMinter,
) -> Gate:
    return Gate(
        governance=governance,
        engine=engine,
        rules=rules,
        store=store,
        minter=minter,
        limits=Limits(
            max_signatures=settings.max_signatures,
            max_objections=settings.max_objections,
            max_evidence=settings.max_evidence,
        ),
        max_depth=settings.max_nesting_depth,
    )


def load_served(
    settings: Settings,
    *,
    store: DecisionLog | None,
    minter: TokenMinter,
    bundle: PolicyBundle | None = None,
    check: Callable[[Governance], None] | None = None,
) -> ServedPolicy:
    """The policy of ``settings.policies`` (or ``bundle``), ready to serve.

    A :class:`~release_gate.errors.GateError` names any problem: the files, the
    governance data, the METADATA, ``check`` (run on the governance data before
    the engine is built; a reload passes the production checks) or the engine.
    An unusable engine setting is an :class:`EngineSettingsError`.
    """
    bundle = bundle if bundle is not None else load_bundle(settings.policies)
    governance = load_governance(bundle.governance)
    rules = policy_rules(bundle)
    if check is not None:
        check(governance)
    try:
        engine = build_engine(settings, bundle)
    except EngineSettingsError:
        raise
    except ConfigurationError as exc:
        raise EngineSettingsError(exc.detail) from exc
    gate = build_gate(
        settings, governance=governance, rules=rules, engine=engine, store=store, minter=minter
    )
    return ServedPolicy(bundle=bundle, governance=governance, rules=rules, engine=engine, gate=gate)
