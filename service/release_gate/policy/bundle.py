"""Loading ``policies/`` as an OPA bundle.

Layout (OPA's bundle format)::

    policies/
      .manifest                     {"revision": "...", "roots": [...]}
      release/<topic>.rego          policies (package release.<topic>)
      lib/<name>.rego               shared helpers
      governance/data.json          mounted at data.governance
      tests/*_test.rego             unit tests: never part of the bundle or its digest

A ``data.json`` file is mounted at its directory path (``governance/data.json``
becomes ``data.governance``; a ``data.json`` at the root is merged into ``data``).

The policy digest (contract section 4) is
``"sha256:" + hex(sha256(JCS([[path, hex(sha256(content))], ...])))`` over the
bundle's ``*.rego`` files (tests excluded) and ``data.json`` files, sorted by path.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import rfc8785

from release_gate.errors import ConfigurationError

__all__ = [
    "PolicyBundle",
    "is_test_file",
    "load_bundle",
]


def is_test_file(relpath: PurePosixPath) -> bool:
    """Test modules live under ``tests/`` or end in ``_test.rego``; bundles exclude them."""
    return relpath.parts[:1] == ("tests",) or relpath.name.endswith("_test.rego")


@dataclass(frozen=True, slots=True)
class PolicyBundle:
    """One loaded bundle: its modules, its data, and what names it."""

    root: Path
    revision: str
    roots: tuple[str, ...]
    modules: dict[str, str]  # relative posix path -> Rego text (tests excluded)
    data: dict[str, Any]  # the merged data document
    data_files: dict[str, str]  # relative posix path -> JSON text
    digest: str

    @property
    def governance(self) -> dict[str, Any]:
        governance = self.data.get("governance")
        return governance if isinstance(governance, dict) else {}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read policy file {path}: {exc}") from exc


def _mount(data: dict[str, Any], relpath: PurePosixPath, value: Any, *, where: str) -> None:
    node = data
    for part in relpath.parent.parts:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigurationError(f"{where}: data path {relpath.parent} collides with a value")
        node = child
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where}: a data.json document must be a JSON object")
    for key, item in value.items():
        if key in node:
            raise ConfigurationError(f"{where}: data key {key!r} is defined twice")
        node[key] = item


def _policy_digest(files: dict[str, str]) -> str:
    entries = [
        [path, hashlib.sha256(text.encode("utf-8")).hexdigest()]
        for path, text in sorted(files.items())
    ]
    return "sha256:" + hashlib.sha256(rfc8785.dumps(entries)).hexdigest()


def _read_manifest(root: Path) -> tuple[str, tuple[str, ...]]:
    manifest_path = root / ".manifest"
    if not manifest_path.is_file():
        raise ConfigurationError(f"{root} has no .manifest (needs revision and roots)")
    try:
        manifest = json.loads(_read_text(manifest_path))
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{manifest_path} is not JSON: {exc}") from exc
    revision = manifest.get("revision") if isinstance(manifest, dict) else None
    roots = manifest.get("roots", [""]) if isinstance(manifest, dict) else None
    if not isinstance(revision, str) or not revision:
        raise ConfigurationError(f"{manifest_path}: revision must be a non-empty string")
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise ConfigurationError(f"{manifest_path}: roots must be an array of strings")
    return revision, tuple(roots)


def load_bundle(root: Path) -> PolicyBundle:
    """Read a bundle directory. Raises :class:`ConfigurationError` on any problem."""
    root = root.resolve()
    if not root.is_dir():
        raise ConfigurationError(f"policy directory {root} does not exist")
    revision, roots = _read_manifest(root)
    modules: dict[str, str] = {}
    data_files: dict[str, str] = {}
    data: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if any(part.startswith(".") for part in rel.parts) or is_test_file(rel):
            continue
        if rel.suffix == ".rego":
            modules[str(rel)] = _read_text(path)
        elif rel.name == "data.json":
            text = _read_text(path)
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigurationError(f"{rel} is not JSON: {exc}") from exc
            _mount(data, rel, value, where=str(rel))
            data_files[str(rel)] = text
    if not modules:
        raise ConfigurationError(f"{root} holds no policy modules")
    return PolicyBundle(
        root=root,
        revision=revision,
        roots=roots,
        modules=modules,
        data=data,
        data_files=data_files,
        digest=_policy_digest({**modules, **data_files}),
    )
