"""``POST /v1/verify``: each attack answers exactly its contract reason code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from release_gate.keys.signing import load_private_key
from release_gate_client.jwk import jwk_thumbprint
from tests.helpers import LANE, post_json, sha256
from tests.service._support import Build, assert_problem, evaluate, post_raw

DIGEST = sha256("packet revision 3")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _segment(value: Any) -> str:
    return _b64(json.dumps(value).encode())


def jws(header: Any, payload: Any, key: Ed25519PrivateKey) -> str:
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    return f"{signing_input}.{_b64(key.sign(signing_input.encode()))}"


def claims_of(token: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(_unb64(token.split(".")[1]))
    return value


def header_of(token: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(_unb64(token.split(".")[0]))
    return value


def verify(
    client: TestClient, token: str, *, lane: str = LANE, digest: str = DIGEST
) -> dict[str, Any]:
    response = post_json(
        client, "/v1/verify", {"token": token, "lane": lane, "packet_digest": digest}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"valid", "reason", "claims"}
    return body


def reason(client: TestClient, token: str, **kwargs: str) -> str | None:
    body = verify(client, token, **kwargs)
    if body["valid"]:
        assert body["reason"] is None
        assert isinstance(body["claims"], dict)
    else:
        assert body["claims"] is None
    found: str | None = body["reason"]
    return found


@pytest.fixture
def gate_key(signing_key_file: Path) -> Ed25519PrivateKey:
    return load_private_key(signing_key_file).private_key


@pytest.fixture
def token(client: TestClient, build: Build) -> str:
    value: str = evaluate(client, build())["token"]
    return value


@pytest.fixture
def header(token: str) -> dict[str, Any]:
    return header_of(token)


def fresh_claims(token: str, **changes: Any) -> dict[str, Any]:
    """The token's claims, re-timed to the wall clock, with ``changes`` applied."""
    now = int(time.time())
    claims = {**claims_of(token), "iat": now, "nbf": now, "exp": now + 900}
    claims.update(changes)
    return claims


class TestVerifyAccepts:
    def test_fresh_token_is_valid_with_its_claims(self, client: TestClient, token: str) -> None:
        body = verify(client, token)
        assert body["valid"] is True
        assert body["reason"] is None
        assert body["claims"] == claims_of(token)

    def test_token_re_signed_by_the_gate_key_is_valid(
        self, client: TestClient, token: str, header: dict[str, Any], gate_key: Ed25519PrivateKey
    ) -> None:
        assert reason(client, jws(header, fresh_claims(token), gate_key)) is None


