"""OpaEngine on a real OPA server: every answer and failure a real OPA can be made to give.

Each test runs ``opa run --server`` (``tests/opa_server.py``) with a tiny policy
of its own as a bundle (``--bundle``), or pushes one to a shared empty server
through OPA's APIs. Skipped, saying so, without an ``opa`` binary
(``RELEASE_GATE_TEST_OPA_BIN`` or ``opa`` on ``PATH``). What a real OPA cannot be
made to do (drop a connection, stall, answer non-JSON) is in ``test_opa_engine.py``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.engine import PolicyEngineError
from release_gate.policy.opa import OpaEngine
from release_gate.policy.opa_bundle import build_bundle, push_bundle, remove_pushed
from tests.opa_server import OpaServer, running_opa

REVISION = "2026.11.26-1"
BIG = 2**62  # arrives exactly, or the ALLOW policy is undefined
POLICY_INPUT = json.dumps({"manifest": {"lane": "x"}, "facts": {"evidence": [{"age_ns": BIG}]}})

ALLOW = f"""package release.gate

decision := {{"allow": true, "violations": [], "warnings": []}} if {{
	input.facts.evidence[0].age_ns == {BIG}
}}
"""
DENY = """package release.gate

decision := {"allow": false, "violations": violations, "warnings": []}

violations := [
	{"code": "lane.unknown", "message": "no such lane", "path": "/lane"},
	{"code": "evidence.stale", "message": data.governance.stale, "path": "/evidence/0"},
]
"""
# Two values for a complete rule: OPA answers HTTP 500 (eval_conflict_error).
CONFLICT = """package release.gate

decision := {"allow": true, "violations": [], "warnings": []} if input.manifest

decision := {"allow": false, "violations": [], "warnings": []} if input.manifest
"""
UNDEFINED = "package release.gate\n\ndecision := {} if input.never\n"
# OPA started with --authentication=token --authorization=basic: this token, or /health.
TOKEN = "s3cret-opa-token"
AUTHZ = f"""package system.authz

default allow := false

allow if input.path == ["health"]

allow if input.identity == "{TOKEN}"
"""
DATA = {"stale": "older than allowed"}

Make = Callable[..., PolicyBundle]


@pytest.fixture
def make_policies(tmp_path: Path) -> Make:
    """``make(gate_rego, revision=..., name=...)``: a bundle directory, loaded."""

    def make(
        gate: str,
        *,
        revision: str = REVISION,
        name: str = "policies",
        extra: dict[str, str] | None = None,
    ) -> PolicyBundle:
        root = tmp_path / name
        modules = {"release/gate.rego": gate, **(extra or {})}
        roots = sorted({path.split("/")[0] for path in modules} | {"governance"})
        for path, text in {**modules, "governance/data.json": json.dumps(DATA)}.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        (root / ".manifest").write_text(json.dumps({"revision": revision, "roots": roots}))
        return load_bundle(root)

    return make


@pytest.fixture
def serve_bundles(opa_binary: Path, tmp_path: Path) -> Iterator[Callable[..., OpaServer]]:
    """``serve(*bundles, ready_path=...)``: a real OPA running those bundles (``--bundle``)."""
    servers: list[OpaServer] = []

    def serve(*bundles: PolicyBundle, extra: tuple[str, ...] = (), **kwargs: Any) -> OpaServer:
        args: list[str] = []
        for bundle in bundles:
            tarball = tmp_path / f"{bundle.root.name}.tar.gz"
            args += [
                "--bundle",
                str(build_bundle(bundle.root, tarball, signing_key=None, key_id=None)),
            ]
        server = OpaServer(opa_binary, *args, *extra, log=tmp_path / "opa.log", **kwargs)
        servers.append(server)
        server.start()
        return server

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def empty_opa(opa_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One empty real OPA for the tests that push policies through its APIs."""
    log = tmp_path_factory.mktemp("opa-empty") / "opa.log"
    with running_opa(opa_binary, log=log) as server:
        yield server.url


@pytest.fixture
def push(empty_opa: str) -> Iterator[Callable[[PolicyBundle], None]]:
    """``push(bundle)`` into the empty OPA; whatever was pushed is removed afterwards."""
    pushed: list[PolicyBundle] = []
    with httpx.Client(base_url=empty_opa, timeout=10.0) as http:

        def load(bundle: PolicyBundle) -> None:
            pushed.append(bundle)
            push_bundle(http, bundle)

        yield load
        for bundle in reversed(pushed):
            remove_pushed(http, bundle)


