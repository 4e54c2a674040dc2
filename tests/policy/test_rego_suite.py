"""The Rego unit-test runner (``release-gate test``) on the real policies and on broken copies.

The real policies: the repository's rules and Rego tests with the tests' own
governance data (the ``rego_policies`` fixture), copied where a test breaks them.
"""

from __future__ import annotations

import io
import re
import shutil
import traceback
from pathlib import Path
from typing import Any

import pytest
import regorus

from release_gate.policy.bundle import load_bundle
from release_gate.policy.embedded import EmbeddedEngine
from release_gate.policy.engine import PolicyEngineError
from release_gate.policy.rego_tests import discover_tests, run_rego_tests


def _run(policy_dir: Path) -> tuple[int, str]:
    out = io.StringIO()
    code = run_rego_tests(policy_dir, out=out)
    return code, out.getvalue()


@pytest.fixture
def bundle_copy(tmp_path: Path, rego_policies: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(rego_policies, target)
    return target


class TestRunRegoTests:
    def test_policy_suite_passes_with_a_coverage_figure(self, rego_policies: Path) -> None:
        code, output = _run(rego_policies)
        assert code == 0, output
        assert "FAIL" not in output
        summary = re.search(r"^(\d+) passed, 0 failed$", output, re.MULTILINE)
        assert summary is not None
        assert int(summary.group(1)) >= 32  # a firing and a non-firing case per code
        coverage = re.search(
            r"^coverage: (\d+\.\d)% \(\d+/\d+ lines of policy modules\)$", output, re.M
        )
        assert coverage is not None
        assert float(coverage.group(1)) >= 90.0

    def test_one_line_per_test(self, rego_policies: Path) -> None:
        _, output = _run(rego_policies)
        assert "PASS data.release.gate_test.test_decision_allowed_when_every_rule_passes" in output
        assert (
            "PASS data.release.evidence_test.test_stale_allowed_when_age_is_exactly_maximum"
            in output
        )

    def test_failing_and_erroring_tests_exit_1(self, bundle_copy: Path) -> None:
        (bundle_copy / "tests" / "broken_test.rego").write_text(
            "package release.broken_test\n\nimport rego.v1\n\n"
            "test_false_denied_when_false if {\n\tfalse\n}\n\n"
            'test_error_denied_when_unsupported_verb if {\n\tsprintf("%q", ["x"]) == "x"\n}\n\n'
            "test_undefined_denied_when_undefined if {\n\tinput.nothing\n}\n",
            encoding="utf-8",
        )
        code, output = _run(bundle_copy)
        assert code == 1
        assert "FAIL data.release.broken_test.test_false_denied_when_false: undefined" in output
        assert "FAIL data.release.broken_test.test_undefined_denied_when_undefined" in output
        error_line = next(line for line in output.splitlines() if "test_error_denied" in line)
        assert error_line.startswith("FAIL ")
        assert "Stack backtrace" not in output
        assert re.search(r"\d+ passed, 3 failed", output)

    def test_a_module_that_does_not_compile_is_one_error_not_one_per_test(
        self, bundle_copy: Path
    ) -> None:
        (bundle_copy / "tests" / "unsafe_test.rego").write_text(
            "package release.unsafe_test\n\nimport rego.v1\n\n"
            "test_unsafe_denied_when_variable_is_unbound if {\n\tno_such_var == 1\n}\n",
            encoding="utf-8",
        )
        code, output = _run(bundle_copy)
        assert code == 1
        errors = [line for line in output.splitlines() if line.startswith("ERROR ")]
        assert len(errors) == 1, output
        assert "no_such_var" in errors[0] or "undefined variable" in errors[0]
        assert "unsafe_test.rego" in errors[0]
        assert not [line for line in output.splitlines() if line.startswith("FAIL ")]
        assert re.search(r"^0 passed, \d+ failed$", output, re.MULTILINE)

    def test_no_tests_exit_1(self, bundle_copy: Path) -> None:
        shutil.rmtree(bundle_copy / "tests")
        code, output = _run(bundle_copy)
        assert code == 1
        assert "0 passed, 0 failed" in output
        assert "no test_* rule found" in output

    def test_unparsable_test_module_exits_1(self, bundle_copy: Path) -> None:
        (bundle_copy / "tests" / "bad_test.rego").write_text(
            "package release.bad_test\n\nimport rego.v1\n\ntest_x_denied_when_y if {\n",
            encoding="utf-8",
        )
        code, output = _run(bundle_copy)
        assert code == 1
        assert output.startswith("ERROR tests/bad_test.rego")

    def test_missing_bundle_exits_1(self, tmp_path: Path) -> None:
        code, output = _run(tmp_path / "nowhere")
        assert code == 1
        assert output.startswith("ERROR ")

    def test_policy_change_breaks_a_boundary_test(self, bundle_copy: Path) -> None:
        evidence = bundle_copy / "release" / "evidence.rego"
        text = evidence.read_text(encoding="utf-8")
        evidence.write_text(text.replace("age_ns > max_age", "age_ns >= max_age"), encoding="utf-8")
        code, output = _run(bundle_copy)
        assert code == 1
        assert (
            "FAIL data.release.evidence_test.test_stale_allowed_when_age_is_exactly_maximum"
            in output
        )


class TestDiscoverTests:
    def test_finds_test_rules_once_each_in_file_order(self) -> None:
        modules = {
            "tests/b_test.rego": "package release.b_test\n\ntest_two if true\ntest_one if true\n"
            "test_one if false\nhelper if true\n",
            "tests/a_test.rego": "package release.a_test\n\ntest_a if true\n",
        }
        assert discover_tests(modules) == (
            "data.release.a_test.test_a",
            "data.release.b_test.test_two",
            "data.release.b_test.test_one",
        )

    def test_module_without_package_is_skipped(self) -> None:
        assert discover_tests({"x.rego": "test_a if true\n"}) == ()


def _frames(exc: BaseException | None) -> list[Any]:
    """Every frame of ``exc``'s traceback and of its causes and contexts."""
    frames = []
    while exc is not None:
        frames += [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
        exc = exc.__cause__ or exc.__context__
    return frames


class TestEmbeddedEnginePanics:
    def test_a_failed_evaluation_keeps_no_engine_in_its_traceback(self, tmp_path: Path) -> None:
        """The error leaves the engine's thread; an engine its frames held would be freed
        later, by the garbage collector, on another thread (a pyo3 error in some teardown)."""
        (tmp_path / ".manifest").write_text('{"revision": "t-1", "roots": ["release"]}')
        (tmp_path / "release").mkdir()
        (tmp_path / "release" / "gate.rego").write_text(
            "package release.gate\n\nimport rego.v1\n\n"
            'decision := {"allow": true} if input.a\n\n'
            'decision := {"allow": false} if input.b\n'
        )
        engine = EmbeddedEngine(load_bundle(tmp_path), threads=1)
        try:
            with pytest.raises(PolicyEngineError, match="evaluation failed") as info:
                engine.evaluate('{"a": true, "b": true}')
        finally:
            engine.close()
        held = [
            name
            for frame in _frames(info.value)
            for name, value in frame.f_locals.items()
            if isinstance(value, regorus.Engine)
        ]
        assert held == []

    def test_a_rust_panic_is_an_engine_error_not_a_crash(self, gate_policies: Path) -> None:
        foreign = regorus.Engine()  # built on this thread: using it on another panics in pyo3
        engine = EmbeddedEngine(load_bundle(gate_policies), threads=1, builder=lambda _: foreign)
        try:
            with pytest.raises(PolicyEngineError, match="panicked"):
                engine.evaluate("{}")
            with pytest.raises(PolicyEngineError, match="panicked"):
                engine.evaluate("{}")  # the thread survives its panic
        finally:
            engine.close()  # the thread drops its reference; ``foreign`` dies here, on its own

    def test_engines_outlive_no_thread_of_theirs(self, gate_policies: Path) -> None:
        """Built, used and dropped on their own threads: close leaves no engine behind."""
        engine = EmbeddedEngine(load_bundle(gate_policies), threads=2)
        threads = list(engine._threads)
        engine.close()
        assert not any(t.is_alive() for t in threads)
        with pytest.raises(PolicyEngineError, match="shut down"):
            engine.evaluate("{}")
