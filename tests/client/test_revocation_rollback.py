"""Issue 14: a rolled-back revocation list is refused, counted and logged.

Reported: ``RevocationFetcher.current()`` replaced its list with whatever it
fetched, so a stale cache or a replayed older (validly signed) list un-revoked
tokens until its ``next_update``. Now a list older than the one held (earlier
``iat``, or the same ``iat`` and an earlier chain position) is refused like a
failed fetch: the held list is kept while fresh, else ``GateUnavailable``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from release_gate_client import (
    ApprovalClaims,
    GateUnavailable,
    RevocationFetcher,
    RevocationList,
    TokenRevoked,
)

from ._support import ISSUER, NOW, FakeGate, Minter, Recorded, Reply, base_claims

PATH = "/v1/revocations"
TTL = 60
REVOKED_JTI = base_claims()["jti"]


def _list(signer: Minter, *, iat: int, revoked: list[str], seq: int | None = None) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "iat": iat,
        "next_update": iat + TTL,
        "revoked": [{"jti": jti} for jti in revoked],
        "holds": [],
        "chain_head": {"seq": iat if seq is None else seq, "hash": "ab" * 32},
    }
    header = {"alg": "EdDSA", "typ": "release-revocations+jwt", "kid": signer.kid}
    return signer.sign_raw(header, claims)


def _serve(gate: FakeGate, documents: list[str]) -> None:
    """Answer each fetch with the next document (the last one repeats)."""
    queue = list(documents)

    def reply(_request: Recorded) -> Reply:
        document = queue.pop(0) if len(queue) > 1 else queue[0]
        return Reply(200, document.encode(), "application/jwt")

    gate.routes[("GET", PATH)] = reply


@pytest.fixture
def fetcher(gate: FakeGate, signer: Minter) -> Iterator[RevocationFetcher]:
    with RevocationFetcher(
        gate.url + PATH, keys={signer.kid: signer.public_key}, issuer=ISSUER
    ) as revocations:
        yield revocations


def _claims() -> ApprovalClaims:
    return ApprovalClaims.from_payload(base_claims())


class TestRollback:
    def test_an_older_list_after_a_newer_one_keeps_the_token_revoked(
        self,
        gate: FakeGate,
        signer: Minter,
        fetcher: RevocationFetcher,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        newer = _list(signer, iat=NOW, revoked=[REVOKED_JTI])
        older = _list(signer, iat=NOW - 30, revoked=[])  # validly signed, before the revocation
        _serve(gate, [newer, older])
        with pytest.raises(TokenRevoked):
            fetcher.check(_claims(), now=NOW)
        later = NOW + TTL + 10  # past next_update, within the 60 s leeway: refetch
        with caplog.at_level(logging.WARNING, logger="release_gate_client.revocations"):
            with pytest.raises(TokenRevoked):
                fetcher.check(_claims(), now=later)
        assert gate.count("GET", PATH) == 2
        assert fetcher.rollbacks_refused == 1
        assert fetcher.current(now=later).issued_at == NOW
        assert any("older than the one held" in r.getMessage() for r in caplog.records)

    def test_once_the_held_list_expires_a_rollback_is_unavailable_never_valid(
        self, gate: FakeGate, signer: Minter, fetcher: RevocationFetcher
    ) -> None:
        _serve(
            gate,
            [_list(signer, iat=NOW, revoked=[REVOKED_JTI]), _list(signer, iat=NOW - 1, revoked=[])],
        )
        fetcher.current(now=NOW)
        expired = NOW + TTL + 61
        with pytest.raises(GateUnavailable, match="refused as a rollback"):
            fetcher.check(_claims(), now=expired)
        with pytest.raises(GateUnavailable, match="refused as a rollback"):
            fetcher.check(_claims(), now=expired + 1)
        assert fetcher.rollbacks_refused == 2

    def test_the_same_second_and_an_earlier_chain_position_is_a_rollback(
        self, gate: FakeGate, signer: Minter, fetcher: RevocationFetcher
    ) -> None:
        """Two lists made within one second: the audit chain orders them."""
        newer = _list(signer, iat=NOW, seq=8, revoked=[REVOKED_JTI])
        _serve(gate, [newer, _list(signer, iat=NOW, seq=7, revoked=[])])
        fetcher.current(now=NOW)
        with pytest.raises(TokenRevoked):
            fetcher.check(_claims(), now=NOW + TTL)
        assert fetcher.rollbacks_refused == 1

    def test_newer_and_identical_lists_are_taken(
        self, gate: FakeGate, signer: Minter, fetcher: RevocationFetcher
    ) -> None:
        same = _list(signer, iat=NOW, seq=8, revoked=[REVOKED_JTI])
        lifted = _list(signer, iat=NOW + TTL, seq=9, revoked=[])  # e.g. the token expired
        _serve(gate, [same, same, lifted])
        assert fetcher.current(now=NOW).issued_at == NOW
        assert fetcher.current(now=NOW + TTL).issued_at == NOW  # the same list again
        assert fetcher.current(now=NOW + 2 * TTL).issued_at == NOW + TTL
        fetcher.check(_claims(), now=NOW + 2 * TTL)
        assert fetcher.rollbacks_refused == 0


class TestOrder:
    def _read(self, signer: Minter, **kwargs: Any) -> RevocationList:
        return RevocationList.from_jws(
            _list(signer, revoked=[], **kwargs), keys={signer.kid: signer.public_key}, issuer=ISSUER
        )

    def test_iat_first_then_the_chain_position(self, signer: Minter) -> None:
        base = self._read(signer, iat=NOW, seq=10)
        assert self._read(signer, iat=NOW - 1, seq=99).is_older_than(base)
        assert not self._read(signer, iat=NOW + 1, seq=1).is_older_than(base)
        assert self._read(signer, iat=NOW, seq=9).is_older_than(base)
        assert not self._read(signer, iat=NOW, seq=10).is_older_than(base)
        assert not base.is_older_than(base)
