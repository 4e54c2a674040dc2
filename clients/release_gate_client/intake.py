"""Single-use intake: accept each approval token once (``token.replayed`` after).

Needs the ``intake`` extra (``pip install 'release-gate-client[intake]'``,
SQLAlchemy; SQLite or PostgreSQL). :class:`IntakeVerifier` verifies a token
exactly like :func:`~release_gate_client.verify_token` (revocations
included, when given), then claims its ``jti`` in a :class:`JtiStore` by
inserting it as a primary key. The database decides between concurrent
presentations: exactly one insert commits; every other one, in any worker or
process sharing the database, gets :class:`~release_gate_client.TokenReplayed`.
An entry is kept until its token's ``exp`` plus the maximum leeway has passed
(after that the token fails ``token.expired`` anyway), then purged.

Once the lane has reviewed the packet, :meth:`IntakeVerifier.report_outcome`
tells the gate what it decided (contract section 9): ``accepted``, or
``returned`` with what it found (``hidden_disagreement``, ``stale_evidence``,
``wrong_audience``, ``out_of_scope_action``, ``other``). It needs a
:class:`~release_gate_client.GateClient` with an ``intake`` API key::

    store = JtiStore("postgresql+psycopg://intake@db/intake")
    store.create_schema()
    intake = IntakeVerifier(store=store, jwks=jwks, issuer="release-gate",
                            audience="exec-customer-review", revocations=revocations,
                            gate=GateClient("https://gate.example", api_key=INTAKE_KEY))
    claims = intake.accept(token, packet_digest=digest)   # raises TokenError
    ...                                                    # the lane reviews the packet
    intake.report_outcome(claims, outcome="returned", findings=["stale_evidence"])
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import BigInteger, Engine, String, create_engine, delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from release_gate_client.claims import ApprovalClaims
from release_gate_client.client import GateClient
from release_gate_client.errors import TokenReplayed
from release_gate_client.models import OutcomeReport
from release_gate_client.verify import MAX_LEEWAY, KeySource, RevocationCheck, verify_token

__all__ = ["IntakeVerifier", "JtiStore"]

_PURGE_INTERVAL = 60


class _Base(DeclarativeBase):
    pass


class _Accepted(_Base):
    __tablename__ = "release_gate_intake_jti"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    exp: Mapped[int] = mapped_column(BigInteger, index=True)
    accepted_at: Mapped[int] = mapped_column(BigInteger)


class JtiStore:
    """Accepted token ids, on any SQLAlchemy database shared by the intake workers."""

    def __init__(self, url: str | Engine) -> None:
        if isinstance(url, str):
            sqlite = url.startswith("sqlite")
            url = create_engine(url, connect_args={"timeout": 30} if sqlite else {})
        self.engine = url

    def create_schema(self) -> None:
        _Base.metadata.create_all(self.engine)

    def claim(self, jti: str, *, exp: int, now: int) -> None:
        """Record ``jti`` as used, or raise :class:`TokenReplayed` if it already is."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(_Accepted).values(jti=jti, exp=exp, accepted_at=now))
        except IntegrityError as exc:
            raise TokenReplayed(f"token {jti} was already presented") from exc

    def purge(self, *, now: int) -> int:
        """Forget tokens expired for longer than the maximum leeway; returns how many."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(_Accepted).where(_Accepted.exp + MAX_LEEWAY < now))
            return int(result.rowcount or 0)

    def close(self) -> None:
        self.engine.dispose()


class IntakeVerifier:
    """Verify an approval token for one lane and accept it once."""

    def __init__(
        self,
        *,
        store: JtiStore,
        keys: Mapping[str, Ed25519PublicKey] | None = None,
        jwks: KeySource | None = None,
        issuer: str,
        audience: str,
        revocations: RevocationCheck | None = None,
        leeway: int = MAX_LEEWAY,
        gate: GateClient | None = None,
    ) -> None:
        self._store = store
        self._gate = gate
        self._keys, self._jwks = keys, jwks
        self._issuer, self._audience = issuer, audience
        self._revocations, self._leeway = revocations, leeway
        self._purged_at = 0

    def accept(self, token: str, *, packet_digest: str, now: int | None = None) -> ApprovalClaims:
        """The claims of a valid, first-presented token; else a :class:`TokenError`."""
        moment = int(time.time()) if now is None else now
        claims = verify_token(
            token,
            keys=self._keys,
            jwks=self._jwks,
            issuer=self._issuer,
            audience=self._audience,
            packet_digest=packet_digest,
            leeway=self._leeway,
            now=moment,
            revocations=self._revocations,
        )
        self._store.claim(claims.jti, exp=claims.exp, now=moment)
        if moment - self._purged_at >= _PURGE_INTERVAL:
            self._purged_at = moment
            self._store.purge(now=moment)
        return claims

    def report_outcome(
        self,
        token: ApprovalClaims | str,
        *,
        outcome: str,
        findings: Sequence[str] = (),
        note: str | None = None,
    ) -> OutcomeReport:
        """Tell the gate what this lane decided about ``token`` (its claims, as
        :meth:`accept` returned them, or its ``jti``): ``"accepted"``, or ``"returned"``
        with ``findings``. Safe to retry; see :meth:`GateClient.report_outcome`."""
        if self._gate is None:
            raise ValueError("report_outcome needs IntakeVerifier(..., gate=GateClient(...))")
        jti = token.jti if isinstance(token, ApprovalClaims) else token
        return self._gate.report_outcome(jti, outcome=outcome, findings=findings, note=note)
