"""The trust store's keys: one canonical text per key, each key listed once (issue 14).

A lenient base64 decoder reads many texts as one key (padding, the standard
alphabet, junk characters, non-zero unused bits), so a check comparing texts
(the demo-key refusal did) is bypassed by re-encoding. The loader refuses every
text but the canonical one, naming the signer and key id, and compares keys as
bytes. Both engines load governance through it; ``bundle build`` (OPA's bundle)
refuses the same data.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.cli import main
from release_gate.policy.governance import GovernanceError, load_governance
from tests.governance_data import (
    SAME_KEY_VARIANTS,
    canonical_text,
    demo_governance_doc,
    demo_public_key,
    reencodings,
    write_policies,
)
from tests.helpers import COMMS, OWNER

DANA = canonical_text(demo_public_key("dana-whitfield"))
VARIANTS = reencodings(DANA)
NAMED = r"signer 'dana\.whitfield@example\.com' key 'dana-2026-01' .*canonical unpadded base64url"


def _with_owner_key(text: str, *, status: str = "active") -> dict[str, Any]:
    doc = demo_governance_doc()
    key = doc["signers"][OWNER[0]]["keys"][0]
    key.update(public_key=text, status=status)
    return doc


class TestPublicKeyEncoding:
    def test_the_canonical_text_loads(self) -> None:
        governance = load_governance(_with_owner_key(DANA))
        assert (OWNER[0], OWNER[2]) in governance.active_keys
        assert (
            governance.key_bytes[(OWNER[0], OWNER[2])]
            == demo_public_key("dana-whitfield").public_bytes_raw()
        )

    def test_the_variants_cover_every_family(self) -> None:
        assert set(VARIANTS) == {
            "trailing-bits",
            "trailing-bits-max",
            "padding",
            "junk-inside",
            "whitespace-inside",
            "newline-at-end",
            "standard-alphabet",
            "too-short",
            "too-long",
        }

    @pytest.mark.parametrize("variant", SAME_KEY_VARIANTS)
    def test_a_lenient_decoder_reads_the_variant_as_the_same_key(self, variant: str) -> None:
        """The premise of the attack: these texts are one key to ``urlsafe_b64decode``."""
        raw = demo_public_key("dana-whitfield").public_bytes_raw()
        assert base64.urlsafe_b64decode(VARIANTS[variant] + "==") == raw

    @pytest.mark.parametrize("variant", sorted(VARIANTS))
    def test_refuses_a_non_canonical_public_key_naming_signer_and_key_id(
        self, variant: str
    ) -> None:
        with pytest.raises(GovernanceError, match=NAMED):
            load_governance(_with_owner_key(VARIANTS[variant]))

    @pytest.mark.parametrize("variant", ["trailing-bits", "padding", "standard-alphabet"])
    def test_refuses_it_on_a_revoked_key_too(self, variant: str) -> None:
        with pytest.raises(GovernanceError, match=NAMED):
            load_governance(_with_owner_key(VARIANTS[variant], status="revoked"))

    @pytest.mark.parametrize("text", ["", "AAAA", "A" * 44, "\u00e9" * 43, "\uff10" * 43])
    def test_refuses_other_malformed_texts(self, text: str) -> None:
        with pytest.raises(GovernanceError, match=NAMED):
            load_governance(_with_owner_key(text))

    def test_the_error_never_echoes_the_key_text(self) -> None:
        with pytest.raises(GovernanceError) as caught:
            load_governance(_with_owner_key(VARIANTS["trailing-bits"]))
        assert DANA[:20] not in caught.value.detail


class TestEachKeyOnce:
    def test_refuses_one_key_under_two_signers(self) -> None:
        doc = demo_governance_doc()
        doc["signers"][COMMS[0]]["keys"][0]["public_key"] = DANA
        with pytest.raises(
            GovernanceError, match=r"is the same key as signer .*list each key once"
        ):
            load_governance(doc)

    def test_refuses_a_revoked_key_listed_again_as_active(self) -> None:
        """Else the revocation is undone by the second entry."""
        doc = demo_governance_doc()
        owner_keys = doc["signers"][OWNER[0]]["keys"]
        revoked = copy.deepcopy(owner_keys[0])
        revoked.update(key_id="dana-2025-01", status="revoked")
        owner_keys.append(revoked)
        with pytest.raises(GovernanceError, match=r"dana-2025-01.*same key as.*dana-2026-01"):
            load_governance(doc)

    def test_distinct_keys_load(self) -> None:
        doc = demo_governance_doc()
        fresh = canonical_text(Ed25519PrivateKey.generate().public_key())
        doc["signers"][OWNER[0]]["keys"].append(
            {"key_id": "dana-2025-01", "alg": "Ed25519", "public_key": fresh, "status": "revoked"}
        )
        governance = load_governance(doc)
        assert (OWNER[0], "dana-2025-01") in governance.key_bytes
        assert (OWNER[0], "dana-2025-01") not in governance.active_keys


class TestOpaBundleBuild:
    """OPA loads the bundle ``bundle build`` writes: data the gate refuses is never shipped."""

    @pytest.mark.parametrize("variant", ["trailing-bits", "padding", "junk-inside"])
    def test_refuses_a_non_canonical_key(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], variant: str
    ) -> None:
        policies = write_policies(tmp_path / "policies", _with_owner_key(VARIANTS[variant]))
        out = tmp_path / "bundle.tar.gz"
        code = main(["bundle", "build", "--policies", str(policies), "--out", str(out)])
        problem = json.loads(capsys.readouterr().out)
        assert code == 2
        assert "'dana.whitfield@example.com' key 'dana-2026-01'" in problem["detail"]
        assert not out.exists()
