from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import ManifestFactory, post_json


class TestEvaluateRoundTrip:
    def test_approved_manifest_gets_token_that_verifies(
        self, client: TestClient, make_manifest: ManifestFactory
    ) -> None:
        manifest = make_manifest()
        decision = post_json(client, "/v1/evaluate", manifest).json()
        assert decision["allow"] is True, decision["violations"]
        assert decision["token"]
        verdict = post_json(
            client,
            "/v1/verify",
            {
                "token": decision["token"],
                "lane": manifest["lane"],
                "packet_digest": manifest["packet"]["digest"],
            },
        ).json()
        assert verdict["valid"] is True
        assert verdict["claims"]["jti"] == decision["decision_id"]
