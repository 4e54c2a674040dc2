"""One strict base64url decoder, used by every reader (issue 14).

A lenient decoder reads many texts as the same bytes (padding, the standard
alphabet's ``+``/``/``, skipped junk, non-zero unused bits), so two parties that
compare texts, or two verifiers, can disagree. ``release_gate_client.b64url``
accepts exactly one text per byte string; every base64url input the gate or the
client reads goes through it: tokens (each segment), JWKS ``x``, revocation
lists (each segment). Manifest signatures, trust-store keys and cursors are
pinned in tests/service/test_malformed.py, tests/policy/test_governance_keys.py
and tests/store/test_cursor_encoding.py.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

import pytest

from release_gate_client import (
    BadSignature,
    KeySetError,
    MalformedToken,
    RevocationList,
    RevocationListError,
    load_jwks,
    verify_token,
)
from release_gate_client.b64url import b64url_decode, b64url_encode
from tests.reencoding import FAMILIES, json_segment, lenient, variants

from ._support import ISSUER, LANE, NOW, PACKET_DIGEST, Minter, segment

ROOT = Path(__file__).resolve().parents[2]


class TestDecoder:
    @pytest.mark.parametrize("size", range(70))
    def test_round_trips_every_length(self, size: int) -> None:
        raw = os.urandom(size)
        assert b64url_decode(b64url_encode(raw)) == raw

    @pytest.mark.parametrize("family", FAMILIES)
    def test_refuses_every_other_text_of_the_same_bytes(self, family: str) -> None:
        text = json_segment({"a": 1}, family)
        assert b64url_decode(text) == lenient(text)
        with pytest.raises(ValueError, match="base64url"):
            b64url_decode(variants(text)[family])

    @pytest.mark.parametrize("text", ["A", "AAAAA", "é", "\u0661\u0662", "=", "===="])
    def test_refuses_impossible_lengths_and_foreign_characters(self, text: str) -> None:
        with pytest.raises(ValueError, match="base64url"):
            b64url_decode(text)


class TestOneDecoder:
    def test_no_module_but_b64url_imports_base64_or_binascii(self) -> None:
        """A second decoder is how a lenient reader comes back."""
        offenders = []
        for package in (
            ROOT / "service" / "release_gate",
            ROOT / "clients" / "release_gate_client",
        ):
            for path in package.rglob("*.py"):
                if path.name == "b64url.py":
                    continue
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                    names = (
                        [a.name for a in node.names]
                        if isinstance(node, ast.Import)
                        else [node.module or ""]
                        if isinstance(node, ast.ImportFrom)
                        else []
                    )
                    if any(n.split(".")[0] in ("base64", "binascii") for n in names):
                        offenders.append(str(path.relative_to(ROOT)))
        assert offenders == []


def _token_parts(signer: Minter) -> tuple[str, str, str]:
    header, payload, signature = signer.mint().split(".")
    return header, payload, signature


def _signed(signer: Minter, header: str, payload: str) -> str:
    """``header.payload`` exactly as given, validly signed (the signer re-encoded it)."""
    signature = signer.private_key.sign(f"{header}.{payload}".encode())
    return f"{header}.{payload}.{b64url_encode(signature)}"


def _verify(token: str, signer: Minter) -> Any:
    return verify_token(
        token,
        keys={signer.kid: signer.public_key},
        issuer=ISSUER,
        audience=LANE,
        packet_digest=PACKET_DIGEST,
        now=NOW,
    )


class TestTokens:
    def test_the_canonical_token_verifies(self, signer: Minter) -> None:
        assert _verify(signer.mint(), signer).jti

    @pytest.mark.parametrize("family", FAMILIES)
    def test_refuses_a_reencoded_header_even_validly_signed(
        self, signer: Minter, family: str
    ) -> None:
        header, payload, _ = _token_parts(signer)
        header = json_segment(json.loads(lenient(header)), family)
        assert _verify(_signed(signer, header, payload), signer).jti  # canonical: fine
        with pytest.raises(MalformedToken, match="header is not base64url"):
            _verify(_signed(signer, variants(header)[family], payload), signer)

    @pytest.mark.parametrize("family", FAMILIES)
    def test_refuses_a_reencoded_payload_even_validly_signed(
        self, signer: Minter, family: str
    ) -> None:
        header, payload, _ = _token_parts(signer)
        payload = json_segment(json.loads(lenient(payload)), family)
        assert _verify(_signed(signer, header, payload), signer).jti  # canonical: fine
        with pytest.raises(MalformedToken, match="payload is not base64url"):
            _verify(_signed(signer, header, variants(payload)[family]), signer)

    @pytest.mark.parametrize("family", ["padding", "junk", "space", "newline", "trailing-bits"])
    def test_refuses_a_reencoded_signature(self, signer: Minter, family: str) -> None:
        header, payload, signature = _token_parts(signer)
        token = f"{header}.{payload}.{variants(signature)[family]}"
        with pytest.raises(BadSignature, match="does not verify"):
            _verify(token, signer)


class TestJwks:
    @pytest.mark.parametrize("family", FAMILIES)
    def test_refuses_a_reencoded_x(self, signer_factory: Any, family: str) -> None:
        signer = signer_factory()
        jwk = signer.jwks()["keys"][0]
        while family not in variants(jwk["x"]):  # "standard-alphabet" needs a - or _
            signer = signer_factory()
            jwk = signer.jwks()["keys"][0]
        with pytest.raises(KeySetError, match="'x' must be 32 bytes of unpadded base64url"):
            load_jwks({"keys": [{**jwk, "x": variants(jwk["x"])[family]}]})


def _revocation_list(signer: Minter, header: str, payload: str, signature: str) -> Any:
    return RevocationList.from_jws(
        f"{header}.{payload}.{signature}", keys={signer.kid: signer.public_key}, issuer=ISSUER
    )


def _list_values(signer: Minter) -> list[dict[str, Any]]:
    header = {"alg": "EdDSA", "typ": "release-revocations+jwt", "kid": signer.kid}
    claims = {
        "iss": ISSUER,
        "iat": NOW,
        "next_update": NOW + 60,
        "revoked": [{"jti": "revoked-jti"}],
        "holds": [],
        "chain_head": {"seq": 1, "hash": "ab"},
    }
    return [header, claims]


class TestRevocationLists:
    @pytest.mark.parametrize("part", [0, 1])
    @pytest.mark.parametrize("family", FAMILIES)
    def test_refuses_a_reencoded_header_or_payload_even_validly_signed(
        self, signer: Minter, part: int, family: str
    ) -> None:
        values = _list_values(signer)
        parts = [segment(values[0]), segment(values[1])]
        parts[part] = json_segment(values[part], family)
        signed = _signed(signer, *parts).split(".")
        assert _revocation_list(signer, *signed).revoked == {"revoked-jti"}  # canonical: fine
        parts[part] = variants(parts[part])[family]
        with pytest.raises(RevocationListError, match="does not verify"):
            _revocation_list(signer, *_signed(signer, *parts).split("."))

    @pytest.mark.parametrize("family", ["padding", "junk", "space", "newline", "trailing-bits"])
    def test_refuses_a_reencoded_signature(self, signer: Minter, family: str) -> None:
        header, payload, signature = signer.sign_raw(*_list_values(signer)).split(".")
        with pytest.raises(RevocationListError, match="does not verify"):
            _revocation_list(signer, header, payload, variants(signature)[family])
