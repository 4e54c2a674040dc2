"""verify_token: the contract's order, one reason per failure, with real crypto."""

from __future__ import annotations

import base64
import json
import string
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from release_gate_client import (
    ApprovalClaims,
    BadSignature,
    DigestMismatch,
    JWKSFetcher,
    MalformedToken,
    PolicyRef,
    Scope,
    Signer,
    TokenExpired,
    TokenNotYetValid,
    UnknownKid,
    VerifyResult,
    WrongAudience,
    WrongIssuer,
    WrongType,
    verify_result,
    verify_token,
)
from release_gate_client.b64url import b64url_encode

from ._support import (
    ISSUER,
    LANE,
    NOW,
    PACKET_DIGEST,
    TYP,
    Minter,
    base_claims,
    hmac_token,
    segment,
)


def check(token: str, signer: Minter, **overrides: Any) -> ApprovalClaims:
    arguments: dict[str, Any] = {
        "keys": {signer.kid: signer.public_key},
        "issuer": ISSUER,
        "audience": LANE,
        "packet_digest": PACKET_DIGEST,
        "now": NOW,
    }
    arguments.update(overrides)
    return verify_token(token, **arguments)


class TestVerifyToken:
    def test_accepts_a_token_minted_by_pyjwt(self, signer: Minter) -> None:
        claims = check(signer.mint(), signer)
        assert claims.sub == "pkt-42@3"
        assert claims.aud == LANE
        assert claims.exp == NOW + 900
        assert claims.signers[0] == Signer("ana@example.com", "support_release_owner")
        assert claims.scope == Scope(audience=("exec",), actions=("publish_summary",))
        assert claims.policy == PolicyRef(revision="2026.11.1", digest="sha256:" + "ef" * 32)
        assert claims.accepted_objections == ("obj-1",)
        assert claims.raw["jti"] == claims.jti

    def test_accepts_a_token_through_a_static_jwks(self, signer: Minter) -> None:
        claims = check(
            signer.mint(), signer, keys=None, jwks=JWKSFetcher.from_document(signer.jwks())
        )
        assert claims.manifest_id == "rel-2026-11-26-001"

    def test_uses_the_system_clock_by_default(self, signer: Minter) -> None:
        with pytest.raises(TokenExpired, match="expired at 1000"):
            check(signer.mint(iat=0, nbf=0, exp=1000), signer, now=None)

    # -- step 1: token.malformed ---------------------------------------------

    @pytest.mark.parametrize(
        "token",
        [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "a.b.c.d.e",
        ],
    )
    def test_refuses_a_token_without_three_parts(self, signer: Minter, token: str) -> None:
        with pytest.raises(MalformedToken, match="3 parts"):
            check(token, signer)

    @pytest.mark.parametrize(
        ("header_segment", "why"),
        [
            ("", "not base64url"),
            ("e30=", "not base64url"),  # padded
            ("e30+", "not base64url"),  # standard alphabet
            ("eyJ", "not base64url"),  # truncated JSON
            ("e31", "non-canonical"),  # unused bits set
            (b64url_encode(b"\xff\xfe{}"), "not base64url UTF-8 JSON"),
            (segment("not json"), "not base64url UTF-8 JSON"),
            (segment('{"alg":"EdDSA","alg":"none"}'), "duplicate member"),
            (segment('{"alg":NaN}'), "NaN is not JSON"),
            (segment([1, 2]), "not a JSON object"),
            (segment("null"), "not a JSON object"),
        ],
    )
    def test_refuses_a_header_that_is_not_a_json_object(
        self, signer: Minter, header_segment: str, why: str
    ) -> None:
        payload, signature = signer.mint().split(".")[1:]
        with pytest.raises(MalformedToken, match=why):
            check(f"{header_segment}.{payload}.{signature}", signer)

    def test_refuses_a_non_string_token(self, signer: Minter) -> None:
        with pytest.raises(MalformedToken, match="a token is a string"):
            check(signer.mint().encode(), signer)  # type: ignore[arg-type]

    # -- step 2: alg and crit -> token.bad_signature -------------------------

    def test_refuses_alg_none_even_with_an_unknown_kid(self, signer: Minter) -> None:
        token = f"{segment({'alg': 'none', 'typ': TYP, 'kid': 'nope'})}.{segment(base_claims())}."
        with pytest.raises(BadSignature, match="alg 'none' is refused"):
            check(token, signer)

    @pytest.mark.parametrize("secret_form", ["raw", "pem", "jwk_x"])
    def test_refuses_hs256_signed_with_the_public_key(
        self, signer: Minter, secret_form: str
    ) -> None:
        raw = signer.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        secret = {
            "raw": raw,
            "pem": signer.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
            "jwk_x": b64url_encode(raw).encode(),
        }[secret_form]
        token = hmac_token(signer.header(alg="HS256"), base_claims(), secret)
        with pytest.raises(BadSignature, match="alg 'HS256' is refused"):
            check(token, signer)

    def test_refuses_rs256(self, signer: Minter) -> None:
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = jwt.encode(
            base_claims(), rsa_key, algorithm="RS256", headers={"typ": TYP, "kid": signer.kid}
        )
        with pytest.raises(BadSignature, match="alg 'RS256' is refused"):
            check(token, signer)

    @pytest.mark.parametrize("alg", ["Ed25519", "eddsa", "ES256", None, ["EdDSA"]])
    def test_refuses_every_other_alg(self, signer: Minter, alg: Any) -> None:
        token = signer.sign_raw(signer.header(alg=alg), base_claims())
        with pytest.raises(BadSignature, match="is refused; only EdDSA"):
            check(token, signer)

    def test_refuses_a_missing_alg(self, signer: Minter) -> None:
        token = signer.sign_raw({"typ": TYP, "kid": signer.kid}, base_claims())
        with pytest.raises(BadSignature, match="alg None is refused"):
            check(token, signer)

    @pytest.mark.parametrize("crit", [["exp"], [], ["b64"], "b64"])
    def test_refuses_a_crit_header_even_when_validly_signed(
        self, signer: Minter, crit: Any
    ) -> None:
        token = signer.sign_raw(signer.header(crit=crit, b64=True), base_claims())
        with pytest.raises(BadSignature, match="'crit' header is never understood"):
            check(token, signer)

    def test_checks_crit_before_typ(self, signer: Minter) -> None:
        token = signer.sign_raw(signer.header(crit=["x"], typ="JWT"), base_claims())
        with pytest.raises(BadSignature, match="crit"):
            check(token, signer)

    # -- step 3: token.wrong_type --------------------------------------------

    @pytest.mark.parametrize(
        "typ", ["JWT", "application/release-approval+jwt", "Release-Approval+JWT", None, 1]
    )
    def test_refuses_another_typ(self, signer: Minter, typ: Any) -> None:
        header = signer.header(typ=typ) if typ is not None else {"alg": "EdDSA", "kid": signer.kid}
        with pytest.raises(WrongType, match="is not 'release-approval\\+jwt'"):
            check(signer.sign_raw(header, base_claims()), signer)

    def test_checks_typ_before_kid_and_signature(self, signer: Minter) -> None:
        token = f"{segment(signer.header(typ='JWT', kid='unknown'))}.{segment(base_claims())}.AAAA"
        with pytest.raises(WrongType, match="'JWT'"):
            check(token, signer)

    # -- step 4: token.unknown_kid -------------------------------------------

    def test_refuses_a_kid_not_in_the_key_set(self, signer: Minter, signer_factory: Any) -> None:
        other = signer_factory()
        with pytest.raises(UnknownKid, match="no key with kid"):
            check(other.mint(), signer)

    @pytest.mark.parametrize("kid", [None, 7, ["x"]])
    def test_refuses_a_missing_or_non_string_kid(self, signer: Minter, kid: Any) -> None:
        header = {"alg": "EdDSA", "typ": TYP} | ({} if kid is None else {"kid": kid})
        with pytest.raises(UnknownKid, match="no string 'kid'"):
            check(signer.sign_raw(header, base_claims()), signer)

    def test_checks_kid_before_signature(self, signer: Minter) -> None:
        token = f"{segment(signer.header(kid='unknown'))}.{segment(base_claims())}.AAAA"
        with pytest.raises(UnknownKid, match="'unknown'"):
            check(token, signer)

    # -- step 5: the signature -----------------------------------------------

    def test_refuses_forged_claims_under_an_old_signature(self, signer: Minter) -> None:
        header, _, signature = signer.mint().split(".")
        forged = segment(base_claims(aud="customer-send"))
        with pytest.raises(BadSignature, match="does not verify"):
            check(f"{header}.{forged}.{signature}", signer, audience="customer-send")

    def test_refuses_a_payload_swapped_between_tokens(self, signer: Minter) -> None:
        first = signer.mint().split(".")
        second = signer.mint(sub="pkt-42@4", exp=NOW + 60).split(".")
        with pytest.raises(BadSignature, match="does not verify"):
            check(f"{first[0]}.{second[1]}.{first[2]}", signer)

    def test_refuses_a_signature_by_another_key_under_a_known_kid(
        self, signer: Minter, signer_factory: Any
    ) -> None:
        impostor = signer_factory()
        token = impostor.sign_raw(signer.header(), base_claims())
        with pytest.raises(BadSignature, match="does not verify"):
            check(token, signer)

    @pytest.mark.parametrize(
        "signature",
        ["", "AAAA", "not*base64", b64url_encode(b"\0" * 64), b64url_encode(b"\0" * 65)],
    )
    def test_refuses_a_broken_signature_segment(self, signer: Minter, signature: str) -> None:
        header, payload, _ = signer.mint().split(".")
        with pytest.raises(BadSignature, match="does not verify"):
            check(f"{header}.{payload}.{signature}", signer)

    def test_refuses_a_non_canonical_signature_encoding(self, signer: Minter) -> None:
        header, payload, signature = signer.mint().split(".")
        alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
        # 64 bytes leave 4 unused bits in the last character; set the lowest one.
        twin = signature[:-1] + alphabet[alphabet.index(signature[-1]) + 1]
        assert base64.urlsafe_b64decode(twin + "==") == base64.urlsafe_b64decode(signature + "==")
        with pytest.raises(BadSignature, match="does not verify"):
            check(f"{header}.{payload}.{twin}", signer)

    def test_checks_the_signature_before_the_claims(self, signer: Minter) -> None:
        header, _, signature = signer.mint().split(".")
        with pytest.raises(BadSignature, match="does not verify"):
            check(f"{header}.{segment('not json')}.{signature}", signer)

    # -- step 6: claims shape -> token.malformed -----------------------------

    @pytest.mark.parametrize(
        ("payload", "why"),
        [
            ("not json", "payload is not base64url UTF-8 JSON"),
            ([1], "payload is not a JSON object"),
            ('{"iss":"release-gate","iss":"x"}', "duplicate member 'iss'"),
        ],
    )
    def test_refuses_a_payload_that_is_not_a_json_object(
        self, signer: Minter, payload: Any, why: str
    ) -> None:
        with pytest.raises(MalformedToken, match=why):
            check(signer.sign_raw(signer.header(), payload), signer)

    @pytest.mark.parametrize("claim", list(base_claims()))
    def test_refuses_a_missing_claim(self, signer: Minter, claim: str) -> None:
        claims = base_claims()
        del claims[claim]
        with pytest.raises(MalformedToken, match=f"missing claims: {claim}"):
            check(signer.sign_raw(signer.header(), claims), signer)

    @pytest.mark.parametrize(
        ("claim", "value", "why"),
        [
            ("exp", "1800000900", "'exp' must be an integer"),
            ("exp", 1800000900.0, "'exp' must be an integer"),
            ("exp", None, "'exp' must be an integer"),
            ("iat", True, "'iat' must be an integer"),
            ("nbf", False, "'nbf' must be an integer"),
            ("aud", ["exec-review"], "'aud' must be a string"),
            ("aud", None, "'aud' must be a string"),
            ("iss", 1, "'iss' must be a string"),
            ("packet_digest", None, "'packet_digest' must be a string"),
            ("signers", {}, "'signers' must be an array"),
            ("signers", ["ana"], "'signers' must be an object"),
            ("signers", [{"subject": "ana"}], "'signers.role' must be a string"),
            ("accepted_objections", "obj-1", "'accepted_objections' must be an array"),
            ("accepted_objections", [1], "'accepted_objections' must be a string"),
            ("scope", [], "'scope' must be an object"),
            ("scope", {"audience": ["x"]}, "'scope.actions' must be an array"),
            ("policy", {"revision": 3, "digest": "d"}, "'policy.revision' must be a string"),
            ("policy", {"revision": None}, "'policy.digest' must be a string"),
        ],
    )
    def test_refuses_a_claim_of_the_wrong_type(
        self, signer: Minter, claim: str, value: Any, why: str
    ) -> None:
        token = signer.sign_raw(signer.header(), base_claims(**{claim: value}))
        with pytest.raises(MalformedToken, match=why):
            check(token, signer)

    def test_checks_claim_types_before_the_issuer(self, signer: Minter) -> None:
        token = signer.sign_raw(signer.header(), base_claims(iss="evil", exp=1.5))
        with pytest.raises(MalformedToken, match="'exp' must be an integer"):
            check(token, signer)

    def test_accepts_unknown_claims_and_a_null_policy_revision(self, signer: Minter) -> None:
        token = signer.mint(extra="kept", policy={"revision": None, "digest": "sha256:00"})
        claims = check(token, signer)
        assert claims.raw["extra"] == "kept"
        assert claims.policy.revision is None

    # -- step 7: claim values ------------------------------------------------

    def test_refuses_the_wrong_issuer(self, signer: Minter) -> None:
        with pytest.raises(WrongIssuer, match="issuer 'someone-else'"):
            check(signer.mint(iss="someone-else", aud="other-lane", exp=0), signer)

    def test_refuses_the_wrong_audience_before_expiry(self, signer: Minter) -> None:
        with pytest.raises(WrongAudience, match="audience 'other-lane'"):
            check(signer.mint(aud="other-lane", exp=0), signer)

    @pytest.mark.parametrize(("leeway", "offset"), [(60, 60), (60, 61), (0, 0), (30, 30)])
    def test_refuses_a_token_at_or_past_exp_plus_leeway(
        self, signer: Minter, leeway: int, offset: int
    ) -> None:
        with pytest.raises(TokenExpired, match=f"expired at {NOW + 900}"):
            check(signer.mint(), signer, now=NOW + 900 + offset, leeway=leeway)

    @pytest.mark.parametrize(("leeway", "offset"), [(60, 59), (0, -1), (30, 29)])
    def test_accepts_a_token_just_inside_exp_plus_leeway(
        self, signer: Minter, leeway: int, offset: int
    ) -> None:
        assert check(signer.mint(), signer, now=NOW + 900 + offset, leeway=leeway).exp == NOW + 900

    def test_refuses_expiry_before_nbf(self, signer: Minter) -> None:
        token = signer.mint(nbf=NOW + 10_000, exp=NOW - 100)
        with pytest.raises(TokenExpired, match="expired"):
            check(token, signer)

    @pytest.mark.parametrize(("leeway", "ahead"), [(60, 61), (0, 1), (60, 3600)])
    def test_refuses_a_token_not_yet_valid(self, signer: Minter, leeway: int, ahead: int) -> None:
        token = signer.mint(iat=NOW + ahead, nbf=NOW + ahead, exp=NOW + ahead + 900)
        with pytest.raises(TokenNotYetValid, match=f"not valid before {NOW + ahead}"):
            check(token, signer, leeway=leeway)

    @pytest.mark.parametrize(("leeway", "ahead"), [(60, 60), (0, 0)])
    def test_accepts_nbf_within_leeway(self, signer: Minter, leeway: int, ahead: int) -> None:
        token = signer.mint(iat=NOW + ahead, nbf=NOW + ahead, exp=NOW + ahead + 900)
        assert check(token, signer, leeway=leeway).nbf == NOW + ahead

    def test_refuses_a_digest_mismatch(self, signer: Minter) -> None:
        with pytest.raises(DigestMismatch, match="different packet digest"):
            check(signer.mint(), signer, packet_digest="sha256:" + "00" * 32)

    # -- arguments -----------------------------------------------------------

    @pytest.mark.parametrize("leeway", [-1, 61, 3600, 1.5, True])
    def test_rejects_a_leeway_outside_0_to_60(self, signer: Minter, leeway: Any) -> None:
        with pytest.raises(ValueError, match="leeway must be an integer from 0 to 60"):
            check(signer.mint(), signer, leeway=leeway)

    @pytest.mark.parametrize("name", ["issuer", "audience", "packet_digest"])
    def test_rejects_an_empty_security_argument(self, signer: Minter, name: str) -> None:
        with pytest.raises(ValueError, match="must be a non-empty string"):
            check(signer.mint(), signer, **{name: ""})

    def test_rejects_a_float_now(self, signer: Minter) -> None:
        with pytest.raises(ValueError, match="now must be an integer"):
            check(signer.mint(), signer, now=float(NOW))

    def test_requires_exactly_one_key_source(self, signer: Minter) -> None:
        jwks = JWKSFetcher.from_document(signer.jwks())
        with pytest.raises(TypeError, match="exactly one of keys= or jwks="):
            check(signer.mint(), signer, jwks=jwks)
        with pytest.raises(TypeError, match="exactly one of keys= or jwks="):
            check(signer.mint(), signer, keys=None)

    def test_refuses_a_key_of_another_type(self, signer: Minter) -> None:
        rsa_public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        with pytest.raises(TypeError, match="not an Ed25519PublicKey"):
            check(signer.mint(), signer, keys={signer.kid: rsa_public})

    def test_security_arguments_have_no_defaults(self, signer: Minter) -> None:
        with pytest.raises(TypeError, match="missing 3 required keyword-only arguments"):
            verify_token(signer.mint(), keys={signer.kid: signer.public_key})  # type: ignore[call-arg]


