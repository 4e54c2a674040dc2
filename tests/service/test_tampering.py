"""Signatures bind the whole manifest, the signer and the role (contract section 1)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import rfc8785
from fastapi.testclient import TestClient

from tests.helpers import COMMS, sha256
from tests.service._support import Build, at, evaluate, found, post_raw

Change = Callable[[dict[str, Any]], None]


def _set(path: tuple[str | int, ...], value: Any) -> Change:
    def change(manifest: dict[str, Any]) -> None:
        node: Any = manifest
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


_LATER = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

CHANGES: dict[str, Change] = {
    "packet-digest": _set(("packet", "digest"), sha256("another revision")),
    "packet-revision": _set(("packet", "revision"), 4),
    "packet-supersedes": _set(("packet", "supersedes_revision"), None),
    "lane": _set(("lane",), "exec-customer-review-2"),
    "audience": _set(("audience",), ["exec-review-board", "support-leadership"]),
    "actions": _set(("requested_actions",), ["attach_to_review_agenda"]),
    "release-owner": _set(("release_owner",), COMMS[0]),
    "manifest-id": _set(("manifest_id",), "rm-test-2"),
    "created-at": _set(("created_at",), at(_LATER)),
    "objection-status": _set(("objections", 1, "summary"), "Start time (edited)"),
    "acceptance-time": _set(("objections", 0, "residual_acceptance", "accepted_at"), at(_LATER)),
    "acceptance-rationale": _set(("objections", 0, "residual_acceptance", "rationale"), ""),
    "acceptance-removed": _set(("objections", 0, "residual_acceptance"), None),
    "objection-dropped": lambda m: m["objections"].pop(1),
    "evidence-time": _set(("evidence", 0, "observed_at"), at(_LATER)),
    "evidence-digest": _set(("evidence", 2, "digest"), sha256("other snapshot")),
    "evidence-dropped": lambda m: m["evidence"].pop(3),
}


class TestTampering:
    @pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
    def test_any_change_after_signing_invalidates_every_signature(
        self, client: TestClient, build: Build, change: Change
    ) -> None:
        manifest = build()
        change(manifest)
        decision = evaluate(client, manifest)
        assert decision["allow"] is False
        assert decision["token"] is None
        invalid = [p for c, p in found(decision) if c == "signature.invalid"]
        assert invalid == ["/signatures/0", "/signatures/1", "/signatures/2"]

    def test_signature_moved_to_another_role_is_invalid(
        self, client: TestClient, build: Build
    ) -> None:
        manifest = build()
        manifest["signatures"][1]["role"] = "customer_success_reviewer"
        decision = evaluate(client, manifest)
        assert ("signature.invalid", "/signatures/1") in found(decision)
        assert decision["token"] is None

    def test_signature_moved_to_another_subject_is_invalid(
        self, client: TestClient, build: Build
    ) -> None:
        manifest = build()
        # priya's signature, claimed for tomas (who holds the role) under tomas's key id
        manifest["signatures"][2].update(
            subject="tomas.lindqvist@example.com", key_id="tomas-2026-01"
        )
        decision = evaluate(client, manifest)
        assert ("signature.invalid", "/signatures/2") in found(decision)
        assert decision["token"] is None

    def test_swapping_signature_values_between_signers_is_invalid(
        self, client: TestClient, build: Build
    ) -> None:
        manifest = build()
        first, second = manifest["signatures"][0], manifest["signatures"][1]
        first["signature"], second["signature"] = second["signature"], first["signature"]
        decision = evaluate(client, manifest)
        invalid = [p for c, p in found(decision) if c == "signature.invalid"]
        assert invalid == ["/signatures/0", "/signatures/1"]


class TestDigest:
    def test_manifest_digest_is_jcs_sha256_without_signatures(
        self, client: TestClient, build: Build
    ) -> None:
        manifest = build()
        unsigned = {k: v for k, v in manifest.items() if k != "signatures"}
        expected = "sha256:" + hashlib.sha256(rfc8785.dumps(unsigned)).hexdigest()
        assert evaluate(client, manifest)["manifest_digest"] == expected

    def test_reformatted_manifest_keeps_its_signatures(
        self, client: TestClient, build: Build
    ) -> None:
        manifest = build()
        reordered = dict(reversed(list(manifest.items())))
        body = json.dumps(reordered, indent=4, ensure_ascii=True).encode()
        first = evaluate(client, manifest)
        second = post_raw(client, body).json()
        assert second["allow"] is True
        assert second["manifest_digest"] == first["manifest_digest"]

    def test_signature_order_does_not_change_the_digest(
        self, client: TestClient, build: Build
    ) -> None:
        manifest = build()
        shuffled = {**manifest, "signatures": manifest["signatures"][::-1]}
        decision = evaluate(client, shuffled)
        assert decision["allow"] is True
        assert decision["manifest_digest"] == evaluate(client, manifest)["manifest_digest"]
