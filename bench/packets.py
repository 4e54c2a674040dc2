"""The load benchmark's own policy bundle, signers and request bodies.

Nothing here reads the shipped governance data or the demo keys: the bundle is
a copy of ``policies/`` (tests left out) whose ``governance/data.json`` names
three signers with Ed25519 keys generated at run time, and one lane shaped
like the example lane with maximum evidence ages far longer than any run.
Each manifest mirrors the reference manifest (3 signatures, 2 objections, 4
evidence items) for its own packet, so every one is approvable; its OPA body
is the policy input the gate itself builds for it, with the gate's own
parse, digest, verify and input steps.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from release_gate.decision.canonical import manifest_digest
from release_gate.decision.manifest import Limits, validate_manifest
from release_gate.decision.parse import parse_ijson
from release_gate.decision.policy_input import build_policy_input
from release_gate.decision.signatures import SignatureStatus, sign_manifest, verify_signatures
from release_gate.policy.bundle import is_test_file, load_bundle
from release_gate.policy.governance import load_governance

__all__ = [
    "LANE",
    "BenchSigner",
    "make_signers",
    "manifest",
    "opa_bodies",
    "write_bodies",
    "write_bundle",
]

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
LANE = "bench-exec-review"
_MAX_AGE = 90 * 86400  # seconds: evidence is at most 3 days old when signed
_ROLES = ("support_release_owner", "incident_communications_manager", "customer_success_reviewer")


@dataclass(frozen=True, slots=True)
class BenchSigner:
    subject: str
    role: str
    key_id: str
    key: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_signers() -> tuple[BenchSigner, ...]:
    """The release owner, the communications manager and the reviewer, fresh keys."""
    names = ("owner", "comms", "reviewer")
    return tuple(
        BenchSigner(f"{name}@bench.example", role, f"{name}-bench", Ed25519PrivateKey.generate())
        for name, role in zip(names, _ROLES, strict=True)
    )


def _governance(signers: Sequence[BenchSigner]) -> dict[str, Any]:
    sources = ("incident_timeline", "case_management", "entitlement", "contract_guidance")
    return {
        "release_owner_role": _ROLES[0],
        "future_tolerance_seconds": 60,
        "signers": {
            s.subject: {
                "kind": "human",
                "roles": [s.role],
                "keys": [
                    {
                        "key_id": s.key_id,
                        "alg": "Ed25519",
                        "public_key": s.public_key,
                        "status": "active",
                    }
                ],
            }
            for s in signers
        },
        "lanes": {
            LANE: {
                "required_roles": list(_ROLES),
                "allowed_audience": ["exec-review-board", "support-leadership"],
                "allowed_actions": ["route_for_executive_review", "attach_to_review_agenda"],
                "required_evidence_sources": list(sources),
                "max_evidence_age_seconds": dict.fromkeys(sources, _MAX_AGE),
                "distinct_signers": True,
                "token_ttl_seconds": 900,
            }
        },
    }


def write_bundle(dest: Path, signers: Sequence[BenchSigner]) -> Path:
    """Copy ``policies/`` (without tests) to ``dest`` with the bench's governance data."""

    def ignore(directory: str, names: list[str]) -> list[str]:
        rel = PurePosixPath(Path(directory).relative_to(POLICIES).as_posix())
        return [n for n in names if is_test_file(rel / n)]

    shutil.copytree(POLICIES, dest, ignore=ignore)
    manifest_path = dest / ".manifest"
    dot_manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    dot_manifest["revision"] = f"{dot_manifest['revision']}+bench"
    manifest_path.write_text(json.dumps(dot_manifest, indent=2) + "\n", encoding="utf-8")
    data = json.dumps(_governance(signers), indent=2) + "\n"
    (dest / "governance" / "data.json").write_text(data, encoding="utf-8")
    return dest


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def manifest(
    index: int,
    signers: Sequence[BenchSigner],
    now: dt.datetime,
    *,
    signed_by: Sequence[BenchSigner] | None = None,
) -> bytes:
    """Packet ``index``'s manifest, compact JSON on one line.

    Signed by every signer (approvable), or only by ``signed_by``.
    """
    owner, comms, reviewer = signers

    def ago(**delta: float) -> str:
        return _rfc3339(now - dt.timedelta(**delta))

    evidence = [
        ("EV-1", "incident_timeline", ago(hours=1)),
        ("EV-2", "case_management", ago(hours=2)),
        ("EV-3", "entitlement", ago(days=1)),
        ("EV-4", "contract_guidance", ago(days=3)),
    ]
    document: dict[str, Any] = {
        "manifest_version": "1",
        "manifest_id": f"rm-bench-{index}",
        "created_at": ago(minutes=5),
        "packet": {
            "id": f"PKT-BENCH-{index:06d}",
            "revision": 3,
            "digest": _sha256(f"bench packet {index} revision 3"),
            "supersedes_revision": 2,
        },
        "lane": LANE,
        "audience": ["exec-review-board"],
        "requested_actions": ["route_for_executive_review"],
        "release_owner": owner.subject,
        "objections": [
            {
                "id": "OBJ-1",
                "summary": "Restoration wording disputed",
                "raised_by": reviewer.subject,
                "status": "open",
                "residual_acceptance": {
                    "accepted_by": owner.subject,
                    "accepted_at": ago(minutes=10),
                    "rationale": "Caveat stated in the packet.",
                },
            },
            {
                "id": "OBJ-2",
                "summary": "Start time",
                "raised_by": comms.subject,
                "status": "resolved",
                "residual_acceptance": None,
            },
        ],
        "evidence": [
            {"id": i, "ref": f"{s}/{i}", "source": s, "digest": _sha256(i), "observed_at": at}
            for i, s, at in evidence
        ],
        "signatures": [],
    }
    for s in signers if signed_by is None else signed_by:
        document = sign_manifest(
            document, private_key=s.key, subject=s.subject, role=s.role, key_id=s.key_id
        )
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def opa_bodies(bodies: Sequence[bytes], *, bundle: Path, now_ns: int) -> list[bytes]:
    """``{"input": ...}`` for each body: the policy input the gate sends its engine.

    Built as ``Gate.evaluate`` builds it (parse, digest, verify, input) for a
    packet with no history and no holds, evaluated at ``now_ns``; raises if a
    signature does not verify.
    """
    governance = load_governance(load_bundle(bundle).governance)
    out = []
    for body in bodies:
        document = parse_ijson(body, max_depth=32)
        checked = validate_manifest(document, limits=Limits())
        digest = manifest_digest(document)
        statuses = verify_signatures(checked.signatures, digest=digest, governance=governance)
        if any(s is not SignatureStatus.VERIFIED for s in statuses):
            raise RuntimeError(f"bench manifest {checked.manifest_id}: signatures {statuses}")
        policy_input = build_policy_input(
            manifest_text=body.decode("utf-8"),
            manifest=checked,
            digest=digest,
            statuses=statuses,
            now_ns=now_ns,
        )
        out.append(('{"input":' + policy_input + "}").encode())
    return out


def write_bodies(path: Path, bodies: Sequence[bytes]) -> Path:
    """One body per line: what ``load.lua`` reads."""
    with path.open("wb") as out:
        for body in bodies:
            if b"\n" in body:
                raise ValueError("a request body must be one line")
            out.write(body + b"\n")
    return path