class TestVerifyResult:
    def test_reports_a_valid_token_with_its_claims(self, signer: Minter) -> None:
        result = verify_result(
            signer.mint(),
            keys={signer.kid: signer.public_key},
            issuer=ISSUER,
            audience=LANE,
            packet_digest=PACKET_DIGEST,
            now=NOW,
        )
        assert result.valid
        assert result.reason is None
        assert result.to_dict()["claims"] == json.loads(json.dumps(base_claims()))

    def test_reports_a_refusal_as_its_reason_code(self, signer: Minter) -> None:
        result = verify_result(
            signer.mint(),
            keys={signer.kid: signer.public_key},
            issuer=ISSUER,
            audience="other-lane",
            packet_digest=PACKET_DIGEST,
            now=NOW,
        )
        assert result == VerifyResult(valid=False, reason="token.wrong_audience", claims=None)
        assert result.to_dict() == {
            "valid": False,
            "reason": "token.wrong_audience",
            "claims": None,
        }

    def test_still_raises_on_bad_arguments(self, signer: Minter) -> None:
        with pytest.raises(ValueError, match="leeway"):
            verify_result(
                signer.mint(),
                keys={signer.kid: signer.public_key},
                issuer=ISSUER,
                audience=LANE,
                packet_digest=PACKET_DIGEST,
                leeway=120,
            )
