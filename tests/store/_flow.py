"""Helpers for store tests: manifests for a packet revision, evaluate, verify."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import LANE, ManifestFactory, post_json, sha256


def revision(
    make_manifest: ManifestFactory,
    number: int,
    *,
    supersedes: int | None = None,
    packet_id: str = "PKT-TEST-1",
) -> dict[str, Any]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["packet"] = {
            "id": packet_id,
            "revision": number,
            "digest": sha256(f"{packet_id} revision {number}"),
            "supersedes_revision": supersedes,
        }

    return make_manifest(mutate)


def evaluate(client: TestClient, manifest: dict[str, Any], **headers: str) -> dict[str, Any]:
    response = client.post(
        "/v1/evaluate",
        content=json.dumps(manifest).encode(),
        headers={"content-type": "application/json", **headers},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(decision: dict[str, Any]) -> set[tuple[str, str]]:
    return {(v["code"], v["path"]) for v in decision["violations"]}


def verify(client: TestClient, decision: dict[str, Any]) -> dict[str, Any]:
    response = post_json(
        client,
        "/v1/verify",
        {"token": decision["token"], "lane": LANE, "packet_digest": decision["packet"]["digest"]},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
