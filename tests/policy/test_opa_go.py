"""The Rego on real OPA semantics: ``opa test`` and what stands in for ``opa check --strict``.

Runs on OPA's own Go evaluator in-process (``opa_bindings``, OPA v1.20.2, see
``tests/parity/opa_go.py``); skipped with that reason where it is not installed.
With an ``opa`` binary, ``make test`` also runs the real ``opa test`` and ``opa
check --strict``; these stand in for them where there is none.

- ``opa test``: every ``test_*`` rule of ``policies/tests/`` evaluated on OPA,
  with the bundle's modules and data, must be exactly ``true``. OPA's parser
  (``rego.parse_module``) confirms the test discovery misses no test rule.
- ``opa check``: OPA compiles every module (parse, v1 syntax, safety, types,
  and the deprecated built-ins, which OPA 1.x no longer knows at all).
- ``opa check --strict``: the bridge compiles with strict mode off (shown by a
  test below), so its checks are re-done here on the AST from OPA's own parser:
  unused and duplicate imports, unused local assignments, unused ``some``
  variables and unused function arguments, ``input``/``data`` as local names.
- One more check of our own, for a difference between the engines: no negated
  expression looks up a value that OPA hoists out of the negation (see
  docs/policy-authors.md, "regorus vs OPA").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.rego_tests import discover_tests
from tests.parity.opa_go import SKIP_REASON, OpaGoEngine, bindings, load_engine, opa_go_available

pytestmark = pytest.mark.skipif(not opa_go_available(), reason=SKIP_REASON)

POLICIES = Path(__file__).resolve().parents[2] / "policies"
TEST_MODULES = {
    path.relative_to(POLICIES).as_posix(): path.read_text(encoding="utf-8")
    for path in sorted((POLICIES / "tests").glob("*_test.rego"))
}
TESTS = discover_tests(TEST_MODULES)

#: Names OPA's parser gives the wildcard ``_`` ($0, $1, ...) and the keywords it rewrites.
_NOT_LOCAL = ("$", "_")
_EQUALITY = ("equal", "eq")  # OPA keeps plain refs inside a negated `==`


@pytest.fixture(scope="module")
def bundle(gate_policies: Path) -> PolicyBundle:
    return load_bundle(gate_policies)


@pytest.fixture(scope="module")
def opa(bundle: PolicyBundle) -> Iterator[Any]:
    engine = load_engine({**bundle.modules, **TEST_MODULES}, bundle.data)
    yield engine
    engine.close()


def _parse(opa: Any, path: str, text: str) -> dict[str, Any]:
    """The module's AST as OPA's parser gives it (``rego.parse_module``)."""
    rows = opa.eval_query(f"ast := rego.parse_module({json.dumps(path)}, {json.dumps(text)})")
    assert rows, f"OPA could not parse {path}"
    ast: dict[str, Any] = rows[0]["ast"]
    return ast


# -- opa test ---------------------------------------------------------------------------


class TestOpaTest:
    @pytest.mark.parametrize("name", TESTS)
    def test_rego_unit_test_passes_on_opa(self, opa: Any, name: str) -> None:
        opa_bindings = bindings()
        try:
            value = opa.eval_document(name.removeprefix("data."))
        except opa_bindings.OpaUndefinedError:
            value = "undefined"
        assert value is True, f"{name} is {value!r} on OPA"

    def test_discovery_finds_every_test_rule_opa_parses(self, opa: Any) -> None:
        parsed = set()
        for path, text in TEST_MODULES.items():
            ast = _parse(opa, path, text)
            package = ".".join(str(term["value"]) for term in ast["package"]["path"])
            parsed |= {
                f"{package}.{rule['head']['name']}"
                for rule in ast.get("rules", [])
                if str(rule["head"].get("name", "")).startswith("test_")
            }
        assert parsed == set(TESTS)
        assert len(TESTS) >= 32

    def test_bundle_compiles_on_opa_without_the_tests(self, bundle: PolicyBundle) -> None:
        OpaGoEngine(bundle).close()


# -- what the bridge's compiler checks, and what it does not ----------------------------


class TestOpaCompiler:
    def test_deprecated_builtins_are_rejected_by_opa_itself(self) -> None:
        opa_bindings = bindings()
        engine = opa_bindings.OpaEngine()
        try:
            engine.add_policy("p.rego", "package p\n\nx := any([true])\n")
            with pytest.raises(opa_bindings.OpaError, match="deprecated built-in"):
                engine.eval_query("y := 1")
        finally:
            engine.close()

    def test_strict_mode_is_off_in_the_bridge(self) -> None:
        """Why the lint below exists: OPA accepts what `opa check --strict` refuses."""
        opa_bindings = bindings()
        engine = opa_bindings.OpaEngine()
        try:
            engine.add_policy("p.rego", "package p\n\nimport data.q\n\nx if {\n\ty := 1\n}\n")
            assert engine.eval_document("p.x") is True
        finally:
            engine.close()


# -- the strict checks, on OPA's AST ----------------------------------------------------


def _vars(node: Any, *, skip_operator: bool = False) -> Iterator[str]:
    """Every variable name in ``node``, leaving out rule names and called functions."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            if not (skip_operator and i == 0):
                yield from _vars(item)
    elif isinstance(node, dict):
        kind, value = node.get("type"), node.get("value")
        if kind == "var" and isinstance(value, str):
            yield value
        elif kind == "call":
            yield from _vars(value, skip_operator=True)
        elif kind is not None:
            yield from _vars(value)
        else:
            for key, item in node.items():
                if key in ("name", "location", "annotations"):
                    continue
                if key == "ref":  # a rule head: its first element is the rule's own name
                    yield from _vars(item[1:])
                elif key == "terms" and isinstance(item, list):
                    yield from _vars(item, skip_operator=True)
                else:
                    yield from _vars(item)


