"""The Rego unit-test runner (``release-gate test``), on the embedded engine.

No ``opa test`` is at hand, so this loads the bundle's modules and data (as
:func:`release_gate.policy.bundle.load_bundle` reads them) plus every test module
(files under ``tests/`` or ending in ``_test.rego``), finds the ``test_*`` rules of
each test module, and evaluates them one by one. A test passes iff its value is
exactly ``true``; undefined, ``false`` or an error fails it. When every test
fails with the same engine error (a module that does not compile, such as an
unsafe variable), that error is printed once instead of once per test.

Output: one ``PASS``/``FAIL`` line per test, the line coverage of the non-test
policy modules, then ``N passed, N failed``. The exit code is 0 only when every
test passed and at least one test ran.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

import regorus

from release_gate.errors import ConfigurationError
from release_gate.policy.bundle import PolicyBundle, is_test_file, load_bundle

__all__ = ["discover_tests", "run_rego_tests"]

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)\s*$", re.MULTILINE)
_TEST_HEAD = re.compile(r"^(test_\w+)\b", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class _Outcome:
    name: str
    passed: bool
    detail: str


def discover_tests(modules: dict[str, str]) -> tuple[str, ...]:
    """The full data paths of the ``test_*`` rules of ``modules``, in file order, once each."""
    found: list[str] = []
    for _, text in sorted(modules.items()):
        package = _PACKAGE.search(text)
        if package is None:
            continue
        for head in _TEST_HEAD.finditer(text):
            name = f"data.{package.group(1)}.{head.group(1)}"
            if name not in found:
                found.append(name)
    return tuple(found)


def _test_modules(root: Path) -> dict[str, str]:
    modules: dict[str, str] = {}
    for path in sorted(root.rglob("*.rego")):
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if path.is_file() and is_test_file(rel) and not any(p.startswith(".") for p in rel.parts):
            try:
                modules[str(rel)] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigurationError(f"cannot read test module {rel}: {exc}") from exc
    return modules


def _trim_error(exc: BaseException) -> str:
    """The location and the ``error:`` line of an engine error, without the Rust backtrace."""
    text = str(exc).split("Stack backtrace:", 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    location = next((line for line in lines if line.startswith("-->")), "")
    error = next((line for line in lines if line.startswith("error:")), lines[0] if lines else "")
    return f"{location} {error}".strip() or type(exc).__name__


def _engine(bundle: PolicyBundle, tests: dict[str, str]) -> Any:
    engine = regorus.Engine()
    engine.set_enable_coverage(True)
    for path, text in {**bundle.modules, **tests}.items():
        try:
            engine.add_policy(path, text)
        except Exception as exc:  # regorus raises RuntimeError/ValueError on parse errors
            raise ConfigurationError(f"{path}: {_trim_error(exc)}") from exc
    engine.add_data_json(json.dumps(bundle.data))
    return engine


def _run_one(engine: Any, name: str) -> _Outcome:
    try:
        value = engine.eval_rule(name)
    except Exception as exc:  # any engine error fails the test, never the run
        return _Outcome(name, passed=False, detail=_trim_error(exc))
    if value is True:
        return _Outcome(name, passed=True, detail="")
    if value is None:
        return _Outcome(name, passed=False, detail=_UNDEFINED)
    return _Outcome(name, passed=False, detail=f"value {value!r}, not true")


#: Why a test whose body failed is reported undefined (as ``opa test`` would).
_UNDEFINED = "undefined: an expression in the test's body did not hold (or named a missing rule)"


def _compile_error(outcomes: list[_Outcome]) -> str | None:
    """The one engine error every test failed with: the policies do not compile."""
    details = {outcome.detail for outcome in outcomes if not outcome.passed}
    if len(outcomes) > 1 and not any(o.passed for o in outcomes) and len(details) == 1:
        (detail,) = details
        if detail != _UNDEFINED and not detail.startswith("value "):
            return detail
    return None


def _statement_lines(text: str) -> list[int]:
    """Lines of a module the engine never reported: everything but blanks, comments, headers."""
    skip = ("#", "package ", "import ")
    return [
        n
        for n, line in enumerate(text.splitlines(), 1)
        if line.strip() and not line.lstrip().startswith(skip)
    ]


def _coverage(engine: Any, modules: dict[str, str], out: TextIO) -> None:
    """Print the line coverage of ``modules`` (the non-test policy files)."""
    report = json.loads(engine.get_coverage_report_as_json())
    lines: dict[str, tuple[int, list[int]]] = {
        path: (0, _statement_lines(text)) for path, text in modules.items()
    }
    for entry in report.get("files", []):
        path = str(entry.get("path", ""))
        if path in lines:
            lines[path] = (len(entry.get("covered", [])), list(entry.get("not_covered", [])))
    covered = total = 0
    for path, (hit, missed) in sorted(lines.items()):
        covered, total = covered + hit, total + hit + len(missed)
        share = 100.0 * hit / (hit + len(missed)) if hit + len(missed) else 100.0
        gaps = f" (not covered: lines {', '.join(str(n) for n in missed)})" if missed else ""
        print(f"  {path}: {share:.1f}%{gaps}", file=out)
    percent = 100.0 * covered / total if total else 0.0
    print(f"coverage: {percent:.1f}% ({covered}/{total} lines of policy modules)", file=out)


def run_rego_tests(policy_dir: Path, *, out: TextIO) -> int:
    """Run every Rego unit test under ``policy_dir``; 0 when all pass, 1 otherwise."""
    try:
        bundle = load_bundle(policy_dir)
        tests = _test_modules(bundle.root)
        engine = _engine(bundle, tests)
    except ConfigurationError as exc:
        print(f"ERROR {exc}", file=out)
        return 1
    names = discover_tests(tests)
    outcomes = [_run_one(engine, name) for name in names]
    compile_error = _compile_error(outcomes)
    if compile_error is not None:
        print(
            f"ERROR every test failed with one error (the modules do not compile): {compile_error}",
            file=out,
        )
    else:
        for outcome in outcomes:
            suffix = f": {outcome.detail}" if outcome.detail else ""
            print(f"{'PASS' if outcome.passed else 'FAIL'} {outcome.name}{suffix}", file=out)
    _coverage(engine, bundle.modules, out)
    passed = sum(outcome.passed for outcome in outcomes)
    failed = len(outcomes) - passed
    if not outcomes:
        print(f"no test_* rule found under {bundle.root}", file=out)
    print(f"{passed} passed, {failed} failed", file=out)
    return 0 if outcomes and not failed else 1
