"""The committed JSON Schema and examples in manifests/ are current and agree with the gate."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema_rs
import pytest

from release_gate.decision.manifest import Limits, validate_manifest
from release_gate.decision.parse import parse_ijson
from release_gate.errors import InvalidManifest
from tests.helpers import OWNER, ROOT, base_manifest, sign

MANIFESTS = ROOT / "manifests"
EXAMPLES = MANIFESTS / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, MANIFESTS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    value: dict[str, Any] = json.loads((MANIFESTS / "manifest.schema.json").read_text())
    return value


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for(schema)


def _example_paths() -> list[Path]:
    return sorted(EXAMPLES.glob("*.json"))


class TestSchemaFile:
    def test_committed_schema_is_generated_from_the_models(self) -> None:
        committed = (MANIFESTS / "manifest.schema.json").read_text(encoding="utf-8")
        assert committed == _load("generate_schema").render(), (
            "manifests/manifest.schema.json is stale: run python manifests/generate_schema.py"
        )

    def test_schema_names_itself(self, schema: dict[str, Any]) -> None:
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].startswith("https://")
        assert schema["title"]
        assert schema["description"]

    def test_schema_requires_every_field_and_forbids_unknown_ones(
        self, schema: dict[str, Any]
    ) -> None:
        assert (
            set(schema["required"])
            == set(schema["properties"])
            == {
                "manifest_version",
                "manifest_id",
                "created_at",
                "packet",
                "lane",
                "audience",
                "requested_actions",
                "release_owner",
                "objections",
                "evidence",
                "signatures",
            }
        )
        assert schema["additionalProperties"] is False
        for name, definition in schema["$defs"].items():
            assert definition["additionalProperties"] is False, name
            assert set(definition["required"]) == set(definition["properties"]), name


class TestExamplesAreCurrent:
    def test_committed_examples_match_the_generator(self) -> None:
        rendered: dict[str, str] = _load("generate_examples").render()
        on_disk = {p.name: p.read_text(encoding="utf-8") for p in _example_paths()}
        assert on_disk == rendered, (
            "manifests/examples is stale: run python manifests/generate_examples.py"
        )


class TestExamplesValidate:
    @pytest.mark.parametrize("path", _example_paths(), ids=lambda p: p.name)
    def test_example_validates_against_the_schema(self, validator: Any, path: Path) -> None:
        document = json.loads(path.read_text())
        errors = [str(e) for e in validator.iter_errors(document)]
        assert errors == []

    @pytest.mark.parametrize("path", _example_paths(), ids=lambda p: p.name)
    def test_example_validates_as_a_manifest(self, path: Path) -> None:
        document = parse_ijson(path.read_bytes(), max_depth=32)
        manifest = validate_manifest(document, limits=Limits())
        assert manifest.manifest_version == "1"

    def test_schema_and_gate_both_refuse_an_unknown_field(self, validator: Any) -> None:
        document = {**sign(base_manifest(), OWNER), "extra": 1}
        assert not validator.is_valid(document)
        with pytest.raises(InvalidManifest, match="/extra"):
            validate_manifest(document, limits=Limits())

    @pytest.mark.parametrize(
        ("pointer", "value"),
        [
            ("manifest_id", "has space"),
            ("manifest_version", "2"),
            ("audience", []),
            ("release_owner", 42),
        ],
    )
    def test_schema_and_gate_agree_on_shape_errors(
        self, validator: Any, pointer: str, value: Any
    ) -> None:
        document = {**base_manifest(), pointer: value}
        assert not validator.is_valid(document)
        with pytest.raises(InvalidManifest, match=f"/{pointer}"):
            validate_manifest(document, limits=Limits())
