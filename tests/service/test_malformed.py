"""Malformed ``/v1/evaluate`` requests: 400, 413, 415 and 422, never a 500 or a token.

Every refusal is RFC 9457 problem details, a 400 or 422 names the field with a
JSON Pointer, and nothing is recorded in the decision store.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.runtime import Runtime, build_runtime
from tests.service._support import Build, assert_problem, assert_refused, dumps, evaluate, post_raw

Mutate = Callable[[dict[str, Any]], None]


def _set(pointer: str, value: Any) -> Mutate:
    parts = [int(p) if p.isdigit() else p for p in pointer.strip("/").split("/")]

    def change(manifest: dict[str, Any]) -> None:
        node: Any = manifest
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value

    return change


def _delete(pointer: str) -> Mutate:
    parts = [int(p) if p.isdigit() else p for p in pointer.strip("/").split("/")]

    def change(manifest: dict[str, Any]) -> None:
        node: Any = manifest
        for part in parts[:-1]:
            node = node[part]
        del node[parts[-1]]

    return change


class TestNotIJson:
    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b'{"manifest_version": "\xff1"}',
            b'{"manifest_version": "\xc3\x28"}',
            b'\xef\xbb\xbf{"manifest_version": "1"}',
            b'{"manifest_version": "1"',
            b"{'manifest_version': '1'}",
            b'{"manifest_version": "1",}',
            b'{"a": 1, "a": 1}',
            b'{"packet": {"id": "x", "id": "y"}}',
            b'{"evidence": [{"id": "EV-1", "ref": "a", "ref": "b"}]}',
            b'{"packet": {"revision": NaN}}',
            b'{"packet": {"revision": Infinity}}',
            b'{"packet": {"revision": -Infinity}}',
            b'{"packet": {"revision": 1e400}}',
            b'{"packet": {"revision": 9007199254740992}}',
            b'{"packet": {"revision": -9007199254740992}}',
            b'{"packet": {"revision": 123456789012345678901234567890}}',
            b'{"release_owner": "\\ud800"}',
            b'{"release_owner": "a\\udc00b"}',
            b'{"\\ud83d": 1}',
            b"[" * 33 + b"]" * 33,
            b'{"a":' * 33 + b"1" + b"}" * 33,
            b"[" * 100_000 + b"]" * 100_000,
        ],
        ids=[
            "empty",
            "not-utf8",
            "overlong-utf8",
            "bom",
            "truncated",
            "single-quotes",
            "trailing-comma",
            "duplicate-top-level",
            "duplicate-nested",
            "duplicate-in-array",
            "nan",
            "infinity",
            "minus-infinity",
            "float-overflow",
            "2^53",
            "-2^53",
            "bigint",
            "lone-high-surrogate",
            "lone-low-surrogate",
            "surrogate-in-name",
            "depth-33-arrays",
            "depth-33-objects",
            "depth-100000",
        ],
    )
    def test_body_that_is_not_ijson_is_400(
        self, client: TestClient, runtime: Runtime, body: bytes
    ) -> None:
        assert_refused(client, runtime, body, 400)

    def test_400_has_a_pointer(self, client: TestClient, runtime: Runtime) -> None:
        problem = assert_refused(client, runtime, b"{", 400)
        assert problem["errors"][0]["pointer"] == ""

    @pytest.mark.parametrize(
        ("body", "pointer"),
        [
            (b'{"packet": {"revision": 7, "revision": 7}}', "/packet/revision"),
            (b'{"evidence": [{"id": "EV-1"}, {"ref": "a", "ref": "b"}]}', "/evidence/1/ref"),
            (b'{"a/b": {"k~": 1, "k~": 2}}', "/a~1b/k~0"),
            (b'{"a": 1, "a": {"b": NaN}}', "/a/b"),
            (b'{"packet": {"revision": Infinity}}', "/packet/revision"),
            (b'{"packet": {"revision": 1e400}}', "/packet/revision"),
            (b'{"objections": [0, -9007199254740992]}', "/objections/1"),
        ],
        ids=[
            "duplicate",
            "duplicate-in-array",
            "escaped",
            "first-problem-first",
            "infinity",
            "overflow",
            "out-of-range-int",
        ],
    )
    def test_400_points_at_the_member_or_number(
        self, client: TestClient, runtime: Runtime, body: bytes, pointer: str
    ) -> None:
        problem = assert_refused(client, runtime, body, 400)
        assert problem["errors"][0]["pointer"] == pointer

    def test_revision_of_2_pow_53_is_not_ijson(
        self, client: TestClient, runtime: Runtime, build: Build
    ) -> None:
        manifest = build()
        manifest["packet"]["revision"] = 2**53
        body = dumps(manifest)
        assert_refused(client, runtime, body, 400)

    def test_nesting_of_exactly_32_passes_the_ijson_check(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        assert_refused(client, runtime, b"[" * 32 + b"]" * 32, 422, pointer="")

    def test_surrogate_pair_is_fine(self, client: TestClient, build: Build) -> None:
        manifest = build(_set("/objections/0/summary", "\U0001f600 restored"))
        body = dumps(manifest).replace("\U0001f600".encode(), b"\\ud83d\\ude00")
        assert post_raw(client, body).json()["allow"] is True

    def test_minus_zero_reads_as_zero(self, client: TestClient, runtime: Runtime) -> None:
        body = b'{"packet": {"revision": -0}}'
        problem = assert_refused(client, runtime, body, 422)
        assert "/packet/revision" in [e["pointer"] for e in problem["errors"]]


class TestBodySize:
    def test_body_over_one_mib_is_413(self, client: TestClient, runtime: Runtime) -> None:
        body = b'{"pad": "' + b"x" * (1 << 20) + b'"}'
        assert_refused(client, runtime, body, 413)

    def test_body_of_exactly_the_limit_is_read(self, client: TestClient, runtime: Runtime) -> None:
        body = b"{" + b" " * ((1 << 20) - 2) + b"}"
        assert len(body) == 1 << 20
        assert_refused(client, runtime, body, 422)

    def test_chunked_body_over_the_limit_is_413(self, client: TestClient, runtime: Runtime) -> None:
        def chunks() -> Iterator[bytes]:
            yield b'{"pad": "'
            for _ in range(17):
                yield b"x" * 65536
            yield b'"}'

        assert runtime.store is not None
        before = runtime.store.count()
        response = client.post(
            "/v1/evaluate", content=chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert runtime.store.count() == before

    def test_configured_smaller_limit_is_enforced(
        self, settings: Settings, build: Build, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("RELEASE_GATE_MAX_BODY_BYTES", "2048")
        small = Settings(**{k: getattr(settings, k) for k in _BASE_FIELDS})
        assert small.max_body_bytes == 2048
        runtime = build_runtime(small)
        try:
            with TestClient(create_app(small, runtime=runtime)) as client:
                body = dumps(build())
                assert len(body) > 2048
                assert_refused(client, runtime, body, 413)
                assert_refused(client, runtime, b"{" + b" " * 2046 + b"}", 422)
        finally:
            runtime.close()


_BASE_FIELDS = ("policies", "state_dir", "signing_key_file", "database_url")


class TestMediaType:
    @pytest.mark.parametrize(
        "content_type",
        [
            None,
            "text/plain",
            "text/json",
            "application/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonx",
            "application/json; charset=latin-1",
            "application/json; charset=iso-8859-1",
            "application/json; charset=utf-16",
            "application/merge-patch+json; charset=us-ascii",
        ],
    )
    def test_unsupported_media_type_is_415(
        self, client: TestClient, runtime: Runtime, build: Build, content_type: str | None
    ) -> None:
        assert_refused(client, runtime, dumps(build()), 415, content_type=content_type)

    @pytest.mark.parametrize("coding", ["gzip", "br", "deflate", "identity, gzip", "x-custom"])
    def test_encoded_body_is_415(
        self, client: TestClient, runtime: Runtime, build: Build, coding: str
    ) -> None:
        """Even a body that is plain JSON: the header says it is not, so it is not read."""
        assert runtime.store is not None
        before = runtime.store.count()
        response = client.post(
            "/v1/evaluate",
            content=dumps(build()),
            headers={"content-type": "application/json", "content-encoding": coding},
        )
        problem = assert_problem(response, 415)
        assert "Content-Encoding" in problem["detail"]
        assert runtime.store.count() == before

    def test_identity_encoding_is_read(self, client: TestClient, build: Build) -> None:
        response = client.post(
            "/v1/evaluate",
            content=dumps(build()),
            headers={"content-type": "application/json", "content-encoding": "identity"},
        )
        assert response.status_code == 200
        assert response.json()["allow"] is True

    @pytest.mark.parametrize(
        "content_type",
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            'application/json; charset="utf-8"',
            "Application/JSON",
            "application/merge-patch+json",
            "application/vnd.release-gate.manifest+json",
        ],
    )
    def test_json_media_types_are_accepted(
        self, client: TestClient, build: Build, content_type: str
    ) -> None:
        response = post_raw(client, dumps(build()), content_type=content_type)
        assert response.status_code == 200
        assert response.json()["allow"] is True


def _signature_with(value: str) -> Mutate:
    return _set("/signatures/0/signature", value)


def _noncanonical_tail(manifest: dict[str, Any]) -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = manifest["signatures"][0]["signature"]
    last = alphabet[alphabet.index(value[-1]) ^ 1]  # sets one of the 4 unused bits
    manifest["signatures"][0]["signature"] = value[:-1] + last


def _padded(manifest: dict[str, Any]) -> None:
    manifest["signatures"][0]["signature"] += "=="


def _standard_alphabet(manifest: dict[str, Any]) -> None:
    raw = base64.urlsafe_b64decode(manifest["signatures"][0]["signature"] + "==")
    raw = b"\xfb\xff" + raw[2:]  # "+/" in standard base64
    manifest["signatures"][0]["signature"] = base64.b64encode(raw).rstrip(b"=").decode()


def _short(manifest: dict[str, Any]) -> None:
    raw = base64.urlsafe_b64decode(manifest["signatures"][0]["signature"] + "==")
    manifest["signatures"][0]["signature"] = base64.urlsafe_b64encode(raw[:63]).decode().rstrip("=")


def _long(manifest: dict[str, Any]) -> None:
    raw = base64.urlsafe_b64decode(manifest["signatures"][0]["signature"] + "==")
    manifest["signatures"][0]["signature"] = (
        base64.urlsafe_b64encode(raw + b"\0").decode().rstrip("=")
    )


def _objections(n: int) -> Mutate:
    def change(manifest: dict[str, Any]) -> None:
        template = manifest["objections"][1]
        manifest["objections"] = [{**template, "id": f"OBJ-{i}"} for i in range(n)]

    return change


def _evidence(n: int) -> Mutate:
    def change(manifest: dict[str, Any]) -> None:
        template = manifest["evidence"][0]
        manifest["evidence"] = [{**template, "id": f"EV-{i}"} for i in range(n)]

    return change


def _accepted_resolved(manifest: dict[str, Any]) -> None:
    acceptance = manifest["objections"][0]["residual_acceptance"]
    manifest["objections"][1]["residual_acceptance"] = acceptance  # objection 1 is resolved


def _duplicate(pointer: str) -> Mutate:
    name = pointer.strip("/")

    def change(manifest: dict[str, Any]) -> None:
        manifest[name].append(manifest[name][0])

    return change


def _duplicate_id(name: str) -> Mutate:
    def change(manifest: dict[str, Any]) -> None:
        manifest[name][1]["id"] = manifest[name][0]["id"]

    return change


_SUBJECTS = {
    "space": "dana whitfield@example.com",
    "leading-space": " dana.whitfield@example.com",
    "nbsp": "dana\u00a0whitfield",
    "tab": "dana\twhitfield",
    "nul": "dana\u0000",
    "zero-width-space": "dana\u200b.whitfield@example.com",
    "zero-width-joiner": "dana\u200d",
    "bidi-override": "dana\u202e",
    "bom-char": "\ufeffdana",
    "line-separator": "dana\u2028",
    "paragraph-separator": "dana\u2029",
    "private-use": "dana\ue000",
    "unassigned": "dana\u0378",
    "ideographic-space": "dana\u3000",
    "empty": "",
    "257-code-points": "d" * 257,
}

_TIMESTAMPS = {
    "lowercase-t": "2026-11-26t08:00:00Z",
    "lowercase-z": "2026-11-26T08:00:00z",
    "space-separator": "2026-11-26 08:00:00Z",
    "no-offset": "2026-11-26T08:00:00",
    "leap-second": "2026-12-31T23:59:60Z",
    "offset-24": "2026-11-26T08:00:00+24:00",
    "offset-minutes-60": "2026-11-26T08:00:00+01:60",
    "offset-no-colon": "2026-11-26T08:00:00+0100",
    "year-0000": "0000-01-01T00:00:00Z",
    "ten-fraction-digits": "2026-11-26T08:00:00.1234567890Z",
    "empty-fraction": "2026-11-26T08:00:00.Z",
    "hour-24": "2026-11-26T24:00:00Z",
    "feb-30": "2026-02-30T08:00:00Z",
    "feb-29-non-leap": "2027-02-29T08:00:00Z",
    "month-13": "2026-13-01T08:00:00Z",
    "no-seconds": "2026-11-26T08:00Z",
    "date-only": "2026-11-26",
    "five-digit-year": "12026-11-26T08:00:00Z",
    "fullwidth-digits": "\uff12026-11-26T08:00:00Z",
    "trailing-space": "2026-11-26T08:00:00Z ",
    "unix-seconds": 1795680000,
}

_FIELD_CASES: dict[str, tuple[Mutate, str]] = {
    # the envelope
    "version-2": (_set("/manifest_version", "2"), "/manifest_version"),
    "version-int": (_set("/manifest_version", 1), "/manifest_version"),
    "version-missing": (_delete("/manifest_version"), "/manifest_version"),
    "id-empty": (_set("/manifest_id", ""), "/manifest_id"),
    "id-space": (_set("/manifest_id", "rm 1"), "/manifest_id"),
    "id-slash": (_set("/manifest_id", "rm/1"), "/manifest_id"),
    "id-unicode": (_set("/manifest_id", "rm-é"), "/manifest_id"),
    "id-129": (_set("/manifest_id", "r" * 129), "/manifest_id"),
    "id-newline": (_set("/manifest_id", "rm-1\n"), "/manifest_id"),
    "packet-id": (_set("/packet/id", "PKT 1"), "/packet/id"),
    "lane-id": (_set("/lane", "exec review"), "/lane"),
    "role-id": (_set("/signatures/0/role", "release owner"), "/signatures/0/role"),
    "key-id": (_set("/signatures/0/key_id", ""), "/signatures/0/key_id"),
    "evidence-source-id": (_set("/evidence/0/source", "a b"), "/evidence/0/source"),
    "created-at-missing": (_delete("/created_at"), "/created_at"),
    # the packet
    "revision-0": (_set("/packet/revision", 0), "/packet/revision"),
    "revision-negative": (_set("/packet/revision", -3), "/packet/revision"),
    "revision-string": (_set("/packet/revision", "3"), "/packet/revision"),
    "revision-float": (_set("/packet/revision", 3.5), "/packet/revision"),
    "revision-bool": (_set("/packet/revision", True), "/packet/revision"),
    "revision-null": (_set("/packet/revision", None), "/packet/revision"),
    "supersedes-equal": (_set("/packet/supersedes_revision", 3), "/packet/supersedes_revision"),
    "supersedes-greater": (_set("/packet/supersedes_revision", 4), "/packet/supersedes_revision"),
    "supersedes-0": (_set("/packet/supersedes_revision", 0), "/packet/supersedes_revision"),
    "supersedes-absent": (_delete("/packet/supersedes_revision"), "/packet/supersedes_revision"),
    "digest-short": (_set("/packet/digest", "sha256:" + "a" * 63), "/packet/digest"),
    "digest-long": (_set("/packet/digest", "sha256:" + "a" * 65), "/packet/digest"),
    "digest-upper": (_set("/packet/digest", "sha256:" + "A" * 64), "/packet/digest"),
    "digest-prefix": (_set("/packet/digest", "SHA256:" + "a" * 64), "/packet/digest"),
    "digest-sha512": (_set("/packet/digest", "sha512:" + "a" * 64), "/packet/digest"),
    "digest-bare": (_set("/packet/digest", "a" * 64), "/packet/digest"),
    "evidence-digest": (_set("/evidence/0/digest", "sha256:xyz"), "/evidence/0/digest"),
    # arrays
    "audience-empty": (_set("/audience", []), "/audience"),
    "audience-string": (_set("/audience", "exec-review-board"), "/audience"),
    "audience-33": (_set("/audience", [f"aud-{i}" for i in range(33)]), "/audience"),
    "audience-duplicate": (_duplicate("/audience"), "/audience/1"),
    "actions-empty": (_set("/requested_actions", []), "/requested_actions"),
    "actions-33": (_set("/requested_actions", [f"a-{i}" for i in range(33)]), "/requested_actions"),
    "actions-duplicate": (_duplicate("/requested_actions"), "/requested_actions/1"),
    "objection-duplicate-id": (_duplicate_id("objections"), "/objections/1/id"),
    "evidence-duplicate-id": (_duplicate_id("evidence"), "/evidence/1/id"),
    "objections-1001": (_objections(1001), "/objections"),
    "evidence-1001": (_evidence(1001), "/evidence"),
    "signatures-null": (_set("/signatures", None), "/signatures"),
    # objections
    "status-closed": (_set("/objections/0/status", "closed"), "/objections/0/status"),
    "resolved-with-acceptance": (_accepted_resolved, "/objections/1/residual_acceptance"),
    "acceptance-absent": (
        _delete("/objections/1/residual_acceptance"),
        "/objections/1/residual_acceptance",
    ),
    "acceptance-not-object": (
        _set("/objections/0/residual_acceptance", "yes"),
        "/objections/0/residual_acceptance",
    ),
    "summary-4097": (_set("/objections/0/summary", "s" * 4097), "/objections/0/summary"),
    "rationale-4097": (
        _set("/objections/0/residual_acceptance/rationale", "r" * 4097),
        "/objections/0/residual_acceptance/rationale",
    ),
    "ref-4097": (_set("/evidence/0/ref", "r" * 4097), "/evidence/0/ref"),
    # signatures
    "alg-eddsa": (_set("/signatures/0/alg", "EdDSA"), "/signatures/0/alg"),
    "alg-lowercase": (_set("/signatures/0/alg", "ed25519"), "/signatures/0/alg"),
    "signature-padded": (_padded, "/signatures/0/signature"),
    "signature-standard-base64": (_standard_alphabet, "/signatures/0/signature"),
    "signature-63-bytes": (_short, "/signatures/0/signature"),
    "signature-65-bytes": (_long, "/signatures/0/signature"),
    "signature-trailing-bits": (_noncanonical_tail, "/signatures/0/signature"),
    "signature-empty": (_signature_with(""), "/signatures/0/signature"),
    "signature-hex": (_signature_with("ab" * 64), "/signatures/0/signature"),
    # unknown fields at every level
    "unknown-top": (_set("/extra", 1), "/extra"),
    "unknown-packet": (_set("/packet/extra", 1), "/packet/extra"),
    "unknown-objection": (_set("/objections/0/extra", 1), "/objections/0/extra"),
    "unknown-acceptance": (
        _set("/objections/0/residual_acceptance/extra", 1),
        "/objections/0/residual_acceptance/extra",
    ),
    "unknown-evidence": (_set("/evidence/0/extra", 1), "/evidence/0/extra"),
    "unknown-signature": (_set("/signatures/0/extra", 1), "/signatures/0/extra"),
    "unknown-null-valued": (_set("/notes", None), "/notes"),
}
_FIELD_CASES.update(
    {
        f"owner-{name}": (_set("/release_owner", value), "/release_owner")
        for name, value in _SUBJECTS.items()
    }
)
_FIELD_CASES.update(
    {
        "raised-by-zero-width": (
            _set("/objections/0/raised_by", _SUBJECTS["zero-width-space"]),
            "/objections/0/raised_by",
        ),
        "accepted-by-space": (
            _set("/objections/0/residual_acceptance/accepted_by", "dana w"),
            "/objections/0/residual_acceptance/accepted_by",
        ),
        "signature-subject-tab": (
            _set("/signatures/0/subject", _SUBJECTS["tab"]),
            "/signatures/0/subject",
        ),
    }
)
_FIELD_CASES.update(
    {
        f"created-at-{name}": (_set("/created_at", value), "/created_at")
        for name, value in _TIMESTAMPS.items()
    }
)
_FIELD_CASES.update(
    {
        "observed-at-lowercase-z": (
            _set("/evidence/0/observed_at", _TIMESTAMPS["lowercase-z"]),
            "/evidence/0/observed_at",
        ),
        "accepted-at-leap-second": (
            _set("/objections/0/residual_acceptance/accepted_at", _TIMESTAMPS["leap-second"]),
            "/objections/0/residual_acceptance/accepted_at",
        ),
    }
)


class TestInvalidManifest:
    @pytest.mark.parametrize(("mutate", "pointer"), _FIELD_CASES.values(), ids=_FIELD_CASES.keys())
    def test_invalid_field_is_422_naming_it(
        self, client: TestClient, runtime: Runtime, build: Build, mutate: Mutate, pointer: str
    ) -> None:
        manifest = build()
        mutate(manifest)  # after signing: the shape is checked before any signature
        assert_refused(client, runtime, dumps(manifest), 422, pointer=pointer)

    @pytest.mark.parametrize("body", [b"null", b"[]", b'"manifest"', b"42", b"{}"])
    def test_document_that_is_not_a_manifest_is_422(
        self, client: TestClient, runtime: Runtime, body: bytes
    ) -> None:
        assert_refused(client, runtime, body, 422)

    def test_every_error_is_listed(
        self, client: TestClient, runtime: Runtime, build: Build
    ) -> None:
        def many(m: dict[str, Any]) -> None:
            m["manifest_id"] = ""
            m["packet"]["revision"] = 0
            m["evidence"][2]["observed_at"] = "yesterday"

        problem = assert_refused(client, runtime, dumps(build(many)), 422)
        pointers = {e["pointer"] for e in problem["errors"]}
        assert {"/manifest_id", "/packet/revision", "/evidence/2/observed_at"} <= pointers


_VALID_VARIANTS: dict[str, Mutate] = {
    "id-128": _set("/manifest_id", "r" * 128),
    "id-all-characters": _set("/manifest_id", "Az09._:@+-"),
    "subject-256": _set("/objections/0/raised_by", "p" * 256),
    "subject-unicode": _set("/objections/0/raised_by", "Zoë.Ōtake@例え.jp"),
    "subject-astral": _set("/objections/0/raised_by", "\U0001f600" * 256),
    "text-4096": _set("/objections/0/summary", "s" * 4096),
    "text-4096-astral": _set("/objections/0/summary", "\U0001f600" * 4096),
    "text-empty": _set("/evidence/0/ref", ""),
    "text-with-whitespace": _set("/objections/0/summary", "line one\nline\ttwo \u200b"),
    "created-at-nine-digits": _set("/created_at", "2026-11-26T08:00:00.123456789Z"),
    "created-at-minus-zero": _set("/created_at", "2026-11-26T08:00:00-00:00"),
    "created-at-year-0001": _set("/created_at", "0001-01-01T00:00:00Z"),
    "created-at-max-offset": _set("/created_at", "9999-12-31T23:59:59-23:59"),
    "created-at-leap-day": _set("/created_at", "2028-02-29T23:59:59+23:59"),
    "revision-max": _set("/packet/revision", 2**53 - 1),
    "supersedes-null": _set("/packet/supersedes_revision", None),
    "supersedes-one-below": _set("/packet/supersedes_revision", 2),
    "audience-32": _set(
        "/audience",
        [
            "exec-review-board",
            "customer-success-leadership",
            "support-leadership",
            *(f"x-{i}" for i in range(29)),
        ],
    ),
    "no-objections": _set("/objections", []),
}


class TestValidBoundaries:
    @pytest.mark.parametrize("mutate", _VALID_VARIANTS.values(), ids=_VALID_VARIANTS.keys())
    def test_boundary_value_is_accepted(
        self, client: TestClient, build: Build, mutate: Mutate
    ) -> None:
        decision = evaluate(client, build(mutate))
        assert all(not v["path"].startswith("/created_at") for v in decision["violations"])

    def test_zero_evidence_and_signatures_are_decided_not_refused(
        self, client: TestClient, build: Build
    ) -> None:
        def bare(m: dict[str, Any]) -> None:
            m["evidence"] = []

        decision = evaluate(client, build(bare, signers=()))
        assert decision["allow"] is False


class TestConfiguredBounds:
    @pytest.fixture
    def bounded(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[tuple[TestClient, Runtime]]:
        monkeypatch.setenv("RELEASE_GATE_MAX_SIGNATURES", "3")
        monkeypatch.setenv("RELEASE_GATE_MAX_OBJECTIONS", "2")
        monkeypatch.setenv("RELEASE_GATE_MAX_EVIDENCE", "4")
        configured = Settings(**{k: getattr(settings, k) for k in _BASE_FIELDS})
        runtime = build_runtime(configured)
        try:
            with TestClient(create_app(configured, runtime=runtime)) as client:
                yield client, runtime
        finally:
            runtime.close()

    def test_manifest_at_the_bounds_is_decided(
        self, bounded: tuple[TestClient, Runtime], build: Build
    ) -> None:
        client, _ = bounded
        assert post_raw(client, dumps(build())).json()["allow"] is True

    @pytest.mark.parametrize(
        ("extra", "pointer"),
        [
            (lambda m: m["signatures"].append(m["signatures"][0]), "/signatures"),
            (
                lambda m: m["objections"].append({**m["objections"][1], "id": "OBJ-3"}),
                "/objections",
            ),
            (lambda m: m["evidence"].append({**m["evidence"][0], "id": "EV-5"}), "/evidence"),
        ],
        ids=["signatures", "objections", "evidence"],
    )
    def test_one_over_a_configured_bound_is_422(
        self,
        bounded: tuple[TestClient, Runtime],
        build: Build,
        extra: Mutate,
        pointer: str,
    ) -> None:
        client, runtime = bounded
        manifest = build()
        extra(manifest)
        assert_refused(client, runtime, dumps(manifest), 422, pointer=pointer)

    def test_default_signature_bound_is_32(
        self, client: TestClient, runtime: Runtime, build: Build
    ) -> None:
        manifest = build()
        manifest["signatures"] = manifest["signatures"] * 11  # 33
        assert_refused(client, runtime, dumps(manifest), 422, pointer="/signatures")
        manifest["signatures"] = manifest["signatures"][:32]
        assert post_raw(client, dumps(manifest)).status_code == 200
