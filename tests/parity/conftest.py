"""The parity suite's bundle (test-owned governance) and the engines it compares.

``bundle`` is the policy modules with :mod:`tests.parity.governance`'s data;
``embedded`` evaluates it on regorus; ``other`` on each OPA, one parameter each:

``opa-go``
    OPA's Go evaluator in-process (``tests/parity/opa_go.py``); skipped where
    ``make install`` could not install it.
``opa-preloaded``
    A real OPA server that loaded the bundle itself, as docs/opa.md tells
    operators (``opa run --server --bundle parity.tar.gz``); the engine checks
    the bundle revision OPA reports on every decision (``policy_source="bundle"``).
``opa-empty``
    A real OPA server started empty; the suite pushes the modules and data
    through OPA's policy and data APIs and evaluates with ``policy_source="api"``.

The servers are started here from the ``opa`` binary (``RELEASE_GATE_TEST_OPA_BIN``,
else ``opa`` on ``PATH``; skipped without one), one at a time, and killed when
their parameter's tests are done. ``RELEASE_GATE_TEST_OPA_URL`` names an OPA of
your own instead, for the empty run, or for the preloaded run with
``RELEASE_GATE_TEST_OPA_PRELOADED=1`` (load it with
``python -m tests.parity.governance parity.tar.gz``); the other run then starts
its own server if a binary is found.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from release_gate.policy.bundle import PolicyBundle, load_bundle
from release_gate.policy.embedded import EmbeddedEngine
from release_gate.policy.engine import PolicyEngine
from release_gate.policy.opa import OpaEngine
from release_gate.policy.opa_bundle import build_bundle, push_bundle, remove_pushed
from tests.levels import write_staged_policies
from tests.opa_server import running_opa
from tests.parity.governance import SOURCE, write_policies
from tests.parity.opa_go import SKIP_REASON as OPA_GO_SKIP_REASON
from tests.parity.opa_go import OpaGoEngine, opa_go_available

OPA_URL = os.environ.get("RELEASE_GATE_TEST_OPA_URL", "").rstrip("/")
OPA_URL_MODE = (
    "opa-preloaded"
    if os.environ.get("RELEASE_GATE_TEST_OPA_PRELOADED", "") not in ("", "0")
    else "opa-empty"
)
ENGINES = ("opa-go", "opa-preloaded", "opa-empty")


@pytest.fixture(scope="session")
def parity_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("parity")


@pytest.fixture(scope="session")
def bundle(parity_dir: Path) -> PolicyBundle:
    return load_bundle(write_policies(SOURCE, parity_dir / "policies"))


@pytest.fixture(scope="session")
def embedded(bundle: PolicyBundle) -> Iterator[PolicyEngine]:
    engine = EmbeddedEngine(bundle)
    yield engine
    engine.close()


def _server_url(
    request: pytest.FixtureRequest,
    stack: ExitStack,
    bundle: PolicyBundle,
    work: Path,
    *,
    yours: bool,
) -> str:
    """The URL of an OPA for this parameter: yours (``yours``: it serves this bundle),
    or one started here, preloaded with a tarball of ``bundle``."""
    mode = request.param
    if OPA_URL and mode == OPA_URL_MODE:
        if not yours:
            pytest.skip("RELEASE_GATE_TEST_OPA_URL serves the suite's bundle, not this one")
        return OPA_URL
    binary: Path = request.getfixturevalue("opa_binary")  # skips without a binary
    work.mkdir(parents=True, exist_ok=True)
    log = work / f"{mode}.log"
    if mode == "opa-preloaded":
        tarball = build_bundle(bundle.root, work / "bundle.tar.gz", signing_key=None, key_id=None)
        server = stack.enter_context(running_opa(binary, "--bundle", str(tarball), log=log))
    else:
        server = stack.enter_context(running_opa(binary, log=log))
    return server.url


def _opa_server(
    request: pytest.FixtureRequest,
    stack: ExitStack,
    bundle: PolicyBundle,
    work: Path,
    *,
    yours: bool = True,
) -> PolicyEngine:
    url = _server_url(request, stack, bundle, work, yours=yours)
    preloaded = request.param == "opa-preloaded"
    if not preloaded:
        http = stack.enter_context(httpx.Client(base_url=url, timeout=10.0))
        push_bundle(http, bundle)
        stack.callback(remove_pushed, http, bundle)
    engine = OpaEngine(
        url, bundle=bundle, timeout=10.0, policy_source="bundle" if preloaded else "api"
    )
    stack.callback(engine.close)
    status = engine.status()
    hint = " (load it with: python -m tests.parity.governance parity.tar.gz)" if preloaded else ""
    assert status.ready, f"OPA at {url}: {status.detail}{hint}"
    return engine


@pytest.fixture(scope="session", params=ENGINES)
def other(
    request: pytest.FixtureRequest, bundle: PolicyBundle, parity_dir: Path
) -> Iterator[PolicyEngine]:
    """The engine compared with ``embedded``: OPA in-process, or a real OPA server."""
    with ExitStack() as stack:
        if request.param == "opa-go":
            if not opa_go_available():
                pytest.skip(OPA_GO_SKIP_REASON)
            engine: PolicyEngine = OpaGoEngine(bundle)
            stack.callback(engine.close)
        else:
            engine = _opa_server(request, stack, bundle, parity_dir)
        yield engine


@pytest.fixture(scope="session")
def staged_bundle(parity_dir: Path) -> PolicyBundle:
    """The staged example bundle (:mod:`tests.levels`): a warn rule and an effective_on rule."""
    return load_bundle(write_staged_policies(parity_dir / "staged" / "policies"))


@pytest.fixture(scope="session")
def staged_embedded(staged_bundle: PolicyBundle) -> Iterator[PolicyEngine]:
    engine = EmbeddedEngine(staged_bundle)
    yield engine
    engine.close()


@pytest.fixture(scope="session", params=ENGINES)
def staged_other(
    request: pytest.FixtureRequest, staged_bundle: PolicyBundle, parity_dir: Path
) -> Iterator[PolicyEngine]:
    """Like ``other``, on the staged bundle: each OPA of its own."""
    with ExitStack() as stack:
        if request.param == "opa-go":
            if not opa_go_available():
                pytest.skip(OPA_GO_SKIP_REASON)
            engine: PolicyEngine = OpaGoEngine(staged_bundle)
            stack.callback(engine.close)
        else:
            engine = _opa_server(request, stack, staged_bundle, parity_dir / "staged", yours=False)
        yield engine
