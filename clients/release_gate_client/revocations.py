"""Revocation checks for offline verifiers: the gate's signed revocation list.

``GET /v1/revocations`` answers a compact JWS (``typ``
``release-revocations+jwt``, signed with the gate's token key) listing revoked
token ids and active holds, with ``iat`` and ``next_update``.
:class:`RevocationList` is one verified document; :class:`RevocationFetcher`
fetches it, caches it until ``next_update`` and fetches again after. Both
plug into :func:`~release_gate_client.verify_token` as ``revocations=``::

    with JWKSFetcher(gate + "/.well-known/jwks.json") as jwks, \\
         RevocationFetcher(gate + "/v1/revocations", jwks=jwks, issuer="release-gate",
                           api_key=KEY) as revocations:
        claims = verify_token(token, jwks=jwks, issuer="release-gate", audience=lane,
                              packet_digest=digest, revocations=revocations)

Fail closed: a list past its ``next_update`` (plus leeway) is never used; if
no fresh list can be fetched the check raises
:class:`~release_gate_client.GateUnavailable`, never "not revoked".
A token is revoked when its ``jti`` is listed, or when an active hold names
its packet revision (``sub``) in its lane (``aud``) or in every lane.

No rollback: a fetched list older than the one held (an earlier ``iat``, or
the same ``iat`` and an earlier audit-chain position) is refused, as a stale
cache or a replay would un-revoke tokens. The refusal is counted
(:attr:`RevocationFetcher.rollbacks_refused`) and logged, and handled like a
failed fetch: the list held is kept while it is fresh, else
:class:`~release_gate_client.GateUnavailable`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from release_gate_client import _http
from release_gate_client.claims import ApprovalClaims
from release_gate_client.errors import (
    GateUnavailable,
    RevocationListError,
    TokenError,
    TokenRevoked,
)
from release_gate_client.verify import (
    ALGORITHM,
    MAX_LEEWAY,
    KeySource,
    _check_signature,
    _decode_json,
    _key_source,
    _resolve_key,
    _split,
)

__all__ = ["REVOCATIONS_TYPE", "Hold", "RevocationFetcher", "RevocationList", "RevocationSource"]

REVOCATIONS_TYPE = "release-revocations+jwt"

logger = logging.getLogger(__name__)


class RevocationSource(Protocol):
    """Raises :class:`TokenRevoked` when ``claims`` name a revoked token."""

    def check(self, claims: ApprovalClaims, *, now: int) -> None: ...


@dataclass(frozen=True, slots=True)
class Hold:
    hold_id: str
    packet_id: str
    revision: int
    lane: str | None
    reason: str


def _int(value: object, name: str) -> int:
    if type(value) is not int:
        raise RevocationListError(f"claim {name!r} must be an integer")
    return value


def _holds(value: object) -> tuple[Hold, ...]:
    if not isinstance(value, list):
        raise RevocationListError("claim 'holds' must be an array")
    try:
        return tuple(
            Hold(
                h["hold_id"],
                h["packet_id"],
                _int(h["revision"], "revision"),
                h["lane"],
                h["reason"],
            )
            for h in value
        )
    except (KeyError, TypeError) as exc:
        raise RevocationListError(f"a hold entry is malformed: {exc}") from exc


def _revoked(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(
        isinstance(e, dict) and isinstance(e.get("jti"), str) for e in value
    ):
        raise RevocationListError("claim 'revoked' must be an array of {jti, ...}")
    return frozenset(e["jti"] for e in value)


def _reasons(value: object) -> Mapping[str, str]:
    """Why each listed token was revoked, where the entry says (``superseded``, ``hold``,
    ``evidence.changed``, ``policy.changed``); informative, never needed to refuse."""
    entries = value if isinstance(value, list) else []
    return MappingProxyType(
        {
            e["jti"]: e["reason"]
            for e in entries
            if isinstance(e, dict)
            and isinstance(e.get("jti"), str)
            and isinstance(e.get("reason"), str)
        }
    )


@dataclass(frozen=True, slots=True)
class RevocationList:
    """One verified revocation document."""

    issuer: str
    issued_at: int
    next_update: int
    revoked: frozenset[str]
    holds: tuple[Hold, ...]
    chain_head: Mapping[str, Any]
    #: jti -> why it was revoked, as the gate listed it (``evidence.changed``...)
    reasons: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_jws(
        cls,
        document: str,
        *,
        keys: Mapping[str, Ed25519PublicKey] | None = None,
        jwks: KeySource | None = None,
        issuer: str,
    ) -> RevocationList:
        """Verify ``document`` (alg, typ, kid, signature, issuer) and read it."""
        source = _key_source(keys, jwks)
        try:
            header_b64, payload_b64, signature_b64 = _split(document)
            header = _decode_json(header_b64, "header")
            if header.get("alg") != ALGORITHM or "crit" in header:
                raise RevocationListError(f"the revocation list must be signed with {ALGORITHM}")
            if header.get("typ") != REVOCATIONS_TYPE:
                raise RevocationListError(f"typ is not {REVOCATIONS_TYPE!r}")
            key = _resolve_key(header.get("kid"), source)
            _check_signature(key, header_b64, payload_b64, signature_b64)
            claims = _decode_json(payload_b64, "payload")
        except TokenError as exc:
            raise RevocationListError(f"the revocation list does not verify: {exc}") from exc
        if claims.get("iss") != issuer:
            raise RevocationListError("the revocation list has another issuer")
        return cls(
            issuer=issuer,
            issued_at=_int(claims.get("iat"), "iat"),
            next_update=_int(claims.get("next_update"), "next_update"),
            revoked=_revoked(claims.get("revoked")),
            holds=_holds(claims.get("holds")),
            chain_head=dict(claims.get("chain_head") or {}),
            reasons=_reasons(claims.get("revoked")),
        )

    @property
    def chain_seq(self) -> int | None:
        """The audit chain position the list was made at (``chain_head.seq``), if given."""
        seq = self.chain_head.get("seq")
        return seq if type(seq) is int else None

    def is_older_than(self, other: RevocationList) -> bool:
        """Was this list made before ``other``: an earlier ``iat``, or the same ``iat`` and
        an earlier chain position? The chain orders lists made within one second."""
        if self.issued_at != other.issued_at:
            return self.issued_at < other.issued_at
        mine, theirs = self.chain_seq, other.chain_seq
        return mine is not None and theirs is not None and mine < theirs

    def is_fresh(self, *, now: int, leeway: int = MAX_LEEWAY) -> bool:
        return now < self.next_update + leeway

    def check(self, claims: ApprovalClaims, *, now: int) -> None:
        if not self.is_fresh(now=now):
            raise GateUnavailable(
                f"the revocation list expired at {self.next_update}; fetch a fresh one"
            )
        if claims.jti in self.revoked:
            why = self.reasons.get(claims.jti)
            raise TokenRevoked(f"token {claims.jti} is revoked" + (f" ({why})" if why else ""))
        packet_id, _, revision = claims.sub.rpartition("@")
        for hold in self.holds:
            same_packet = hold.packet_id == packet_id and str(hold.revision) == revision
            if same_packet and hold.lane in (None, claims.aud):
                raise TokenRevoked(f"packet revision {claims.sub} is on hold ({hold.hold_id})")


class RevocationFetcher:
    """Fetches the list from ``url``; refetches once ``next_update`` has passed."""

    def __init__(
        self,
        url: str,
        *,
        keys: Mapping[str, Ed25519PublicKey] | None = None,
        jwks: KeySource | None = None,
        issuer: str,
        api_key: str | None = None,
        client: httpx.Client | None = None,
        timeout: float = 5.0,
    ) -> None:
        self._url = url
        self._keys, self._jwks, self._issuer = keys, jwks, issuer
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout, headers=_http.headers(api_key))
        self._lock = threading.Lock()
        self._current: RevocationList | None = None
        self._rollbacks = 0

    @property
    def rollbacks_refused(self) -> int:
        """How many fetched lists were refused for being older than the list held."""
        return self._rollbacks

    def current(self, *, now: int | None = None) -> RevocationList:
        """A fresh list (cached, or fetched now); :class:`GateUnavailable` if none can be had.

        A fetched list older than the one held is refused as a rollback (counted in
        :attr:`rollbacks_refused`): the held list is kept while fresh, else
        :class:`GateUnavailable`.
        """
        moment = int(time.time()) if now is None else now
        with self._lock:
            cached = self._current
            if cached is None or moment >= cached.next_update:
                try:
                    self._current = cached = self._no_rollback(self._fetch(), cached)
                except GateUnavailable:
                    if cached is None or not cached.is_fresh(now=moment):
                        raise
            return cached

    def _no_rollback(self, fetched: RevocationList, held: RevocationList | None) -> RevocationList:
        if held is None or not fetched.is_older_than(held):
            return fetched
        self._rollbacks += 1
        logger.warning(
            "refused a revocation list from %s older than the one held (iat %d, chain seq %s; "
            "held: iat %d, chain seq %s): a stale cache or a replay",
            self._url,
            fetched.issued_at,
            fetched.chain_seq,
            held.issued_at,
            held.chain_seq,
        )
        raise GateUnavailable(
            f"the revocation list fetched (iat {fetched.issued_at}) is older than the one "
            f"held (iat {held.issued_at}): refused as a rollback"
        )

    def _fetch(self) -> RevocationList:
        try:
            response = self._client.get(self._url, headers={"Accept": "application/jwt"})
        except httpx.HTTPError as exc:
            raise GateUnavailable(f"cannot fetch the revocation list: {exc}") from exc
        # 502-504: GateUnavailable (a fresh cached list is kept); 401, 403, 404...: a
        # configuration error, GateHTTPError with the status and problem, raised as is.
        _http.raise_for_status(response)
        return RevocationList.from_jws(
            response.text.strip(), keys=self._keys, jwks=self._jwks, issuer=self._issuer
        )

    def check(self, claims: ApprovalClaims, *, now: int) -> None:
        self.current(now=now).check(claims, now=now)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> RevocationFetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
