"""Governance data built by a test, never read from ``policies/governance/data.json``.

:func:`governance_doc` is a trust store for the demo signers of :mod:`tests.helpers`
(``OWNER``, ``COMMS``, ``CS``, ``AGENT``) and one lane that the manifests of
:func:`tests.helpers.base_manifest` satisfy. :func:`write_policies` copies the
policies' Rego into a directory and writes that data as its
``governance/data.json``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from release_gate.keys.signing import load_private_key
from release_gate_client.jwk import public_jwk
from tests.helpers import AGENT, COMMS, CS, DEMO_KEYS, LANE, OWNER, POLICIES, Signer

SIGNERS: tuple[Signer, ...] = (OWNER, COMMS, CS, AGENT)


def demo_public_key(stem: str) -> Ed25519PublicKey:
    """The public half of the labelled demo key ``manifests/examples/keys/<stem>.demo-key.pem``."""
    return load_private_key(DEMO_KEYS / f"{stem}.demo-key.pem").public_key


def canonical_text(key: Ed25519PublicKey) -> str:
    """The one accepted ``public_key`` text of ``key`` (a JWK's ``x``)."""
    return public_jwk(key, kid="-")["x"]


def lane() -> dict[str, Any]:
    return {
        "required_roles": [OWNER[1], COMMS[1], CS[1]],
        "allowed_audience": ["exec-review-board"],
        "allowed_actions": ["route_for_executive_review"],
        "required_evidence_sources": [
            "incident_timeline",
            "case_management",
            "entitlement",
            "contract_guidance",
        ],
        "max_evidence_age_seconds": {
            "incident_timeline": 21600,
            "case_management": 86400,
            "entitlement": 604800,
            "contract_guidance": 2592000,
        },
        "distinct_signers": True,
        "token_ttl_seconds": 900,
    }


def governance_doc(public_keys: Mapping[str, str]) -> dict[str, Any]:
    """A trust store of :data:`SIGNERS`, ``public_keys`` mapping each key_id to its text."""
    signers: dict[str, Any] = {}
    for subject, role, key_id, _stem in SIGNERS:
        signers[subject] = {
            "kind": "agent" if subject.startswith("agent:") else "human",
            "roles": [role],
            "keys": [
                {
                    "key_id": key_id,
                    "alg": "Ed25519",
                    "public_key": public_keys[key_id],
                    "status": "active",
                }
            ],
        }
    return {
        "release_owner_role": OWNER[1],
        "future_tolerance_seconds": 60,
        "signers": signers,
        "lanes": {LANE: lane()},
    }


def demo_governance_doc() -> dict[str, Any]:
    """:func:`governance_doc` with the demo keys, each written canonically."""
    return governance_doc(
        {key_id: canonical_text(demo_public_key(stem)) for _s, _r, key_id, stem in SIGNERS}
    )


def write_policies(target: Path, data: Mapping[str, Any]) -> Path:
    """``policies/``'s Rego copied to ``target``, with ``data`` as its governance data."""
    shutil.copytree(POLICIES, target)
    (target / "governance" / "data.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return target


def reencodings(text: str) -> dict[str, str]:
    """Texts near ``text`` that a strict decoder must refuse, by name.

    ``text`` is canonical unpadded base64url of 32 bytes (43 characters, the last
    carrying two unused bits). All but the wrong lengths are the same 32 bytes to
    ``base64.urlsafe_b64decode(text + "==")``: the re-encodings an attacker uses.
    """
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(text[-1])
    assert len(text) == 43, "not a 32-byte key"
    assert last % 4 == 0, "not canonical: unused bits set"
    variants = {
        "trailing-bits": text[:-1] + alphabet[last + 1],
        "trailing-bits-max": text[:-1] + alphabet[last + 3],
        "padding": text + "=",
        "junk-inside": text[:20] + "." + text[20:],
        "whitespace-inside": text[:20] + " " + text[20:],
        "newline-at-end": text + "\n",
        "too-short": text[:-1],
        "too-long": text + "AAAA",
    }
    standard = text.replace("-", "+").replace("_", "/")
    if standard != text:
        variants["standard-alphabet"] = standard
    return variants


#: The variants a lenient decoder reads as the very same key.
SAME_KEY_VARIANTS = (
    "trailing-bits",
    "trailing-bits-max",
    "padding",
    "junk-inside",
    "whitespace-inside",
    "newline-at-end",
    "standard-alphabet",
)
