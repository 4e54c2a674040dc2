"""The OPA engine: :data:`~release_gate.policy.engine.ENTRY_POINT` on a real OPA server.

Evaluates ``POST /v1/data/release/gate/decision?provenance=true`` through
``opa-python-client``'s :class:`~opa_client.AsyncOpaClient`, on one event loop
that runs in a background thread owned by the engine (the gate's decision path
is synchronous and runs in worker threads). One aiohttp session, so connections
are kept alive and reused.

Failure (each a :class:`PolicyEngineError`, a 503, never a token): OPA
unreachable, no answer within ``timeout`` seconds, a non-200, a body without
``result`` (the decision is undefined), a malformed result, or a decision made
by a policy the gate cannot name. Only connection errors (refused, reset, a
kept-alive connection the server closed) are retried, at most ``retries`` times:
an evaluation is read-only, so sending it again is safe; a timeout or an HTTP
error answer is never retried.

Policy identity (``policy_source``):

``"bundle"`` (the default)
    OPA loaded the policies as a bundle (``opa run --bundle`` or a bundle
    server). Each decision's provenance names the revision of every active
    bundle; the one serving the policies (``bundle_name``, or the only bundle)
    must carry ``bundle.revision``, else the decision is refused.
``"api"``
    The policies were pushed through OPA's policy and data APIs
    (:func:`release_gate.policy.opa_bundle.push_bundle`), so OPA reports no
    revision. The gate names the bundle it was given; :meth:`OpaEngine.status`
    (``/readyz``) checks that OPA holds exactly those modules and data, but
    single decisions are not checked. Meant for tests and for operators who
    load OPA themselves.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
import httpx
from opa_client import AsyncOpaClient

from release_gate.errors import ConfigurationError
from release_gate.policy.bundle import PolicyBundle
from release_gate.policy.engine import (
    ENTRY_POINT,
    EngineStatus,
    PolicyEngineError,
    PolicyResult,
    parse_policy_result,
)
from release_gate.policy.opa_bundle import pushed_mismatch

__all__ = ["OpaEngine", "PolicySource", "bundle_revision"]

PolicySource = Literal["bundle", "api"]

_PACKAGE, _RULE = ENTRY_POINT.removeprefix("data.").rsplit(".", 1)
_BACKOFF = 0.05  # seconds before the first retry, doubled each time


def bundle_revision(provenance: Any, *, bundle_name: str | None) -> str:
    """The revision OPA reports for the bundle serving the policies.

    ``provenance`` is OPA's ``provenance`` object: ``{"bundles": {name:
    {"revision": ...}}}`` (or the legacy ``{"revision": ...}`` of OPA's old
    single-bundle configuration). Raises :class:`PolicyEngineError` when no
    single revision can be named.
    """
    if not isinstance(provenance, dict):
        raise PolicyEngineError("OPA reported no provenance, so no bundle revision")
    bundles = provenance.get("bundles")
    if not isinstance(bundles, dict) or not bundles:
        legacy = provenance.get("revision")
        if isinstance(legacy, str) and bundle_name is None:
            return legacy
        raise PolicyEngineError(
            "OPA reported no bundle revision: load the policies as a bundle "
            "(opa run --bundle, or a bundle server)"
        )
    if bundle_name is None:
        if len(bundles) != 1:
            names = ", ".join(sorted(bundles))
            raise PolicyEngineError(f"OPA runs several bundles ({names}): name the gate's one")
        (entry,) = bundles.values()
    elif bundle_name in bundles:
        entry = bundles[bundle_name]
    else:
        raise PolicyEngineError(f"OPA reports no bundle named {bundle_name!r}")
    revision = entry.get("revision") if isinstance(entry, dict) else None
    if not isinstance(revision, str) or not revision:
        raise PolicyEngineError("OPA reported a bundle without a revision")
    return revision


def _revision_problem(revision: str, expected: str) -> str | None:
    if revision == expected:
        return None
    return f"OPA evaluated bundle revision {revision!r}, the gate expects {expected!r}"


def _client_for(url: str, *, timeout: float, token: str | None) -> AsyncOpaClient:
    parts = urlsplit(url)
    if "@" in parts.netloc:
        # never echo the URL: it holds a secret, and the URL is shown in /readyz and 503s
        raise ConfigurationError(
            "OPA URL must not carry credentials (user:password@): set RELEASE_GATE_OPA_TOKEN"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"OPA URL {url!r} must be http(s)://host[:port]")
    if parts.path.strip("/") or parts.query:
        # opa-python-client builds every URL as scheme://host:port/v1/...: no prefix.
        raise ConfigurationError(f"OPA URL {url!r} must not have a path or a query")
    port = parts.port or (443 if parts.scheme == "https" else 8181)
    # retries=0: the client would also retry 500/502/504, which must fail at once.
    return AsyncOpaClient(
        host=parts.hostname,
        port=port,
        ssl=parts.scheme == "https",
        token=token,
        retries=0,
        timeout=timeout,
    )


#: What ``status()`` asks OPA to decide: an unsigned manifest for a lane no governance
#: data defines. Only the answer's shape matters (a defined decision, a boolean allow,
#: violation arrays); nothing is minted or recorded.
_READINESS_INPUT = json.dumps(
    {
        "manifest": {
            "manifest_version": "1",
            "manifest_id": "readiness-probe",
            "lane": "readiness-probe",
            "audience": [],
            "requested_actions": [],
            "release_owner": "readiness-probe",
            "objections": [],
            "evidence": [],
            "signatures": [],
        },
        "manifest_digest": "sha256:" + "0" * 64,
        "facts": {
            "signatures": [],
            "evidence": [],
            "history": {"latest_approved_revision": None, "latest_approved_digest": None},
            "holds": [],
        },
    }
)


class OpaEngine:
    """:class:`~release_gate.policy.engine.PolicyEngine` on an OPA server at ``url``."""

    name = "opa"

    def __init__(
        self,
        url: str,
        *,
        bundle: PolicyBundle,
        timeout: float = 2.0,
        retries: int = 2,
        policy_source: PolicySource = "bundle",
        bundle_name: str | None = None,
        token: str | None = None,
    ) -> None:
        if timeout <= 0 or retries < 0:
            raise ConfigurationError("OPA timeout must be positive and retries not negative")
        if policy_source not in ("bundle", "api"):
            raise ConfigurationError(f"unknown OPA policy source {policy_source!r}")
        self.url = url.rstrip("/")
        self._bundle = bundle
        self._timeout = timeout
        self._retries = retries
        self._source = policy_source
        self._bundle_name = bundle_name
        self._client = _client_for(self.url, timeout=timeout, token=token)
        # Worst case: every attempt times out, plus the backoffs, plus slack.
        self._deadline = timeout * (retries + 1) + _BACKOFF * (2**retries) + 1.0
        headers = {"Authorization": f"Bearer {token}"} if token else None
        # status() needs the body of /health?bundles and the provenance of a data
        # read whose result may be undefined: the client's check_health() returns
        # a bare bool and get_data() raises on an undefined result, so use httpx.
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)
        self._lock = threading.Lock()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="opa-engine", daemon=True
        )
        self._thread.start()
        # The client's public way to open its session is ``async with``; the engine
        # keeps one session for its whole life, closed in close().
        self._run(self._client._init_session(), timeout=timeout + 1.0)

    # -- the event loop ---------------------------------------------------

    def _run(self, coro: Any, *, timeout: float) -> Any:
        try:
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        except RuntimeError as exc:  # the loop was closed by close() meanwhile
            coro.close()
            raise PolicyEngineError("the OPA engine is closed") from exc
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise PolicyEngineError(f"OPA at {self.url} did not answer in {timeout:.1f}s") from exc

    async def _query(self, policy_input: Any) -> Any:
        attempt = 0
        while True:
            try:
                return await self._client.query_rule(
                    input_data=policy_input,
                    package_path=_PACKAGE,
                    rule_name=_RULE,
                    query_params={"provenance": "true"},
                )
            except TimeoutError:
                raise  # after sending: never retried
            except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
                if attempt >= self._retries:
                    raise
            attempt += 1
            await asyncio.sleep(_BACKOFF * 2 ** (attempt - 1))

    async def _evaluate(self, policy_input: Any) -> Any:
        try:
            return await self._query(policy_input)
        except TimeoutError as exc:
            raise PolicyEngineError(f"OPA at {self.url} timed out after {self._timeout}s") from exc
        except aiohttp.ContentTypeError as exc:
            raise PolicyEngineError(f"OPA answered HTTP {exc.status} without JSON") from exc
        except aiohttp.ClientResponseError as exc:
            raise PolicyEngineError(f"OPA answered HTTP {exc.status} ({exc.message})") from exc
        except aiohttp.ClientError as exc:
            tries = self._retries + 1
            raise PolicyEngineError(
                f"OPA at {self.url} unreachable after {tries} attempt(s): {exc}"
            ) from exc
        except ValueError as exc:
            raise PolicyEngineError(f"OPA answered with malformed JSON: {exc}") from exc

    # -- the Protocol -----------------------------------------------------

    def evaluate(self, policy_input_json: str) -> PolicyResult:
        if self._closed:
            raise PolicyEngineError("the OPA engine is closed")
        try:
            policy_input = json.loads(policy_input_json)
        except ValueError as exc:
            raise PolicyEngineError(f"policy input is not JSON: {exc}") from exc
        body = self._run(self._evaluate(policy_input), timeout=self._deadline)
        if not isinstance(body, dict):
            raise PolicyEngineError("OPA answered with a body that is not a JSON object")
        if "result" not in body:
            raise PolicyEngineError(f"{ENTRY_POINT} is undefined on OPA (are the policies loaded?)")
        if self._source == "bundle":
            revision = bundle_revision(body.get("provenance"), bundle_name=self._bundle_name)
            problem = _revision_problem(revision, self._bundle.revision)
            if problem:
                raise PolicyEngineError(problem)
        return parse_policy_result(
            body["result"],
            policy_revision=self._bundle.revision,
            policy_digest=self._bundle.digest,
        )

    def status(self) -> EngineStatus:
        extra: dict[str, Any] = {"url": self.url, "expected_revision": self._bundle.revision}
        if self._closed:
            return EngineStatus(ready=False, detail="the OPA engine is closed", extra=extra)
        try:
            health = self._http.get("/health", params={"bundles": "true"})
            probe = self._http.get("/v1/data/system/bundles", params={"provenance": "true"})
            if health.status_code != 200:
                return EngineStatus(
                    ready=False,
                    detail=f"OPA /health?bundles answered HTTP {health.status_code}: "
                    f"{health.text[:200]}",
                    extra=extra,
                )
            probe.raise_for_status()
            provenance = probe.json().get("provenance")
            if self._source == "api":
                problem = pushed_mismatch(self._http, self._bundle)
            else:
                revision = bundle_revision(provenance, bundle_name=self._bundle_name)
                extra["revision"] = revision
                problem = _revision_problem(revision, self._bundle.revision)
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            return EngineStatus(ready=False, detail=f"OPA at {self.url}: {exc}", extra=extra)
        except PolicyEngineError as exc:
            return EngineStatus(ready=False, detail=exc.detail, extra=extra)
        if problem:
            return EngineStatus(ready=False, detail=problem, extra=extra)
        try:  # healthy and holding the bundle is not enough: the decision must evaluate
            self.evaluate(_READINESS_INPUT)
        except PolicyEngineError as exc:
            detail = f"OPA does not answer {ENTRY_POINT} for a probe input: {exc.detail}"
            return EngineStatus(ready=False, detail=detail, extra=extra)
        return EngineStatus(ready=True, detail=f"OPA at {self.url} is ready", extra=extra)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._run(self._client.close_connection(), timeout=self._timeout + 1.0)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5.0)
            self._loop.close()
            self._http.close()