class TestVerifyRefusesClaims:
    def test_wrong_lane_is_wrong_audience(self, client: TestClient, token: str) -> None:
        assert reason(client, token, lane="another-lane") == "token.wrong_audience"

    def test_other_packet_digest_is_digest_mismatch(self, client: TestClient, token: str) -> None:
        assert reason(client, token, digest=sha256("other packet")) == "token.digest_mismatch"

    def test_wrong_issuer(
        self, client: TestClient, token: str, header: dict[str, Any], gate_key: Ed25519PrivateKey
    ) -> None:
        forged = jws(header, fresh_claims(token, iss="someone-else"), gate_key)
        assert reason(client, forged) == "token.wrong_issuer"

    @pytest.mark.parametrize(
        ("exp_offset", "expected"),
        [(-61, "token.expired"), (-60, "token.expired"), (-55, None), (900, None)],
        ids=["past-leeway", "at-leeway", "inside-leeway", "fresh"],
    )
    def test_expiry_with_60s_leeway(
        self,
        client: TestClient,
        token: str,
        header: dict[str, Any],
        gate_key: Ed25519PrivateKey,
        exp_offset: int,
        expected: str | None,
    ) -> None:
        now = int(time.time())
        claims = fresh_claims(token, iat=now - 1000, nbf=now - 1000, exp=now + exp_offset)
        assert reason(client, jws(header, claims, gate_key)) == expected

    @pytest.mark.parametrize(
        ("nbf_offset", "expected"),
        [(3600, "token.not_yet_valid"), (70, "token.not_yet_valid"), (50, None)],
        ids=["hour-ahead", "past-leeway", "inside-leeway"],
    )
    def test_not_before_with_60s_leeway(
        self,
        client: TestClient,
        token: str,
        header: dict[str, Any],
        gate_key: Ed25519PrivateKey,
        nbf_offset: int,
        expected: str | None,
    ) -> None:
        now = int(time.time())
        claims = fresh_claims(token, iat=now + nbf_offset, nbf=now + nbf_offset, exp=now + 9000)
        assert reason(client, jws(header, claims, gate_key)) == expected

    @pytest.mark.parametrize(
        "change",
        [
            {"aud": [LANE]},
            {"iat": 1.5},
            {"exp": "9999999999"},
            {"nbf": True},
            {"sub": None},
        ],
        ids=["aud-array", "iat-float", "exp-string", "nbf-bool", "sub-null"],
    )
    def test_claims_of_the_wrong_type_are_malformed(
        self,
        client: TestClient,
        token: str,
        header: dict[str, Any],
        gate_key: Ed25519PrivateKey,
        change: dict[str, Any],
    ) -> None:
        assert reason(client, jws(header, fresh_claims(token, **change), gate_key)) == (
            "token.malformed"
        )

    @pytest.mark.parametrize(
        "claim",
        [
            "iss",
            "aud",
            "sub",
            "iat",
            "nbf",
            "exp",
            "jti",
            "manifest_id",
            "manifest_digest",
            "packet_digest",
            "signers",
            "accepted_objections",
            "scope",
            "policy",
        ],
    )
    def test_missing_claim_is_malformed(
        self,
        client: TestClient,
        token: str,
        header: dict[str, Any],
        gate_key: Ed25519PrivateKey,
        claim: str,
    ) -> None:
        claims = fresh_claims(token)
        del claims[claim]
        assert reason(client, jws(header, claims, gate_key)) == "token.malformed"

    def test_payload_that_is_not_an_object_is_malformed(
        self, client: TestClient, header: dict[str, Any], gate_key: Ed25519PrivateKey
    ) -> None:
        assert reason(client, jws(header, ["not", "claims"], gate_key)) == "token.malformed"