def _exprs(body: list[Any]) -> Iterator[dict[str, Any]]:
    """Every expression of ``body``, and of the comprehensions and ``every`` bodies within."""
    for expr in body:
        yield expr
        for nested in _bodies(expr.get("terms")):
            yield from _exprs(nested)


def _bodies(node: Any) -> Iterator[list[Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _bodies(item)
    elif isinstance(node, dict):
        if isinstance(node.get("body"), list):
            yield node["body"]
        for key, item in node.items():
            if key != "body":
                yield from _bodies(item)


def _rule_exprs(rule: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every expression of the rule's body, and of comprehensions in its head."""
    yield from _exprs(rule.get("body", []))
    for body in _bodies(rule["head"]):
        yield from _exprs(body)


def _is_op(term: Any, *names: str) -> bool:
    return (
        isinstance(term, dict)
        and term.get("type") == "ref"
        and len(term["value"]) == 1
        and term["value"][0].get("value") in names
    )


def _declared(rule: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, name) of each local the rule introduces: arguments, `:=` targets, `some` variables."""
    for arg in rule["head"].get("args") or []:
        yield from (("argument", name) for name in _vars(arg))
    for expr in _rule_exprs(rule):
        terms = expr.get("terms")
        if isinstance(terms, list) and terms and _is_op(terms[0], "assign"):
            yield from (("assignment", name) for name in _vars(terms[1]))
        elif isinstance(terms, dict) and "symbols" in terms:
            for symbol in terms["symbols"]:
                if symbol.get("type") == "call":  # some k, v in domain: not the domain
                    for term in symbol["value"][1:-1]:
                        yield from (("some", name) for name in _vars(term))
                else:
                    yield from (("some", name) for name in _vars(symbol))


def _rules(ast: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for rule in ast.get("rules", []):
        while rule:
            yield rule
            rule = rule.get("else")


def _hoisted(expr: dict[str, Any], known: set[str]) -> list[str]:
    """Lookups in a negated expression that OPA evaluates *before* the `not`.

    OPA rewrites `not f(x.y)` to `t := x.y; not f(t)` (and likewise a ref used as
    a key, `not obj[x.y]`, and every operator except `==`), so when `x.y` is
    undefined the line is undefined on OPA but true on regorus. A lookup in
    ``input`` or in a local variable may be undefined; a rule or an import
    (``trust.agents``, a set that is always defined), in ``known``, is fine.
    """
    terms = expr.get("terms")
    if isinstance(terms, list):
        operands = terms[1:]
        keep_plain_refs = _is_op(terms[0], *_EQUALITY)
    elif isinstance(terms, dict) and terms.get("type") == "ref":
        operands, keep_plain_refs = list(terms["value"][1:]), False
    else:
        return []
    found: list[str] = []
    for operand in operands:
        if keep_plain_refs and operand.get("type") == "ref":
            operand = {"type": "array", "value": operand["value"][1:]}  # its keys still count
        found.extend(_lookups(operand, known))
    return found


def _lookups(node: Any, known: set[str]) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _lookups(item, known)
    elif isinstance(node, dict):
        if node.get("type") == "ref":
            head = node["value"][0]
            name = head.get("value") if head.get("type") == "var" else None
            local = isinstance(name, str) and name not in known and name != "data"
            if len(node["value"]) > 1 and (name == "input" or local):
                yield ".".join(str(t.get("value")) for t in node["value"])
        if node.get("type") == "call":  # the arguments, not the function's name
            yield from _lookups(node["value"][1:], known)
        elif node.get("type") in ("ref", "array", "set", "object"):
            yield from _lookups(node["value"], known)


def strict_findings(ast: dict[str, Any]) -> list[str]:
    """What `opa check --strict` (plus the hoisting check) would say about one module."""
    found: list[str] = []
    used = {name for rule in _rules(ast) for name in _vars(rule)}
    aliases: list[str] = []
    for imported in ast.get("imports", []):
        path = [str(term["value"]) for term in imported["path"]["value"]]
        if path[0] in ("rego", "future"):
            continue
        alias = imported.get("alias") or path[-1]
        if alias in aliases:
            found.append(f"duplicate import {alias}")
        aliases.append(alias)
        if alias not in used:
            found.append(f"unused import {'.'.join(path)}")
    known = set(aliases) | {str(rule["head"]["ref"][0]["value"]) for rule in _rules(ast)}
    for rule in _rules(ast):
        name = rule["head"].get("name") or rule["head"]["ref"][0]["value"]
        occurrences: dict[str, int] = {}
        for var in _vars(rule):
            occurrences[var] = occurrences.get(var, 0) + 1
        for kind, var in _declared(rule):
            if var.startswith(_NOT_LOCAL):
                continue
            if var in ("input", "data"):
                found.append(f"{name}: {kind} {var} shadows a root document")
            elif occurrences.get(var, 0) <= 1:
                found.append(f"{name}: unused {kind} {var}")
        for expr in _rule_exprs(rule):
            if expr.get("negated"):
                found.extend(
                    f"{name}: `not` over {ref}, which OPA hoists" for ref in _hoisted(expr, known)
                )
    return found


ALL_MODULES = {
    path.relative_to(POLICIES).as_posix(): path.read_text(encoding="utf-8")
    for path in sorted(POLICIES.rglob("*.rego"))
}


class TestStrict:
    @pytest.mark.parametrize("path", sorted(ALL_MODULES))
    def test_module_passes_the_strict_checks(self, opa: Any, path: str) -> None:
        assert strict_findings(_parse(opa, path, ALL_MODULES[path])) == []

    @pytest.mark.parametrize(
        ("snippet", "finding"),
        [
            ("import data.lib.units\n\nx := 1\n", "unused import data.lib.units"),
            (
                "import data.a.b\nimport data.c.b\n\nx := b.y\n",
                "duplicate import b",
            ),
            ("x if {\n\ty := 1\n}\n", "x: unused assignment y"),
            ("x if {\n\tsome k\n\tinput.a\n}\n", "x: unused some k"),
            ("x if {\n\tsome i, v in input.a\n\tv\n}\n", "x: unused some i"),
            ("f(a, b) := a\n", "f: unused argument b"),
            ("x := [y | some y in input.a; z := y]\n", "x: unused assignment z"),
            ("x if {\n\tinput := 1\n\tinput\n}\n", "x: assignment input shadows a root document"),
            (
                'x if {\n\tnot input.a.b in {"v"}\n}\n',
                "x: `not` over input.a.b, which OPA hoists",
            ),
            (
                'x if {\n\tsome item in input.a\n\tnot startswith(item.s, "v")\n}\n',
                "x: `not` over item.s, which OPA hoists",
            ),
            ("x if {\n\tnot input.a[input.k]\n}\n", "x: `not` over input.k, which OPA hoists"),
            ("x if {\n\tnot input.a != 1\n}\n", "x: `not` over input.a, which OPA hoists"),
        ],
    )
    def test_checks_catch(self, opa: Any, snippet: str, finding: str) -> None:
        ast = _parse(opa, "p.rego", f"package p\n\n{snippet}")
        assert finding in strict_findings(ast)

    @pytest.mark.parametrize(
        "snippet",
        [
            "import data.lib.units\n\nx := units.ns_per_second\n",
            "x if {\n\ty := 1\n\ty > 0\n}\n",
            "f(a, _) := a\n",
            "x contains i if {\n\tsome i, _ in input.a\n}\n",
            'x if {\n\tnot input.a == "v"\n}\n',
            "x if {\n\tnot input.a\n}\n",
            "s contains 1\n\nx if {\n\tnot 2 in s\n}\n",
            "x if {\n\tsome item in input.a\n\tv := item.s\n\tnot v in {1}\n}\n",
        ],
    )
    def test_checks_accept(self, opa: Any, snippet: str) -> None:
        assert strict_findings(_parse(opa, "p.rego", f"package p\n\n{snippet}")) == []
