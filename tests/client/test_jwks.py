"""JWKSFetcher against a real HTTP server, counting real requests."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from release_gate_client import (
    GateUnavailable,
    JWKSFetcher,
    KeySetError,
    UnknownKid,
    verify_result,
    verify_token,
)
from release_gate_client.jwks import MAX_JWKS_BYTES

from ._support import ISSUER, LANE, NOW, PACKET_DIGEST, FakeClock, FakeGate, Minter, Reply

PATH = "/.well-known/jwks.json"


def serve_keys(gate: FakeGate, *signers: Minter) -> None:
    keys = [key for signer in signers for key in signer.jwks()["keys"]]
    gate.routes[("GET", PATH)] = Reply.json({"keys": keys})


def fetcher(gate: FakeGate, clock: FakeClock, **options: Any) -> JWKSFetcher:
    return JWKSFetcher(gate.url + PATH, clock=clock, **options)


class TestJWKSFetcher:
    def test_fetches_once_and_serves_from_cache(
        self, gate: FakeGate, clock: FakeClock, signer: Minter
    ) -> None:
        serve_keys(gate, signer)
        with fetcher(gate, clock) as jwks:
            for _ in range(20):
                assert jwks.get_key(signer.kid) is not None
                clock.advance(10)
        assert gate.count("GET", PATH) == 1
        assert gate.requests[0].headers["accept"] == "application/json"

    def test_refreshes_when_older_than_max_age(
        self, gate: FakeGate, clock: FakeClock, signer: Minter
    ) -> None:
        serve_keys(gate, signer)
        with fetcher(gate, clock, max_age=300) as jwks:
            jwks.get_key(signer.kid)
            clock.advance(299)
            jwks.get_key(signer.kid)
            assert gate.count("GET", PATH) == 1
            clock.advance(1)
            jwks.get_key(signer.kid)
        assert gate.count("GET", PATH) == 2

    def test_refreshes_once_for_an_unknown_kid_after_rotation(
        self, gate: FakeGate, clock: FakeClock, signer_factory: Callable[[], Minter]
    ) -> None:
        old, new = signer_factory(), signer_factory()
        serve_keys(gate, old)
        with fetcher(gate, clock) as jwks:
            assert jwks.get_key(old.kid) is not None
            clock.advance(31)
            serve_keys(gate, old, new)
            assert jwks.get_key(new.kid) is not None
        assert gate.count("GET", PATH) == 2

    def test_rate_limits_refreshes_for_a_flood_of_random_kids(
        self, gate: FakeGate, clock: FakeClock, signer: Minter
    ) -> None:
        serve_keys(gate, signer)
        with fetcher(gate, clock, min_refresh_interval=30) as jwks:
            for _ in range(200):
                assert jwks.get_key(secrets.token_urlsafe(32)) is None
            assert gate.count("GET", PATH) == 1
            clock.advance(29.9)
            for _ in range(200):
                jwks.get_key(secrets.token_urlsafe(32))
            assert gate.count("GET", PATH) == 1
            clock.advance(0.1)
            for _ in range(200):
                jwks.get_key(secrets.token_urlsafe(32))
        assert gate.count("GET", PATH) == 2

    def test_rate_limits_a_flood_of_forged_tokens_through_verify(
        self, gate: FakeGate, clock: FakeClock, signer: Minter
    ) -> None:
        serve_keys(gate, signer)
        with fetcher(gate, clock) as jwks:
            for _ in range(50):
                token = signer.sign_raw(signer.header(kid=secrets.token_hex(8)), {})
                with pytest.raises(UnknownKid, match="no key with kid"):
                    verify_token(
                        token,
                        jwks=jwks,
                        issuer=ISSUER,
                        audience=LANE,
                        packet_digest=PACKET_DIGEST,
                        now=NOW,
                    )
        assert gate.count("GET", PATH) == 1

    def test_concurrent_unknown_kids_cost_one_request(
        self, gate: FakeGate, clock: FakeClock, signer: Minter
    ) -> None:
        serve_keys(gate, signer)
        with fetcher(gate, clock) as jwks:
            jwks.get_key(signer.kid)
            clock.advance(60)  # refresh allowed and cache stale
            barrier = threading.Barrier(16, timeout=10)
            results: list[bool] = []

            def lookup() -> None:
                barrier.wait()
                results.append(jwks.get_key(secrets.token_hex(8)) is None)

            threads = [threading.Thread(target=lookup) for _ in range(16)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=10)
            assert not any(t.is_alive() for t in threads), "a lookup still waits after 10 s"
        assert results == [True] * 16
        assert gate.count("GET", PATH) == 2

    def test_keeps_the_cached_keys_when_a_refresh_fails(
        self, gate: FakeGate, clock: FakeClock, signer: Minter, caplog: pytest.LogCaptureFixture
    ) -> None:
        serve_keys(gate, signer)
        with fetcher(gate, clock) as jwks:
            jwks.get_key(signer.kid)
            gate.routes[("GET", PATH)] = Reply.json({"title": "down"}, 500)
            clock.advance(301)
            assert jwks.get_key(signer.kid) is not None
            assert "keeping cached keys" in caplog.text
            jwks.get_key(signer.kid)  # failed attempts count against the interval
        assert gate.count("GET", PATH) == 2

    def test_keeps_the_cached_keys_when_the_new_document_is_malformed(
        self, gate: FakeGate, clock: FakeClock, signer: Minter
    ) -> None:
        serve_keys(gate, signer)
        with fetcher(gate, clock) as jwks:
            jwks.get_key(signer.kid)
            gate.routes[("GET", PATH)] = Reply.json({"keys": "nope"})
            clock.advance(301)
            assert jwks.get_key(signer.kid) is not None

    def test_raises_unavailable_without_any_key_set(self, gate: FakeGate, clock: FakeClock) -> None:
        gate.routes[("GET", PATH)] = Reply.json({"title": "down"}, 503)
        with fetcher(gate, clock) as jwks:
            with pytest.raises(GateUnavailable, match="JWKS answered HTTP 503"):
                jwks.get_key("any")
            with pytest.raises(GateUnavailable, match="last attempt: JWKS answered HTTP 503"):
                jwks.get_key("any")  # rate-limited: no second request
            assert gate.count("GET", PATH) == 1

    def test_verify_propagates_unavailable_rather_than_a_verdict(
        self, gate: FakeGate, clock: FakeClock, signer: Minter
    ) -> None:
        gate.routes[("GET", PATH)] = Reply.json({"title": "down"}, 503)
        with fetcher(gate, clock) as jwks, pytest.raises(GateUnavailable, match="no JWKS"):
            verify_result(
                signer.mint(),
                jwks=jwks,
                issuer=ISSUER,
                audience=LANE,
                packet_digest=PACKET_DIGEST,
                now=NOW,
            )

    def test_raises_unavailable_when_the_server_is_unreachable(self, clock: FakeClock) -> None:
        url = unused_local_url()
        with JWKSFetcher(url, clock=clock) as jwks:
            with pytest.raises(GateUnavailable, match="JWKS fetch failed: ConnectError"):
                jwks.keys()

    def test_raises_unavailable_for_a_malformed_first_document(
        self, gate: FakeGate, clock: FakeClock
    ) -> None:
        gate.routes[("GET", PATH)] = Reply(200, b"<html>")
        with fetcher(gate, clock) as jwks:
            with pytest.raises(GateUnavailable, match="JWKS is not JSON"):
                jwks.keys()

    def test_refuses_an_oversized_document(self, gate: FakeGate, clock: FakeClock) -> None:
        gate.routes[("GET", PATH)] = Reply(200, b" " * (MAX_JWKS_BYTES + 1))
        with fetcher(gate, clock) as jwks:
            with pytest.raises(GateUnavailable, match="larger than"):
                jwks.keys()

    def test_uses_a_caller_supplied_client_without_closing_it(
        self, gate: FakeGate, clock: FakeClock, signer: Minter
    ) -> None:
        serve_keys(gate, signer)
        with httpx.Client() as client:
            with JWKSFetcher(gate.url + PATH, client=client, clock=clock) as jwks:
                assert signer.kid in jwks.keys()
            assert not client.is_closed

    @pytest.mark.parametrize("url", ["ftp://example.com/jwks", "/relative/jwks.json"])
    def test_rejects_a_non_http_url(self, url: str) -> None:
        with pytest.raises(ValueError, match="absolute http"):
            JWKSFetcher(url)

    def test_warns_about_plain_http_to_a_remote_host(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        JWKSFetcher("http://gate.example/jwks.json").close()
        assert "plain http" in caplog.text

    @pytest.mark.parametrize(
        ("options", "why"), [({"max_age": 0}, "max_age"), ({"min_refresh_interval": -1}, "max_age")]
    )
    def test_rejects_bad_intervals(self, options: dict[str, Any], why: str) -> None:
        with pytest.raises(ValueError, match=why):
            JWKSFetcher("https://gate.example/jwks.json", **options)


def unused_local_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{PATH}"


class TestStaticJWKS:
    def test_from_document_never_fetches(self, signer: Minter) -> None:
        jwks = JWKSFetcher.from_document(signer.jwks())
        assert jwks.url is None
        assert jwks.get_key(signer.kid) is not None
        assert jwks.get_key("unknown") is None
        jwks.close()

    def test_from_file(self, tmp_path: Path, signer: Minter) -> None:
        path = tmp_path / "jwks.json"
        path.write_text(json.dumps(signer.jwks()))
        assert list(JWKSFetcher.from_file(path).keys()) == [signer.kid]

    def test_from_file_rejects_a_malformed_file(self, tmp_path: Path) -> None:
        path = tmp_path / "jwks.json"
        path.write_text("[]")
        with pytest.raises(KeySetError, match="'keys' array"):
            JWKSFetcher.from_file(path)