class TestVerifyRefusesForgeries:
    def test_claims_re_signed_with_another_key_under_the_gate_kid(
        self, client: TestClient, token: str, header: dict[str, Any]
    ) -> None:
        forged = jws(
            header, fresh_claims(token, aud="customer-sends"), Ed25519PrivateKey.generate()
        )
        assert reason(client, forged, lane="customer-sends") == "token.bad_signature"

    def test_claims_signed_with_another_key_and_its_own_kid(
        self, client: TestClient, token: str, header: dict[str, Any]
    ) -> None:
        attacker = Ed25519PrivateKey.generate()
        forged_header = {**header, "kid": jwk_thumbprint(attacker.public_key())}
        assert reason(client, jws(forged_header, fresh_claims(token), attacker)) == (
            "token.unknown_kid"
        )

    def test_payload_swapped_under_an_old_signature(self, client: TestClient, token: str) -> None:
        head, _, signature = token.split(".")
        swapped = _segment(claims_of(token) | {"packet_digest": sha256("other packet")})
        assert reason(client, f"{head}.{swapped}.{signature}", digest=sha256("other packet")) == (
            "token.bad_signature"
        )

    def test_signature_from_another_token_is_refused(
        self, client: TestClient, build: Build, token: str
    ) -> None:
        other: str = evaluate(client, build())["token"]
        head, payload, _ = token.split(".")
        assert reason(client, f"{head}.{payload}.{other.split('.')[2]}") == "token.bad_signature"

    def test_alg_none_is_bad_signature(
        self, client: TestClient, token: str, header: dict[str, Any]
    ) -> None:
        for alg in ("none", "None", "NONE"):
            unsigned = f"{_segment({**header, 'alg': alg})}.{_segment(fresh_claims(token))}."
            assert reason(client, unsigned) == "token.bad_signature"

    def test_hs256_with_the_public_key_as_secret_is_bad_signature(
        self, client: TestClient, token: str, header: dict[str, Any], gate_key: Ed25519PrivateKey
    ) -> None:
        public = gate_key.public_key()
        jwks = client.get("/.well-known/jwks.json").json()
        secrets = [
            public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
            public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            jwks["keys"][0]["x"].encode(),
            json.dumps(jwks["keys"][0]).encode(),
        ]
        signing_input = f"{_segment({**header, 'alg': 'HS256'})}.{_segment(fresh_claims(token))}"
        for secret in secrets:
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            assert reason(client, f"{signing_input}.{_b64(mac)}") == "token.bad_signature"

    @pytest.mark.parametrize("alg", ["ES256", "RS256", "Ed25519", "eddsa", None])
    def test_any_other_alg_is_bad_signature(
        self,
        client: TestClient,
        token: str,
        header: dict[str, Any],
        gate_key: Ed25519PrivateKey,
        alg: str | None,
    ) -> None:
        assert reason(client, jws({**header, "alg": alg}, fresh_claims(token), gate_key)) == (
            "token.bad_signature"
        )

    def test_crit_header_is_bad_signature(
        self, client: TestClient, token: str, header: dict[str, Any], gate_key: Ed25519PrivateKey
    ) -> None:
        crit = {**header, "crit": ["exp"]}
        assert reason(client, jws(crit, fresh_claims(token), gate_key)) == "token.bad_signature"

    @pytest.mark.parametrize("typ", ["JWT", "release-approval+JWT", "at+jwt", None])
    def test_wrong_typ_is_wrong_type(
        self,
        client: TestClient,
        token: str,
        header: dict[str, Any],
        gate_key: Ed25519PrivateKey,
        typ: str | None,
    ) -> None:
        changed = {**header, "typ": typ} if typ else {"alg": "EdDSA", "kid": header["kid"]}
        assert reason(client, jws(changed, fresh_claims(token), gate_key)) == "token.wrong_type"

    @pytest.mark.parametrize("kid", ["unknown-kid", "", 42, None])
    def test_unknown_kid(
        self,
        client: TestClient,
        token: str,
        header: dict[str, Any],
        gate_key: Ed25519PrivateKey,
        kid: Any,
    ) -> None:
        changed = {**header, "kid": kid} if kid is not None else {**header}
        if kid is None:
            del changed["kid"]
        assert reason(client, jws(changed, fresh_claims(token), gate_key)) == "token.unknown_kid"


class TestVerifyMalformed:
    @pytest.mark.parametrize(
        "make",
        [
            lambda t: ".".join(t.split(".")[:2]),
            lambda t: t + ".extra",
            lambda _: "",
            lambda _: "not-a-token",
            lambda t: _b64(b"{not json") + "." + t.split(".", 1)[1],
            lambda t: _segment(["EdDSA"]) + "." + t.split(".", 1)[1],
            lambda t: _segment("EdDSA") + "." + t.split(".", 1)[1],
            lambda t: "!!!." + t.split(".", 1)[1],
            lambda t: _b64(b"\xff\xfe") + "." + t.split(".", 1)[1],
        ],
        ids=[
            "two-parts",
            "four-parts",
            "empty",
            "one-part",
            "header-not-json",
            "header-array",
            "header-string",
            "header-not-base64url",
            "header-not-utf8",
        ],
    )
    def test_malformed_tokens(self, client: TestClient, token: str, make: Any) -> None:
        assert reason(client, make(token)) == "token.malformed"


