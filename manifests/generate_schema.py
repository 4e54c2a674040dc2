"""Write manifests/manifest.schema.json from the pydantic models (the source of truth).

Run from the repository root:  python manifests/generate_schema.py
A test checks that the committed file is current. The schema describes the shape
(contract section 1); rules a JSON Schema cannot state (subject character
categories, strict RFC 3339 timestamps, canonical base64url, unique ids,
supersedes_revision < revision, I-JSON) are enforced by the gate and listed in
the description.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from release_gate.decision.manifest import Manifest

SCHEMA_PATH = Path(__file__).resolve().parent / "manifest.schema.json"
SCHEMA_ID = "https://release-gate.dev/schemas/manifest/v1.json"

DESCRIPTION = (
    "A release manifest (manifest_version 1): asks release-gate to approve one exact "
    "disclosure-packet revision into one bounded intake lane. Generated from "
    "release_gate.decision.manifest.Manifest; do not edit by hand. The gate also enforces what a "
    "JSON Schema cannot state: the body is I-JSON (RFC 7493, nesting <= 32); subjects are "
    "1-256 code points with none in Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs; text is at most 4096 "
    "code points; timestamps are RFC 3339 YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM) "
    "with uppercase T and Z, years 0001-9999, no leap second; signatures are canonical "
    "unpadded base64url of 64 bytes; ids in audience, requested_actions, objections and "
    "evidence are unique; supersedes_revision < revision; a resolved objection has no "
    "residual_acceptance; signatures, objections and evidence are bounded by "
    "RELEASE_GATE_MAX_SIGNATURES (32), _MAX_OBJECTIONS (1000) and _MAX_EVIDENCE (1000)."
)


def render() -> str:
    """The exact text of manifests/manifest.schema.json."""
    generated = Manifest.model_json_schema()
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "release-gate manifest v1",
        "description": DESCRIPTION,
        **{k: v for k, v in generated.items() if k not in ("title", "description")},
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    SCHEMA_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")  # noqa: T201


if __name__ == "__main__":
    main()
