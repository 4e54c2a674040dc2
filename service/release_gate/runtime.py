"""Everything a running gate holds, built once from :class:`Settings`.

Used by the app's lifespan and by the CLI. A policy or governance problem does
not stop the runtime from being built: ``gate`` is then ``None`` and
``load_error`` names the problem, so ``serve`` stays up answering 503 and the
CLI exits 2. Nor does an unreachable decision store: its schema is created on
the first write, and until then readiness and evaluations answer 503. A bad
signing key or a malformed store URL stops start-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from release_gate.config import Settings
from release_gate.decisions import DecisionStore
from release_gate.errors import GateError
from release_gate.gate import Gate
from release_gate.governance import Governance, GovernanceError, load_governance
from release_gate.keys import (
    SigningKey,
    ephemeral_key,
    load_or_create_dev_key,
    load_private_key,
    load_public_key,
)
from release_gate.manifest import Limits
from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.embedded import EmbeddedEngine
from release_gate.policy.engine import PolicyEngine
from release_gate.tokens import TokenMinter

__all__ = ["Runtime", "build_engine", "build_runtime", "load_policy", "load_signing_key"]

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    signing_key: SigningKey
    retired_keys: list[Ed25519PublicKey]
    minter: TokenMinter
    store: DecisionStore | None
    bundle: PolicyBundle | None = None
    governance: Governance | None = None
    engine: PolicyEngine | None = None
    gate: Gate | None = None
    load_error: str | None = None
    extras: dict[str, object] = field(default_factory=dict)

    def require_gate(self) -> Gate:
        if self.gate is None:
            raise GovernanceError(self.load_error or "policies are not loaded")
        return self.gate

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        if self.store is not None:
            self.store.close()


def load_signing_key(settings: Settings) -> SigningKey:
    if settings.signing_key_file is not None:
        return load_private_key(settings.signing_key_file)
    return load_or_create_dev_key(settings.dev_key_path)


def build_engine(settings: Settings, bundle: PolicyBundle) -> PolicyEngine:
    if settings.opa_url:
        from release_gate.policy.opa import OpaEngine

        return OpaEngine(settings.opa_url, bundle=bundle, timeout=settings.opa_timeout_seconds)
    return EmbeddedEngine(bundle)


def load_policy(settings: Settings) -> tuple[PolicyBundle, Governance, PolicyEngine]:
    """Bundle, governance data and engine; raises a :class:`GateError` naming the problem."""
    bundle = load_bundle(settings.policies)
    governance = load_governance(bundle.governance)
    return bundle, governance, build_engine(settings, bundle)


def build_runtime(settings: Settings, *, dry_run: bool = False) -> Runtime:
    """Everything a gate needs. ``dry_run`` (``evaluate --now``) mints and records
    nothing, so it opens no store and signs with a throwaway in-memory key."""
    signing_key = ephemeral_key() if dry_run else load_signing_key(settings)
    retired = [] if dry_run else [load_public_key(p) for p in settings.retired_key_files]
    store = None
    if not dry_run:
        store = DecisionStore(settings.effective_database_url)
        try:
            store.create_schema()
        except GateError as exc:  # keep serving: /readyz and /v1/evaluate answer 503
            logger.error("decision store unavailable, evaluations answer 503: %s", exc.detail)
    runtime = Runtime(
        settings=settings,
        signing_key=signing_key,
        retired_keys=retired,
        minter=TokenMinter(key=signing_key, issuer=settings.issuer),
        store=store,
    )
    try:
        runtime.bundle, runtime.governance, runtime.engine = load_policy(settings)
    except GateError as exc:
        runtime.load_error = exc.detail
        logger.error("policies not loaded, evaluations answer 503: %s", exc.detail)
        return runtime
    runtime.gate = Gate(
        governance=runtime.governance,
        engine=runtime.engine,
        store=store,
        minter=runtime.minter,
        limits=Limits(
            max_signatures=settings.max_signatures,
            max_objections=settings.max_objections,
            max_evidence=settings.max_evidence,
        ),
        max_depth=settings.max_nesting_depth,
    )
    return runtime
