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
- ``source``: the evidence sources of the loaded governance data's lanes;
- ``outcome``, ``stage``, ``reload``, ``revocation``, ``evidence``, ``intake``,
  ``finding``: the gate's own fixed values (a reload is ``ok`` or ``failed``,
  :data:`RELOAD_OUTCOMES`; contract section 9 for the last four).

A new counter takes its label values through ``self.labels.<name>(value)``::

    self.warnings = Counter("release_gate_warnings", "...", ["code"], registry=self.registry)
    ...
    self.warnings.labels(code=self.labels.code(code)).inc()

``lane``, ``code`` and ``source`` are empty (so everything is ``other``) until
:meth:`Metrics.use_policy` is called with the loaded policy's values; the app's
lifespan does that.

Revocations are counted where they are committed, whatever revoked them (an
approval, a hold, an evidence event, a policy reload): the store's writer keeps
a tally per reason (:meth:`release_gate.store.appender.Appender.revocations`),
read at each scrape through :meth:`Metrics.count_revocations`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from release_gate.keys.api_keys import ROLES
from release_gate_client.errors import TOKEN_ERRORS

__all__ = [
    "EVIDENCE_RESULTS",
    "FINDINGS",
    "INTAKE_OUTCOMES",
    "OTHER",
    "OUTCOMES",
    "RELOAD_OUTCOMES",
    "REVOCATION_REASONS",
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
#: Why a token was revoked (the ``reason`` of the revocations table and list).
REVOCATION_REASONS = ("superseded", "hold", "evidence.changed", "policy.changed")
#: What an evidence event did: became the newest material snapshot, was only recorded
#: (older, or not material), or repeated one already recorded (nothing new).
EVIDENCE_RESULTS = ("newest", "recorded", "repeat")
#: An intake lane's outcome for a token, and its findings (contract section 9).
INTAKE_OUTCOMES = ("accepted", "returned")
FINDINGS = (
    "hidden_disagreement",
    "stale_evidence",
    "wrong_audience",
    "out_of_scope_action",
    "other",
)
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
    source: LabelSet
    revocation: LabelSet
    evidence: LabelSet
    intake: LabelSet
    finding: LabelSet
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
            source=LabelSet(()),
            revocation=LabelSet(REVOCATION_REASONS),
            evidence=LabelSet(EVIDENCE_RESULTS),
            intake=LabelSet(INTAKE_OUTCOMES),
            finding=LabelSet(FINDINGS),
            reload=LabelSet(RELOAD_OUTCOMES),
        )


class _Revocations(Collector):
    """``release_gate_revocations_total{reason}``, read from a tally at each scrape."""

    def __init__(self, labels: Callable[[], LabelSet]) -> None:
        self._labels = labels
        self.tally: Callable[[], Mapping[str, int]] = dict

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "release_gate_revocations",
            "Tokens revoked by this process's commits, by reason (superseded, hold, "
            "evidence.changed, policy.changed).",
            labels=["reason"],
        )
        label = self._labels()
        counts = dict.fromkeys(REVOCATION_REASONS, 0)
        for reason, count in self.tally().items():
            key = label(reason)
            counts[key] = counts.get(key, 0) + count
        for reason, count in counts.items():
            family.add_metric([reason], count)
        yield family


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
        self.evidence_events = Counter(
            "release_gate_evidence_events",
            "Evidence events from source systems, by source and result (newest: a material "
            "change that became the newest snapshot; recorded: older or not material; repeat).",
            ["source", "result"],
            registry=self.registry,
        )
        self.intake_outcomes = Counter(
            "release_gate_intake_outcomes",
            "Intake outcomes reported by intake lanes, by lane and outcome (repeats not counted).",
            ["lane", "outcome"],
            registry=self.registry,
        )
        self.intake_findings = Counter(
            "release_gate_intake_findings",
            "Findings of returned intake outcomes, by lane and finding.",
            ["lane", "finding"],
            registry=self.registry,
        )
        self.verify_failures = Counter(
            "release_gate_verify_failures",
            "/v1/verify answers of valid: false, by the lane asked for and the reason.",
            ["lane", "reason"],
            registry=self.registry,
        )
        self._revocations = _Revocations(lambda: self.labels.revocation)
        self.registry.register(self._revocations)
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

    def use_policy(
        self,
        *,
        lanes: Iterable[str],
        codes: Iterable[str],
        sources: Iterable[str] | None = None,
    ) -> None:
        """Bound ``lane`` and ``code`` to the loaded governance data's lanes and policy's
        codes, and ``source`` to its evidence sources (kept as they are when None)."""
        changes = {"lane": LabelSet(lanes), "code": LabelSet(codes)}
        if sources is not None:
            changes["source"] = LabelSet(sources)
        self.labels = replace(self.labels, **changes)

    def count_revocations(self, tally: Callable[[], Mapping[str, int]]) -> None:
        """Read ``release_gate_revocations_total`` from ``tally`` (reason -> count) at each
        scrape: the store's writer counts every revocation it commits."""
        self._revocations.tally = tally

    def observe_evidence_event(self, *, source: str, result: str) -> None:
        self.evidence_events.labels(
            source=self.labels.source(source), result=self.labels.evidence(result)
        ).inc()

    def observe_intake_outcome(self, *, lane: str, outcome: str, findings: Iterable[str]) -> None:
        lane_label = self.labels.lane(lane)
        self.intake_outcomes.labels(lane=lane_label, outcome=self.labels.intake(outcome)).inc()
        for finding in findings:
            self.intake_findings.labels(lane=lane_label, finding=self.labels.finding(finding)).inc()

    def observe_verify_failure(self, *, lane: str, reason: str | None) -> None:
        self.verify_failures.labels(
            lane=self.labels.lane(lane), reason=self.labels.reason(reason)
        ).inc()

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

    def watch_appends(self, counts: Callable[[], tuple[int, int]]) -> None:
        """Expose the store writer's ``(batches, entries)`` committed: their ratio is the
        group commit's mean batch size (entries per transaction, per fsync)."""
        self.registry.register(_AppendCollector(counts))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _AppendCollector(Collector):
    def __init__(self, counts: Callable[[], tuple[int, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        batches, entries = self._counts()
        yield CounterMetricFamily(
            "release_gate_store_batches",
            "Transactions the store's writer committed (group commit: one per batch).",
            value=batches,
        )
        yield CounterMetricFamily(
            "release_gate_store_entries",
            "Chain entries (decisions, holds, events) committed in those transactions.",
            value=entries,
        )