@pytest.fixture
def make_engine() -> Iterator[Callable[..., OpaEngine]]:
    engines: list[OpaEngine] = []

    def make(url: str, bundle: PolicyBundle, **kwargs: Any) -> OpaEngine:
        kwargs.setdefault("timeout", 5.0)
        engine = OpaEngine(url, bundle=bundle, **kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


def _posts(url: str, code: int) -> int:
    """How many decisions OPA answered with HTTP ``code``, from its Prometheus metrics."""
    text = httpx.get(f"{url}/metrics", timeout=5.0).text
    labels = f'code="{code}",handler="v1/data",method="post"'
    pattern = rf"^http_request_duration_seconds_count{{{labels}}} (\d+)"
    found = re.search(pattern, text, flags=re.MULTILINE)
    return int(found.group(1)) if found else 0


class TestEvaluateOnABundle:
    def test_allow_names_the_gates_bundle(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any
    ) -> None:
        bundle = make_policies(ALLOW)
        result = make_engine(serve_bundles(bundle).url, bundle).evaluate(POLICY_INPUT)
        assert result.allow is True
        assert (result.policy_revision, result.policy_digest) == (REVISION, bundle.digest)

    def test_deny_keeps_every_violation_and_reads_the_bundles_data(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any
    ) -> None:
        bundle = make_policies(DENY)
        result = make_engine(serve_bundles(bundle).url, bundle).evaluate(POLICY_INPUT)
        assert result.allow is False
        assert [(v.code, v.message) for v in result.violations] == [
            ("evidence.stale", "older than allowed"),
            ("lane.unknown", "no such lane"),
        ]

    def test_http_500_is_engine_error_and_not_retried(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any
    ) -> None:
        bundle = make_policies(CONFLICT)
        server = serve_bundles(bundle)
        with pytest.raises(PolicyEngineError, match=r"OPA answered HTTP 500"):
            make_engine(server.url, bundle, retries=2).evaluate(POLICY_INPUT)
        assert _posts(server.url, 500) == 1

    def test_undefined_decision_is_engine_error(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any
    ) -> None:
        bundle = make_policies(UNDEFINED)
        with pytest.raises(PolicyEngineError, match="undefined on OPA"):
            make_engine(serve_bundles(bundle).url, bundle).evaluate(POLICY_INPUT)

    def test_foreign_bundle_revision_is_refused(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any
    ) -> None:
        running = make_policies(ALLOW, revision="2025.01.01-9")
        gates = dataclasses.replace(running, revision=REVISION)
        message = "OPA evaluated bundle revision '2025.01.01-9', the gate expects '2026.11.26-1'"
        with pytest.raises(PolicyEngineError, match=re.escape(message)):
            make_engine(serve_bundles(running).url, gates).evaluate(POLICY_INPUT)

    def test_several_bundles_need_the_gates_name(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any, tmp_path: Path
    ) -> None:
        gates = make_policies(ALLOW)
        other = tmp_path / "other"
        (other / "other").mkdir(parents=True)
        (other / ".manifest").write_text('{"revision": "o-1", "roots": ["other"]}')
        (other / "other" / "x.rego").write_text("package other\n\nx := 1\n")
        server = serve_bundles(gates, load_bundle(other))
        with pytest.raises(PolicyEngineError, match="OPA runs several bundles"):
            make_engine(server.url, gates).evaluate(POLICY_INPUT)
        name = str(tmp_path / "policies.tar.gz")  # OPA names a --bundle by its path
        assert make_engine(server.url, gates, bundle_name=name).evaluate(POLICY_INPUT).allow

    def test_concurrent_callers_share_one_engine(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any
    ) -> None:
        bundle = make_policies(ALLOW)
        server = serve_bundles(bundle)
        engine = make_engine(server.url, bundle, timeout=10.0)  # a loaded 2-core CI machine
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: engine.evaluate(POLICY_INPUT).allow, range(64)))
        assert all(results)
        assert _posts(server.url, 200) == 64


class TestBearerToken:
    """RELEASE_GATE_OPA_TOKEN against an OPA that requires one."""

    @pytest.fixture
    def guarded(self, make_policies: Make, serve_bundles: Any) -> tuple[str, PolicyBundle]:
        bundle = make_policies(DENY, extra={"system/authz.rego": AUTHZ})
        auth = ("--authentication=token", "--authorization=basic")
        return serve_bundles(bundle, extra=auth).url, bundle

    def test_the_token_is_sent_on_evaluations_and_readiness_checks(
        self, guarded: tuple[str, PolicyBundle], make_engine: Any
    ) -> None:
        engine = make_engine(*guarded, token=TOKEN)
        assert len(engine.evaluate(POLICY_INPUT).violations) == 2
        assert engine.status().ready is True

    def test_without_the_token_opa_refuses_and_the_gate_fails_closed(
        self, guarded: tuple[str, PolicyBundle], make_engine: Any
    ) -> None:
        engine = make_engine(*guarded)
        with pytest.raises(PolicyEngineError, match="OPA answered HTTP 401"):
            engine.evaluate(POLICY_INPUT)
        status = engine.status()
        assert status.ready is False
        assert "401" in status.detail


