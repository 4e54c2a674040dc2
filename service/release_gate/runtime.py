"""Everything a running gate holds, built once from :class:`Settings`.

Used by the app's lifespan and by the CLI. A policy or governance problem does
not stop the runtime from being built: ``policy`` is then ``None`` and
``load_error`` names the problem, so ``serve`` stays up answering 503 and the
CLI exits 2 (a later reload that loads starts serving). Nor does an
unreachable decision store: readiness and evaluations answer 503 until it is
reachable. A bad signing key, a malformed store URL, or a reachable store whose
schema is not at the newest migration (fix: ``release-gate db upgrade``) stops
start-up.

The policy is one :class:`~release_gate.served.ServedPolicy`, swapped in whole
by a reload (:mod:`release_gate.reload`); requests that evaluate lease it with
:meth:`Runtime.serving`, so a reload closes the old engine only after them.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from release_gate.config import Settings
from release_gate.decision.decide import Gate
from release_gate.errors import ConfigurationError, GateError
from release_gate.keys.api_keys import Authenticator, load_api_keys
from release_gate.keys.keyring import MAX_TOKEN_TTL_SECONDS, KeyRing, files_keyring, load_keyring
from release_gate.keys.signing import (
    SigningKey,
    ephemeral_key,
    load_or_create_dev_key,
    load_private_key,
)
from release_gate.keys.tokens import TokenMinter
from release_gate.ops.files import secure_state_dir
from release_gate.ops.logs import INSECURE_DEFAULT
from release_gate.ops.production import check_production, governance_problems, settings_problems
from release_gate.ops.reload_signal import ReloadRequests
from release_gate.policy.bundle import PolicyBundle
from release_gate.policy.engine import PolicyEngine
from release_gate.policy.governance import Governance, GovernanceError
from release_gate.policy.metadata import PolicyRules
from release_gate.served import (
    EngineSettingsError,
    ReloadError,
    ServedPolicy,
    build_engine,
    load_served,
)
from release_gate.store import Store, StoreUnavailable
from release_gate.store.migrate import check as check_schema
from release_gate.store.migrate import upgrade as upgrade_schema

__all__ = [
    "AUTH_OFF_WARNING",
    "Drain",
    "EngineSettingsError",
    "ReloadError",
    "ReloadRequests",
    "Runtime",
    "build_authenticator",
    "build_engine",
    "build_runtime",
    "freeze_startup_heap",
    "load_keys",
    "load_signing_key",
    "production_problems",
]

logger = logging.getLogger(__name__)

#: Logged at start-up, and shown on every packet page, while authentication is off.
AUTH_OFF_WARNING = (
    "API AUTHENTICATION IS OFF: no RELEASE_GATE_API_KEYS in development mode, so anyone "
    "who reaches this port may evaluate, verify, read the audit log and place holds"
)


@dataclass
class Drain:
    """Set on SIGTERM: new evaluations get 503 while in-flight ones finish."""

    active: bool = False


@dataclass
class Runtime:
    settings: Settings
    keyring: KeyRing
    minter: TokenMinter
    store: Store | None
    policy: ServedPolicy | None = None
    load_error: str | None = None
    reload_error: ReloadError | None = None
    auth: Authenticator = field(default_factory=lambda: Authenticator(()))
    drain: Drain = field(default_factory=Drain)
    reloads: ReloadRequests = field(default_factory=ReloadRequests)

    @property
    def signing_key(self) -> SigningKey:
        return self.keyring.active

    # The parts of the served policy (None while none is loaded). Read ``policy``
    # once instead when several parts must come from one revision.

    @property
    def bundle(self) -> PolicyBundle | None:
        return self.policy.bundle if self.policy is not None else None

    @property
    def governance(self) -> Governance | None:
        return self.policy.governance if self.policy is not None else None

    @property
    def rules(self) -> PolicyRules | None:
        return self.policy.rules if self.policy is not None else None

    @property
    def engine(self) -> PolicyEngine | None:
        return self.policy.engine if self.policy is not None else None

    @property
    def gate(self) -> Gate | None:
        return self.policy.gate if self.policy is not None else None

    @gate.setter
    def gate(self, gate: Gate) -> None:
        """Serve the loaded policy through another gate (tests wrap the engine)."""
        if self.policy is None:
            raise RuntimeError("no policy is loaded to serve through this gate")
        self.policy = self.policy.with_gate(gate)

    def max_token_ttl(self) -> int:
        """The longest token lifetime a lane grants (the governance cap when unknown)."""
        governance = self.governance
        if governance is None or not governance.lanes:
            return MAX_TOKEN_TTL_SECONDS
        return max(lane.token_ttl_seconds for lane in governance.lanes.values())

    def verification_keys(self, now: int | None = None) -> dict[str, Ed25519PublicKey]:
        """The keys a token from this gate may be signed with at ``now`` (the JWKS)."""
        moment = int(time.time()) if now is None else now
        return self.keyring.verification_keys(moment, max_token_ttl=self.max_token_ttl())

    def require_gate(self) -> Gate:
        policy = self.policy
        if policy is None:
            raise GovernanceError(self.load_error or "policies are not loaded")
        return policy.gate

    @contextmanager
    def serving(self) -> Iterator[ServedPolicy]:
        """The served policy, leased: a reload does not close its engine until this ends."""
        while True:
            policy = self.policy
            if policy is None:
                raise GovernanceError(self.load_error or "policies are not loaded")
            if policy.acquire():  # False: retired by a reload since it was read; take the new one
                break
        try:
            yield policy
        finally:
            policy.release()

    def close(self) -> None:
        if self.policy is not None:
            self.policy.close()
        if self.store is not None:
            self.store.close()


def load_signing_key(settings: Settings) -> SigningKey:
    if settings.signing_key_file is not None:
        return load_private_key(settings.signing_key_file)
    return load_or_create_dev_key(settings.dev_key_path)


def load_keys(settings: Settings) -> KeyRing:
    """The key ring (``RELEASE_GATE_KEYS_DIR``), else the key files, else the dev key."""
    if settings.keys_dir is not None:
        return load_keyring(settings.keys_dir)
    return files_keyring(load_signing_key(settings), settings.retired_key_files)


def build_authenticator(settings: Settings) -> Authenticator:
    """API keys from ``RELEASE_GATE_API_KEYS``; off (loudly) only in development."""
    if settings.api_keys is not None:
        return Authenticator(load_api_keys(settings.api_keys))
    if settings.env != "development":
        raise ConfigurationError(
            "API authentication is off: set RELEASE_GATE_API_KEYS to a key file "
            "(release-gate apikey create) before running in production mode"
        )
    logger.warning("%s", AUTH_OFF_WARNING, extra=INSECURE_DEFAULT)
    return Authenticator(())


def _open_store(settings: Settings) -> Store:
    """The store, at the newest schema revision (else :class:`SchemaNotCurrent`).

    An unreachable store does not stop start-up: ``/readyz`` and
    ``/v1/evaluate`` answer 503 until it is reachable (and migrated).
    """
    store = Store(settings.effective_database_url)
    try:
        if settings.effective_auto_migrate:
            upgrade_schema(store.db)
        check_schema(store.db)
    except StoreUnavailable as exc:
        logger.error("decision store unavailable, evaluations answer 503: %s", exc.detail)
    except GateError:
        store.close()
        raise
    return store


def build_runtime(
    settings: Settings, *, dry_run: bool = False, reloads: ReloadRequests | None = None
) -> Runtime:
    """Everything a gate needs; in production, refuses (:class:`ConfigurationError`) if unsafe.

    ``dry_run`` (``evaluate --now``) mints and records nothing, so it opens no
    store, signs with a throwaway in-memory key and skips the production checks.
    ``reloads`` is the SIGHUP request ``serve`` installed before building anything.
    """
    production = settings.env == "production" and not dry_run
    if production:
        check_production(settings_problems(settings))
    auth = Authenticator(()) if dry_run else build_authenticator(settings)
    if not dry_run and _uses_state_dir(settings):
        secure_state_dir(settings.state_dir)
    keyring = KeyRing(active=ephemeral_key(), retired=()) if dry_run else load_keys(settings)
    store = None if dry_run else _open_store(settings)
    runtime = Runtime(
        settings=settings,
        keyring=keyring,
        minter=TokenMinter(key=keyring.active, issuer=settings.issuer),
        store=store,
        auth=auth,
        reloads=reloads or ReloadRequests(),
    )
    try:
        runtime.policy = load_served(settings, store=store, minter=runtime.minter)
    except EngineSettingsError:
        runtime.close()
        raise
    except GateError as exc:
        runtime.load_error = exc.detail
        logger.error("policies not loaded, evaluations answer 503: %s", exc.detail)
        return runtime
    if production:
        try:
            check_production(production_problems(runtime.policy.governance, keyring))
        except GateError:
            runtime.close()
            raise
    return runtime


def production_problems(governance: Governance, keyring: KeyRing) -> list[str]:
    """What production mode refuses in a policy's governance data, with these keys."""
    return governance_problems(
        governance,
        signing_key=keyring.active.public_key,
        retired_keys=[key.public_key for key in keyring.retired],
    )


def _uses_state_dir(settings: Settings) -> bool:
    """Does the gate keep anything in ``RELEASE_GATE_STATE_DIR`` (the dev key, the default
    SQLite store)? Then it is made private (0700) before anything is written there."""
    dev_key = settings.keys_dir is None and settings.signing_key_file is None
    return dev_key or settings.database_url is None


def freeze_startup_heap() -> None:
    """Take everything built at start-up out of the garbage collector's scans.

    The policies, engines, models and modules live for the whole process; left
    in the collector's view, every full collection walks them, which showed as
    70 ms p99 pauses in parsing a 1,000-objection manifest (7.6 ms frozen;
    bench/README.md). ``serve`` calls this once, after :func:`build_runtime`.
    """
    gc.collect()
    gc.freeze()
