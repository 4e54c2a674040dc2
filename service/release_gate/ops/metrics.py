"""Prometheus metrics, on a registry owned by one app (no module-level globals).

Every label value comes from a fixed set, so no caller can grow ``/metrics``:
one series per distinct label value is kept for the life of the process, and a
label fed from a request (a method, a path, a lane, a code) would otherwise let
anyone add series, memory and scrape size without bound. :class:`LabelSet` is
the helper: it maps a value to itself when it is in the set and to ``other``
otherwise. :class:`Labels` holds the sets (docs/operators.md lists them):

- ``method``: the HTTP methods the app's routes serve;
- ``route``: the app's route templates, else ``(unmatched)``;
- ``status``: a status from :data:`STATUSES`, else its class (``4xx``), else ``other``;
- ``lane``: the lanes of the loaded governance data;
- ``code``: the violation and warning codes of the loaded policy's metadata;
- ``reason``: the client's token reason codes (``TOKEN_ERRORS``);
- ``role``: the API key roles;
- ``outcome``, ``stage``: the gate's own fixed values (a reload's ``outcome`` is
  ``ok`` or ``failed``, :data:`RELOAD_OUTCOMES`).

A new counter takes its label values through ``self.labels.<name>(value)``::

    self.warnings = Counter("release_gate_warnings", "...", ["code"], registry=self.registry)
    ...
    self.warnings.labels(code=self.labels.code(code)).inc()

``lane`` and ``code`` are empty (so everything is ``other``) until
:meth:`Metrics.use_policy` is called with the loaded policy's values; the app's
lifespan does that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from release_gate.keys.api_keys import ROLES
from release_gate_client.errors import TOKEN_ERRORS

__all__ = [
    "OTHER",
    "OUTCOMES",
    "RELOAD_OUTCOMES",
    "STAGES",
    "STATUSES",
    "UNMATCHED_ROUTE",
    "LabelSet",
    "Labels",
    "Metrics",
    "status_label",
]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

#: The value of a label whose value is not in its set.
OTHER = "other"
#: The route of a request that matched no route template.
UNMATCHED_ROUTE = "(unmatched)"
OUTCOMES = ("allow", "deny", "invalid", "error")
#: A policy reload swapped a new bundle in (``ok``) or left the old one serving (``failed``).
RELOAD_OUTCOMES = ("ok", "failed")
#: The decision path's stages (release_gate.decision.decide.STAGES, checked by a test).
STAGES = ("parse", "canonicalise", "verify", "facts", "evaluate", "mint", "record")
#: Statuses counted by their number; any other is counted by its class (``4xx``).
STATUSES = frozenset(
    {200, 201, 204, 304, 400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 429, 500, 502, 503, 504}
)


class LabelSet:
    """The values one label may take: ``label(value)`` is ``value`` if listed, else ``other``."""

    __slots__ = ("_other", "_values")

    def __init__(self, values: Iterable[str], *, other: str = OTHER) -> None:
        self._values = frozenset(values)
        self._other = other

    @property
    def values(self) -> frozenset[str]:
        return self._values

    def __call__(self, value: object) -> str:
        return value if isinstance(value, str) and value in self._values else self._other


def status_label(status: object) -> str:
    """``"404"`` for a listed status, ``"4xx"`` for another valid one, else ``other``."""
    if type(status) is not int:
        return OTHER
    if status in STATUSES:
        return str(status)
    return f"{status // 100}xx" if 100 <= status <= 599 else OTHER


@dataclass(frozen=True, slots=True)
class Labels:
    """The bounded value set of every label (see the module docs)."""

    method: LabelSet
    route: LabelSet
    lane: LabelSet
    code: LabelSet
    reason: LabelSet
    role: LabelSet
    outcome: LabelSet
    stage: LabelSet
    reload: LabelSet

    @staticmethod
    def status(status: object) -> str:
        return status_label(status)

    @classmethod
    def of(cls, *, routes: Iterable[str] = (), methods: Iterable[str] = ()) -> Labels:
        return cls(
            method=LabelSet(methods),
            route=LabelSet(routes, other=UNMATCHED_ROUTE),
            lane=LabelSet(()),
            code=LabelSet(()),
            reason=LabelSet(TOKEN_ERRORS),
            role=LabelSet(ROLES),
            outcome=LabelSet(OUTCOMES),
            stage=LabelSet(STAGES),
            reload=LabelSet(RELOAD_OUTCOMES),
        )


class Metrics:
    """The gate's metrics; ``routes`` and ``methods`` are the app's (see :class:`Labels`)."""

    def __init__(self, *, routes: Iterable[str] = (), methods: Iterable[str] = ()) -> None:
        self.labels = Labels.of(routes=routes, methods=methods)
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "release_gate_decisions",
            "Evaluations by outcome (allow, deny, invalid, error).",
            ["outcome"],
            registry=self.registry,
        )
        self.violations = Counter(
            "release_gate_violations",
            "Violations reported in decisions, by code.",
            ["code"],
            registry=self.registry,
        )
        self.warnings = Counter(
            "release_gate_warnings",
            "Warnings reported in decisions (warn rules, deny rules not yet in effect), by code.",
            ["code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "release_gate_decision_seconds",
            "Wall time of one /v1/evaluate decision, body read excluded.",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "release_gate_http_requests",
            "HTTP requests by method, route template and status (401/403/404 included).",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.stages = Histogram(
            "release_gate_decision_stage_seconds",
            "Time per decision stage (parse, canonicalise, verify, facts, evaluate, mint, record).",
            ["stage"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

        self.reloads = Counter(
            "release_gate_policy_reloads",
            "Policy reloads by outcome: ok (a new bundle serves), failed (the old one still does).",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in RELOAD_OUTCOMES:  # both series from the start, at 0
            self.reloads.labels(outcome=outcome)
        self.policy_revocations = Counter(
            "release_gate_policy_revocations",
            "Live approvals revoked because a reloaded policy denies them (policy.changed).",
            registry=self.registry,
        )

    def use_policy(self, *, lanes: Iterable[str], codes: Iterable[str]) -> None:
        """Bound ``lane`` and ``code`` to the loaded governance data's lanes and policy's codes."""
        self.labels = replace(self.labels, lane=LabelSet(lanes), code=LabelSet(codes))

    def observe_decision(
        self, *, allow: bool, codes: list[str], seconds: float, stages: Mapping[str, float]
    ) -> None:
        self.decisions.labels(outcome="allow" if allow else "deny").inc()
        for code in codes:
            self.violations.labels(code=self.labels.code(code)).inc()
        self.latency.observe(seconds)
        for stage, value in stages.items():
            self.stages.labels(stage=self.labels.stage(stage)).observe(value)

    def observe_warnings(self, codes: Iterable[str]) -> None:
        """Count one decision's warnings, by code (bounded like violations)."""
        for code in codes:
            self.warnings.labels(code=self.labels.code(code)).inc()

    def observe_reload(self, *, ok: bool) -> None:
        self.reloads.labels(outcome=self.labels.reload("ok" if ok else "failed")).inc()

    def observe_policy_revocations(self, count: int) -> None:
        self.policy_revocations.inc(count)

    def observe_request(self, *, method: str, route: str, status: int) -> None:
        self.requests.labels(
            method=self.labels.method(method),
            route=self.labels.route(route),
            status=self.labels.status(status),
        ).inc()

    def observe_failure(self, outcome: str) -> None:
        self.decisions.labels(outcome=self.labels.outcome(outcome)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
