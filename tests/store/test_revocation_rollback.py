"""Issue 14, with the gate's own lists: an older signed list replayed after a newer one.

A real gate approves a packet revision (token T) and serves its revocation list
(L1, T not listed); a release owner then holds the revision (L2, T revoked).
Both are genuine, signed by the gate, made within the same second or two. A
cache or an attacker on the path that answers L1 after L2 must not un-revoke T.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.keys.signing import write_private_key
from release_gate.runtime import build_runtime
from release_gate_client import (
    JWKSFetcher,
    RevocationFetcher,
    RevocationList,
    TokenRevoked,
    verify_token,
)
from tests.databases import migrate
from tests.deploy._support import ThreadedServer
from tests.governance_data import demo_governance_doc, write_policies
from tests.helpers import DEFAULT_SIGNERS, LANE, base_manifest, sign

PATH = "/v1/revocations"


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[TestClient]:
    key = tmp_path / "gate.pem"
    write_private_key(key, Ed25519PrivateKey.generate(), force=False)
    url = f"sqlite:///{tmp_path / 'decisions.db'}"
    migrate(url)
    settings = Settings(
        policies=write_policies(tmp_path / "policies", demo_governance_doc()),
        state_dir=tmp_path / "state",
        signing_key_file=key,
        database_url=url,
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime=runtime)) as client:
            yield client
    finally:
        runtime.close()


class _Replayer:
    """A real HTTP server answering each fetch with the next document (the last repeats)."""

    def __init__(self, documents: list[str]) -> None:
        self.documents = documents
        self.fetches = 0

    async def _serve(self, _request: Request) -> Response:
        self.fetches += 1
        document = self.documents.pop(0) if len(self.documents) > 1 else self.documents[0]
        return Response(document, media_type="application/jwt")

    def app(self) -> Starlette:
        return Starlette(routes=[Route(PATH, self._serve)])


def test_a_replayed_older_gate_list_does_not_unrevoke_a_held_token(gate: TestClient) -> None:
    manifest = sign(copy.deepcopy(base_manifest()), *DEFAULT_SIGNERS)
    decision = gate.post(
        "/v1/evaluate",
        content=json.dumps(manifest).encode(),
        headers={"content-type": "application/json"},
    ).json()
    token = decision["token"]
    assert decision["allow"] is True
    before = gate.get(PATH).text
    packet = manifest["packet"]
    held = gate.post(
        "/v1/holds",
        json={"packet_id": packet["id"], "revision": packet["revision"], "reason": "facts changed"},
    )
    assert held.status_code == 201, held.text
    after = gate.get(PATH).text
    jwks = JWKSFetcher.from_document(gate.get("/.well-known/jwks.json").content)
    newer = RevocationList.from_jws(after, jwks=jwks, issuer="release-gate")
    assert RevocationList.from_jws(before, jwks=jwks, issuer="release-gate").is_older_than(newer)

    replayer = _Replayer([after, before])
    with (
        ThreadedServer(replayer.app()) as server,
        RevocationFetcher(server.url + PATH, jwks=jwks, issuer="release-gate") as revocations,
    ):

        def verify(now: int) -> None:
            verify_token(
                token,
                jwks=jwks,
                issuer="release-gate",
                audience=LANE,
                packet_digest=packet["digest"],
                now=now,
                revocations=revocations,
            )

        with pytest.raises(TokenRevoked):
            verify(newer.issued_at)
        with pytest.raises(TokenRevoked):  # past next_update: refetched, the replay refused
            verify(newer.next_update + 1)
        assert replayer.fetches == 2
        assert revocations.rollbacks_refused == 1