class TestVerifyOrder:
    def test_alg_is_checked_before_typ(
        self, client: TestClient, token: str, header: dict[str, Any], gate_key: Ed25519PrivateKey
    ) -> None:
        bad = {**header, "alg": "HS256", "typ": "JWT"}
        assert reason(client, jws(bad, fresh_claims(token), gate_key)) == "token.bad_signature"

    def test_typ_is_checked_before_kid(
        self, client: TestClient, token: str, header: dict[str, Any], gate_key: Ed25519PrivateKey
    ) -> None:
        bad = {**header, "typ": "JWT", "kid": "nope"}
        assert reason(client, jws(bad, fresh_claims(token), gate_key)) == "token.wrong_type"

    def test_kid_is_checked_before_the_signature(
        self, client: TestClient, token: str, header: dict[str, Any]
    ) -> None:
        bad = {**header, "kid": "nope"}
        assert reason(client, jws(bad, fresh_claims(token), Ed25519PrivateKey.generate())) == (
            "token.unknown_kid"
        )

    def test_signature_is_checked_before_the_claims(
        self, client: TestClient, token: str, header: dict[str, Any]
    ) -> None:
        claims = fresh_claims(token, iss="x", exp=1)
        del claims["sub"]
        assert reason(client, jws(header, claims, Ed25519PrivateKey.generate())) == (
            "token.bad_signature"
        )

    def test_claims_shape_is_checked_before_issuer(
        self, client: TestClient, token: str, header: dict[str, Any], gate_key: Ed25519PrivateKey
    ) -> None:
        claims = fresh_claims(token, iss="x")
        del claims["policy"]
        assert reason(client, jws(header, claims, gate_key)) == "token.malformed"

    @pytest.mark.parametrize(
        ("changes", "lane", "expected"),
        [
            ({"iss": "x", "exp": 1}, "other", "token.wrong_issuer"),
            ({"exp": 1}, "other", "token.wrong_audience"),
            ({"exp": 1, "nbf": 2**40}, LANE, "token.expired"),
            ({"nbf": 2**40, "exp": 2**41}, LANE, "token.not_yet_valid"),
        ],
        ids=["issuer-first", "audience-before-expiry", "expiry-before-nbf", "nbf-before-digest"],
    )
    def test_claims_are_checked_in_contract_order(
        self,
        client: TestClient,
        token: str,
        header: dict[str, Any],
        gate_key: Ed25519PrivateKey,
        changes: dict[str, Any],
        lane: str,
        expected: str,
    ) -> None:
        forged = jws(header, fresh_claims(token, **changes), gate_key)
        assert reason(client, forged, lane=lane, digest=sha256("other packet")) == expected


class TestVerifyRequest:
    @pytest.mark.parametrize(
        ("body", "pointer"),
        [
            ({"lane": LANE, "packet_digest": DIGEST}, "/token"),
            ({"token": "a.b.c", "packet_digest": DIGEST}, "/lane"),
            ({"token": "a.b.c", "lane": LANE}, "/packet_digest"),
            ({"token": 42, "lane": LANE, "packet_digest": DIGEST}, "/token"),
            ({"token": "a.b.c", "lane": LANE, "packet_digest": "sha256:XYZ"}, "/packet_digest"),
            ({"token": "a.b.c", "lane": LANE, "packet_digest": DIGEST, "x": 1}, "/x"),
            (["a.b.c", LANE, DIGEST], ""),
        ],
        ids=["no-token", "no-lane", "no-digest", "token-int", "bad-digest", "extra", "array"],
    )
    def test_malformed_body_is_422_with_pointer(
        self, client: TestClient, body: Any, pointer: str
    ) -> None:
        response = post_raw(client, json.dumps(body).encode(), path="/v1/verify")
        assert_problem(response, 422, pointer=pointer)

    @pytest.mark.parametrize(
        "body",
        [
            b'{"token": "a", "token": "b", "lane": "l", "packet_digest": "d"}',
            b"{not json",
            b'\xef\xbb\xbf{"token": "a"}',
            b'{"token": NaN}',
        ],
        ids=["duplicate-key", "not-json", "bom", "nan"],
    )
    def test_body_that_is_not_ijson_is_400(self, client: TestClient, body: bytes) -> None:
        assert_problem(post_raw(client, body, path="/v1/verify"), 400)

    def test_body_that_is_not_json_media_type_is_415(self, client: TestClient) -> None:
        response = post_raw(client, b"{}", path="/v1/verify", content_type="text/plain")
        assert_problem(response, 415)
