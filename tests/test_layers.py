"""The layers hold: read from the import statements of every module (``ast``, no imports run).

The client never imports the service; the decision path, policy engines, store, keys and
operations never import the HTTP, CLI or app layers; no module imports itself round a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import ROOT

PACKAGES = {"release_gate": ROOT / "service", "release_gate_client": ROOT / "clients"}
LOWER = ("decision", "policy", "store", "keys", "ops")
UPPER = ("release_gate.api", "release_gate.cli", "release_gate.app", "release_gate.runtime")


def _modules() -> dict[str, Path]:
    found = {}
    for package, parent in PACKAGES.items():
        for path in (parent / package).rglob("*.py"):
            parts = path.relative_to(parent).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports (``from pkg import mod`` names ``pkg.mod``)."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                targets.add(submodule if submodule in MODULES else node.module)
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


class TestLayers:
    def test_the_client_never_imports_the_service(self) -> None:
        leaks = {
            f"{m} -> {t}"
            for m, targets in GRAPH.items()
            if _under(m, "release_gate_client")
            for t in targets
            if _under(t, "release_gate")
        }
        assert not leaks

    def test_the_core_never_imports_http_cli_or_app(self) -> None:
        leaks = {
            f"{m} -> {t}"
            for m, targets in GRAPH.items()
            if any(_under(m, f"release_gate.{layer}") for layer in LOWER)
            for t in targets
            if any(_under(t, upper) for upper in UPPER)
        }
        assert not leaks

    def test_no_import_cycle(self) -> None:
        done: set[str] = set()

        def visit(node: str, path: list[str]) -> list[str] | None:
            for target in sorted(GRAPH[node]):
                if target in path:
                    return [*path[path.index(target) :], target]
                if target not in done and (cycle := visit(target, [*path, target])):
                    return cycle
            done.add(node)
            return None

        cycles = [c for m in sorted(GRAPH) if m not in done and (c := visit(m, [m]))]
        assert not cycles, " -> ".join(cycles[0])

    def test_the_reader_sees_every_module(self) -> None:
        assert {"release_gate.decision.decide", "release_gate_client.verify"} <= set(MODULES)
        assert "release_gate.store.db" in GRAPH["release_gate.store"]