class TestEvaluateOnPushedPolicies:
    def test_api_source_accepts_a_decision_without_bundle_revision(
        self, make_policies: Make, push: Any, empty_opa: str, make_engine: Any
    ) -> None:
        bundle = make_policies(ALLOW)
        push(bundle)
        assert make_engine(empty_opa, bundle, policy_source="api").evaluate(POLICY_INPUT).allow

    def test_bundle_source_refuses_pushed_policies(
        self, make_policies: Make, push: Any, empty_opa: str, make_engine: Any
    ) -> None:
        bundle = make_policies(ALLOW)
        push(bundle)
        with pytest.raises(PolicyEngineError, match="no bundle revision: load the policies"):
            make_engine(empty_opa, bundle).evaluate(POLICY_INPUT)

    def test_nothing_loaded_is_undefined(
        self, empty_opa: str, make_engine: Any, make_policies: Make
    ) -> None:
        with pytest.raises(PolicyEngineError, match="undefined on OPA"):
            make_engine(empty_opa, make_policies(ALLOW)).evaluate(POLICY_INPUT)

    @pytest.mark.parametrize(
        ("result", "message"),
        [
            ({"allow": "true", "violations": []}, "allow is not a boolean"),
            ({"allow": 1, "violations": []}, "allow is not a boolean"),
            ({"allow": True, "violations": [{"code": "x"}]}, "lacks code"),
            ([], "is not an object"),
            (
                {"allow": True, "violations": [{"code": "a", "message": "", "path": ""}]},
                "allows with violations",
            ),
        ],
    )
    def test_malformed_result_is_engine_error(
        self,
        make_policies: Make,
        push: Any,
        empty_opa: str,
        make_engine: Any,
        result: Any,
        message: str,
    ) -> None:
        bundle = make_policies(f"package release.gate\n\ndecision := {json.dumps(result)}\n")
        push(bundle)
        with pytest.raises(PolicyEngineError, match=message):
            make_engine(empty_opa, bundle, policy_source="api").evaluate(POLICY_INPUT)


class TestStatus:
    def test_ready_with_the_active_revision(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any
    ) -> None:
        bundle = make_policies(DENY)
        status = make_engine(serve_bundles(bundle).url, bundle).status()
        assert (status.ready, status.extra["revision"]) == (True, REVISION)

    def test_bundle_not_activated_is_not_ready(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any
    ) -> None:
        """OPA told to download a bundle from a server that refuses: /health?bundles is 500."""
        settings = (
            "--set=services.down.url=http://127.0.0.1:9",
            "--set=bundles.release-gate.service=down",
            "--set=bundles.release-gate.resource=release-gate.tar.gz",
        )
        server = serve_bundles(extra=settings, ready_path="/health")
        status = make_engine(server.url, make_policies(ALLOW)).status()
        assert status.ready is False
        assert "HTTP 500" in status.detail
        assert "not activated" in status.detail

    def test_foreign_revision_is_not_ready(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any
    ) -> None:
        running = make_policies(DENY, revision="old")
        status = make_engine(serve_bundles(running).url, make_policies(DENY, name="gate")).status()
        assert (status.ready, status.extra["revision"]) == (False, "old")
        assert "the gate expects '2026.11.26-1'" in status.detail

    @pytest.mark.parametrize(
        "gate",
        [UNDEFINED, CONFLICT, 'package release.gate\n\ndecision := {"allow": "yes"}\n'],
        ids=["undefined", "http-500", "malformed"],
    )
    def test_healthy_opa_that_cannot_decide_is_not_ready(
        self, make_policies: Make, serve_bundles: Any, make_engine: Any, gate: str
    ) -> None:
        """/health and the bundle's revision are fine, but every evaluation would be a 503."""
        bundle = make_policies(gate)
        status = make_engine(serve_bundles(bundle).url, bundle).status()
        assert status.ready is False
        assert "does not answer data.release.gate.decision" in status.detail

    def test_api_source_ready_when_opa_holds_the_bundle(
        self, make_policies: Make, push: Any, empty_opa: str, make_engine: Any
    ) -> None:
        bundle = make_policies(DENY)
        push(bundle)
        assert make_engine(empty_opa, bundle, policy_source="api").status().ready is True

    def test_api_source_not_ready_when_a_module_differs(
        self, make_policies: Make, push: Any, empty_opa: str, make_engine: Any
    ) -> None:
        push(make_policies(DENY))
        gates = make_policies(DENY + "\n# edited\n", name="gate")
        status = make_engine(empty_opa, gates, policy_source="api").status()
        assert (status.ready, status.detail) == (
            False,
            "OPA does not hold policy module release/gate.rego as the gate has it",
        )

    def test_api_source_not_ready_when_data_differs(
        self, make_policies: Make, push: Any, empty_opa: str, make_engine: Any
    ) -> None:
        bundle = make_policies(DENY)
        push(dataclasses.replace(bundle, data={"governance": {"stale": "edited"}}))
        status = make_engine(empty_opa, bundle, policy_source="api").status()
        assert (status.ready, status.detail) == (
            False,
            "OPA's data.governance differs from the gate's",
        )
