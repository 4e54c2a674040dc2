"""JWK helpers: RFC 7638 thumbprints, public JWKs and JWKS loading."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from release_gate_client import KeySetError, jwk_thumbprint, load_jwk, load_jwks, public_jwk

from ._support import Minter

# RFC 8037, appendix A.2 and A.3.
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def rfc8037_key() -> Ed25519PublicKey:
    return load_jwks({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "a"}]})["a"]


def raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class TestJwkThumbprint:
    def test_matches_the_rfc_8037_example(self) -> None:
        assert jwk_thumbprint(rfc8037_key()) == RFC8037_THUMBPRINT

    def test_is_unpadded_base64url_of_32_bytes(self, signer: Minter) -> None:
        thumbprint = jwk_thumbprint(signer.public_key)
        assert len(thumbprint) == 43
        assert "=" not in thumbprint

    def test_refuses_a_non_ed25519_key(self) -> None:
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        with pytest.raises(TypeError, match="expected an Ed25519PublicKey"):
            jwk_thumbprint(rsa_key)  # type: ignore[arg-type]


class TestPublicJwk:
    def test_has_every_member(self) -> None:
        assert public_jwk(rfc8037_key(), kid=RFC8037_THUMBPRINT) == {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": RFC8037_X,
            "kid": RFC8037_THUMBPRINT,
            "alg": "EdDSA",
            "use": "sig",
        }

    def test_round_trips_through_load_jwks(self, signer: Minter) -> None:
        keys = load_jwks(json.dumps(signer.jwks()))
        assert raw(keys[signer.kid]) == raw(signer.public_key)

    def test_requires_a_kid(self, signer: Minter) -> None:
        with pytest.raises(ValueError, match="kid must be a non-empty string"):
            public_jwk(signer.public_key, kid="")


def ed25519(**members: Any) -> dict[str, Any]:
    return {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "k1", **members}


class TestLoadJwks:
    def test_accepts_text_bytes_and_mappings(self) -> None:
        doc = {"keys": [ed25519()]}
        for form in (doc, json.dumps(doc), json.dumps(doc).encode()):
            assert list(load_jwks(form)) == ["k1"]

    @pytest.mark.parametrize(
        "other",
        [
            {"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa"},
            {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "ec"},
            {"kty": "OKP", "crv": "X25519", "x": RFC8037_X, "kid": "x"},
            {"kty": "OKP", "crv": "Ed448", "x": "AA", "kid": "ed448"},
            ed25519(kid="enc", use="enc"),
            ed25519(kid="other-alg", alg="ES256"),
            ed25519(kid="no-verify", key_ops=["encrypt"]),
            ed25519(kid="bad-ops", key_ops="verify"),
        ],
    )
    def test_skips_keys_it_cannot_use(self, other: dict[str, Any]) -> None:
        assert list(load_jwks({"keys": [other, ed25519()]})) == ["k1"]

    def test_keeps_keys_with_verify_in_key_ops(self) -> None:
        assert list(load_jwks({"keys": [ed25519(key_ops=["verify"])]})) == ["k1"]

    @pytest.mark.parametrize(
        ("doc", "why"),
        [
            ("{", "JWKS is not JSON"),
            (b"\xff", "JWKS is not JSON"),
            ([], "'keys' array"),
            ({}, "'keys' array"),
            ({"keys": {}}, "'keys' array"),
            ({"keys": ["k"]}, "a JWK must be a JSON object"),
        ],
    )
    def test_rejects_a_malformed_document(self, doc: Any, why: str) -> None:
        with pytest.raises(KeySetError, match=why):
            load_jwks(doc)

    @pytest.mark.parametrize(
        ("jwk", "why"),
        [
            (ed25519(x=RFC8037_X + "="), "'x' must be 32 bytes"),
            (ed25519(x=RFC8037_X[:-1]), "'x' must be 32 bytes"),
            (ed25519(x=RFC8037_X[:-1] + "p"), "'x' must be 32 bytes"),  # unused bits set
            (ed25519(x="AAAA"), "'x' must be 32 bytes"),
            (ed25519(x=None), "'x' must be 32 bytes"),
            (ed25519(kid=None), "non-empty string 'kid'"),
            (ed25519(kid=""), "non-empty string 'kid'"),
            (ed25519(d=RFC8037_X), "must not carry private key material"),
        ],
    )
    def test_rejects_a_malformed_ed25519_key(self, jwk: dict[str, Any], why: str) -> None:
        with pytest.raises(KeySetError, match=why):
            load_jwks({"keys": [jwk]})

    def test_rejects_one_kid_for_two_keys(self, signer: Minter) -> None:
        twin = dict(signer.jwks()["keys"][0], x=RFC8037_X)
        with pytest.raises(KeySetError, match="two different keys"):
            load_jwks({"keys": [*signer.jwks()["keys"], twin]})

    def test_tolerates_a_repeated_identical_key(self, signer: Minter) -> None:
        assert list(load_jwks({"keys": signer.jwks()["keys"] * 2})) == [signer.kid]

    def test_load_jwk_returns_none_for_other_keys(self) -> None:
        assert load_jwk({"kty": "RSA"}) is None
