"""RevocationFetcher over real HTTP: what each answer of the list endpoint raises."""

from __future__ import annotations

import pytest

from release_gate_client import (
    ClientError,
    GateHTTPError,
    GateUnavailable,
    Hold,
    RevocationFetcher,
    RevocationListError,
)

from ._support import FakeGate, Minter, Reply

PATH = "/v1/revocations"


def _fetcher(gate: FakeGate, signer: Minter) -> RevocationFetcher:
    return RevocationFetcher(
        gate.url + PATH, keys={signer.kid: signer.public_key}, issuer="release-gate"
    )


class TestRevocationFetcher:
    @pytest.mark.parametrize("status", [401, 403, 404])
    def test_a_configuration_error_is_an_http_error_not_an_outage(
        self, gate: FakeGate, signer: Minter, status: int
    ) -> None:
        """A wrong API key, role or URL must not read as "the gate is down, retry"."""
        problem = {"title": "Forbidden", "status": status, "detail": "no verifier role"}
        gate.routes[("GET", PATH)] = Reply.json(problem, status, "application/problem+json")
        with _fetcher(gate, signer) as fetcher, pytest.raises(GateHTTPError) as caught:
            fetcher.current(now=1_800_000_000)
        assert caught.value.status == status
        assert caught.value.problem is not None
        assert caught.value.problem.detail == "no verifier role"

    @pytest.mark.parametrize("status", [502, 503, 504])
    def test_a_gateway_status_is_unavailable(
        self, gate: FakeGate, signer: Minter, status: int
    ) -> None:
        gate.routes[("GET", PATH)] = Reply.json({"status": status}, status)
        with _fetcher(gate, signer) as fetcher, pytest.raises(GateUnavailable) as caught:
            fetcher.current(now=1_800_000_000)
        assert caught.value.status == status

    def test_a_list_that_does_not_verify_is_a_client_error(
        self, gate: FakeGate, signer: Minter
    ) -> None:
        """Code that refuses on ClientError refuses on a forged list too."""
        forged = signer.sign_raw(
            {"alg": "EdDSA", "typ": "release-revocations+jwt", "kid": signer.kid},
            {"iss": "someone-else", "iat": 1_800_000_000, "next_update": 1_800_000_060},
        )
        gate.routes[("GET", PATH)] = Reply(200, forged.encode(), "application/jwt")
        with _fetcher(gate, signer) as fetcher, pytest.raises(RevocationListError) as caught:
            fetcher.current(now=1_800_000_000)
        assert isinstance(caught.value, ClientError)

    def test_hold_is_part_of_the_public_api(self) -> None:
        assert Hold.__module__ == "release_gate_client.revocations"
