"""Hypothesis properties of the decision path (real gate, real crypto, real store)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release_gate.decision.canonical import manifest_digest
from release_gate.decision.parse import parse_ijson
from release_gate.runtime import Runtime
from tests.helpers import AGENT, COMMS, CS, DEFAULT_SIGNERS, OWNER, Signer, base_manifest, sign

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
REQUIRED = {OWNER[1], COMMS[1], CS[1]}
TOMAS_CS = ("tomas.lindqvist@example.com", CS[1], "tomas-2026-01", "tomas-lindqvist")
TOMAS_COMMS = ("tomas.lindqvist@example.com", COMMS[1], "tomas-2026-01", "tomas-lindqvist")
REVOKED_COMMS = (COMMS[0], COMMS[1], "marcus-2025-05", "marcus-oyelaran-2025-revoked")
ROLE_NOT_HELD = (OWNER[0], COMMS[1], OWNER[2], OWNER[3])
FORGED_CS = (CS[0], CS[1], CS[2], "tomas-lindqvist")  # priya's name, tomas's key
# (signer, is it a valid human signature for its role?)
POOL: list[tuple[Signer, bool]] = [
    (OWNER, True),
    (COMMS, True),
    (CS, True),
    (TOMAS_CS, True),
    (TOMAS_COMMS, True),
    (AGENT, False),
    (REVOKED_COMMS, False),
    (ROLE_NOT_HELD, False),
    (FORGED_CS, False),
]
FIXED_NOW = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
FIXED_NOW_NS = int(FIXED_NOW.timestamp()) * 1_000_000_000


def _shuffled(value: Any, data: st.DataObject) -> Any:
    if isinstance(value, dict):
        keys = data.draw(st.permutations(sorted(value)))
        return {k: _shuffled(value[k], data) for k in keys}
    if isinstance(value, list):
        return [_shuffled(v, data) for v in value]
    return value


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _changed(value: Any, key: Any) -> Any:
    """A different value of the same valid shape."""
    if value is None:  # a null acceptance: filling it in is a shape change, not a value change
        return value
    if isinstance(value, int):
        return value - 1 if key == "supersedes_revision" else value + 1
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value):
        return value[:-2] + ("1" if value[-2] != "1" else "2") + "Z"
    if value.startswith("sha256:"):
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    if value in ("open", "resolved", "1"):  # status, manifest_version: one valid value each
        return value
    return value + "x"


class TestDigestProperties:
    @SETTINGS
    @given(data=st.data(), indent=st.sampled_from([None, 0, 1, 4]), spaced=st.booleans())
    def test_digest_ignores_key_order_and_whitespace(
        self, data: st.DataObject, indent: int | None, spaced: bool
    ) -> None:
        manifest = base_manifest()
        separators = (" , ", " : ") if spaced else (",", ":")
        text = json.dumps(_shuffled(manifest, data), indent=indent, separators=separators)
        assert manifest_digest(parse_ijson(text.encode(), max_depth=32)) == manifest_digest(
            manifest
        )


class TestSignatureProperties:
    @SETTINGS
    @given(data=st.data())
    def test_changing_any_field_invalidates_every_signature(
        self, runtime: Runtime, data: st.DataObject
    ) -> None:
        signed = sign(copy.deepcopy(base_manifest(FIXED_NOW)), *DEFAULT_SIGNERS)
        fields = [p for p in _leaves(signed) if p[0] != "signatures"]
        path = data.draw(st.sampled_from(fields))
        node: Any = signed
        for part in path[:-1]:
            node = node[part]
        new = _changed(node[path[-1]], path[-1])
        if new == node[path[-1]]:
            return  # a field with no other valid value of its shape (objection status)
        node[path[-1]] = new
        body = json.dumps(signed).encode()
        decision = runtime.require_gate().evaluate(body, now_ns=FIXED_NOW_NS)
        assert decision.allow is False
        invalid = {v.path for v in decision.violations if v.code == "signature.invalid"}
        assert invalid == {f"/signatures/{i}" for i in range(len(DEFAULT_SIGNERS))}

    @SETTINGS
    @given(chosen=st.lists(st.sampled_from(POOL), max_size=6))
    def test_no_token_without_a_valid_signature_for_every_required_role(
        self, runtime: Runtime, chosen: list[tuple[Signer, bool]]
    ) -> None:
        signers = [signer for signer, _ in chosen]
        covered = {signer[1] for signer, valid in chosen if valid}
        manifest = sign(copy.deepcopy(base_manifest()), *signers)
        decision = runtime.require_gate().evaluate(json.dumps(manifest).encode())
        if not REQUIRED <= covered:
            assert decision.allow is False
            assert decision.token is None
        if decision.allow:
            assert decision.token is not None
            assert REQUIRED <= covered
