"""The test world of issue 10: a gate that hears source systems and intake lanes.

Nothing here reads the shipped ``policies/governance/data.json``: :func:`write_trust`
copies the Rego modules and writes governance data of its own (two lanes, three
people and one agent, keys made at test time). :class:`World` drives the real app
over HTTP (``TestClient``: routing, API keys, the store) with one API key per
role, the new ``evidence_source`` and ``intake`` roles included.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from release_gate.decision.signatures import sign_manifest
from release_gate.runtime import Runtime
from release_gate.store import Store
from release_gate.store.schema import Base
from release_gate_client.jwk import public_jwk
from tests.helpers import ROOT
from tests.ui._scenario import ApiKeys, write_api_keys

LANE = "exec-customer-review"
OTHER_LANE = "exec-board-digest"
SOURCES = ("incident_timeline", "case_management", "contract_guidance")
TIMELINE_REF = "incident_timeline/INC-4471"

#: who -> (subject, role, key_id, kind)
PEOPLE = {
    "owner": ("rosa.delgado@example.com", "support_release_owner", "rosa-fb-1", "human"),
    "comms": ("kofi.mensah@example.com", "incident_communications_manager", "kofi-fb-1", "human"),
    "cs": ("ines.duarte@example.com", "customer_success_reviewer", "ines-fb-1", "human"),
    "agent": ("agent:packet-assembler", "customer_success_reviewer", "agent-fb-1", "agent"),
}
ALL_SIGNERS = ("owner", "comms", "cs")
ROLES = ("evaluator", "verifier", "auditor", "release_owner", "evidence_source", "intake")


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(**delta: float) -> str:
    return rfc3339(dt.datetime.now(dt.UTC) - dt.timedelta(**delta))


@dataclass(frozen=True)
class Trust:
    """A copy of the policies whose governance data (and signer keys) the tests own."""

    policies: Path
    keys: dict[str, Ed25519PrivateKey] = field(repr=False)

    def sign(self, document: dict[str, Any], *who: str) -> dict[str, Any]:
        for name in who:
            subject, role, key_id, _ = PEOPLE[name]
            document = sign_manifest(
                document, private_key=self.keys[key_id], subject=subject, role=role, key_id=key_id
            )
        return document


def _lane() -> dict[str, Any]:
    return {
        "required_roles": sorted({PEOPLE[p][1] for p in ALL_SIGNERS}),
        "allowed_audience": ["exec-review-board"],
        "allowed_actions": ["route_for_executive_review"],
        "required_evidence_sources": ["incident_timeline", "case_management"],
        "max_evidence_age_seconds": dict.fromkeys(SOURCES, 86400),
        "distinct_signers": True,
        "token_ttl_seconds": 900,
    }


def write_trust(target: Path) -> Trust:
    """Copy the Rego policies to ``target`` and write governance data of our own."""
    shutil.copytree(ROOT / "policies", target, ignore=shutil.ignore_patterns("tests"))
    keys: dict[str, Ed25519PrivateKey] = {}
    signers: dict[str, Any] = {}
    for subject, role, key_id, kind in PEOPLE.values():
        keys[key_id] = Ed25519PrivateKey.generate()
        public = public_jwk(keys[key_id].public_key(), kid="-")["x"]
        signers[subject] = {
            "kind": kind,
            "roles": [role],
            "keys": [
                {"key_id": key_id, "alg": "Ed25519", "public_key": public, "status": "active"}
            ],
        }
    data = {
        "release_owner_role": "support_release_owner",
        "future_tolerance_seconds": 60,
        "signers": signers,
        "lanes": {LANE: _lane(), OTHER_LANE: _lane()},
    }
    (target / "governance" / "data.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return Trust(policies=target, keys=keys)


def keys_file(path: Path) -> ApiKeys:
    """One API key per role, the new ``evidence_source`` and ``intake`` included."""
    return write_api_keys(path)


def manifest(
    trust: Trust,
    *,
    revision: int,
    packet_id: str = "PKT-FB-1",
    lane: str = LANE,
    snapshots: dict[str, str] | None = None,
    observed_at: str | None = None,
    signers: Sequence[str] = ALL_SIGNERS,
    mutate: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """A manifest that ``lane`` approves now. ``snapshots`` maps a source to the digest its
    evidence item cites (default: ``digest(source)``), all observed at ``observed_at``
    (default an hour ago)."""
    cited = {source: digest(source) for source in SOURCES[:2]}
    cited.update(snapshots or {})
    document: dict[str, Any] = {
        "manifest_version": "1",
        "manifest_id": f"rm-{packet_id}-r{revision}",
        "created_at": ago(minutes=5),
        "packet": {
            "id": packet_id,
            "revision": revision,
            "digest": digest(f"{packet_id} revision {revision}"),
            "supersedes_revision": revision - 1 if revision > 1 else None,
        },
        "lane": lane,
        "audience": ["exec-review-board"],
        "requested_actions": ["route_for_executive_review"],
        "release_owner": PEOPLE["owner"][0],
        "objections": [],
        "evidence": [
            {
                "id": f"EV-{source}",
                "ref": f"{source}/INC-4471",
                "source": source,
                "digest": value,
                "observed_at": observed_at or ago(hours=1),
            }
            for source, value in cited.items()
        ],
        "signatures": [],
    }
    if mutate is not None:
        mutate(document)
    return trust.sign(copy.deepcopy(document), *signers)


def event(
    new_digest: str,
    *,
    source: str = "incident_timeline",
    ref: str = TIMELINE_REF,
    observed_at: str | None = None,
    material: Any = True,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "source": source,
        "ref": ref,
        "digest": new_digest,
        "observed_at": observed_at or ago(minutes=1),
        "material": material,
        **extra,
    }


@dataclass
class World:
    """The real app with our trust and keys; every call goes through HTTP."""

    client: TestClient
    runtime: Runtime
    trust: Trust
    keys: ApiKeys

    @property
    def store(self) -> Store:
        assert self.runtime.store is not None
        return self.runtime.store

    def post(self, path: str, body: Any, *, role: str | None) -> httpx.Response:
        headers = {"content-type": "application/json"}
        if role is not None:
            headers.update(self.keys.bearer(role))
        response: httpx.Response = self.client.post(
            path, content=json.dumps(body).encode(), headers=headers
        )
        return response

    def get(self, path: str, *, role: str | None = "auditor", **params: Any) -> httpx.Response:
        headers = self.keys.bearer(role) if role is not None else {}
        response: httpx.Response = self.client.get(path, params=params, headers=headers)
        return response

    def evaluate(self, document: dict[str, Any]) -> dict[str, Any]:
        response = self.post("/v1/evaluate", document, role="evaluator")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def approve(self, document: dict[str, Any]) -> dict[str, Any]:
        decision = self.evaluate(document)
        assert decision["allow"] is True, decision["violations"]
        return decision

    def verify(self, decision: dict[str, Any], *, lane: str | None = None) -> dict[str, Any]:
        body = {
            "token": decision["token"],
            "lane": lane or decision["lane"],
            "packet_digest": decision["packet"]["digest"],
        }
        response = self.post("/v1/verify", body, role="verifier")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def evidence(self, body: Any, *, role: str | None = "evidence_source") -> httpx.Response:
        return self.post("/v1/evidence-events", body, role=role)

    def outcome(self, body: Any, *, role: str | None = "intake") -> httpx.Response:
        return self.post("/v1/intake-outcomes", body, role=role)

    def report(self, lane: str = LANE, **params: Any) -> dict[str, Any]:
        response = self.get(f"/v1/reports/lanes/{lane}", **params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def count(self, table: type[Base]) -> int:
        with self.store.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def head(self) -> int:
        return self.store.decisions.head().seq


def codes(decision: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v["code"], v["path"]) for v in decision["violations"]}
