"""Prometheus metrics, on a registry owned by one app (no module-level globals)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["OTHER_CODE", "Metrics"]

#: The label of a code the loaded policy does not declare (a label value never comes
#: from outside the policy, so the number of series stays bounded).
OTHER_CODE = "other"

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
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
            "Time per decision stage (parse, canonicalise, verify, evaluate, mint, record).",
            ["stage"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def observe_decision(
        self, *, allow: bool, codes: list[str], seconds: float, stages: Mapping[str, float]
    ) -> None:
        self.decisions.labels(outcome="allow" if allow else "deny").inc()
        for code in codes:
            self.violations.labels(code=code).inc()
        self.latency.observe(seconds)
        for stage, value in stages.items():
            self.stages.labels(stage=stage).observe(value)

    def observe_warnings(self, codes: Collection[str], *, known: Collection[str]) -> None:
        """Count one decision's warnings; a code not in ``known`` counts as ``other``."""
        for code in codes:
            self.warnings.labels(code=code if code in known else OTHER_CODE).inc()

    def observe_request(self, *, method: str, route: str, status: int) -> None:
        self.requests.labels(method=method, route=route, status=str(status)).inc()

    def observe_failure(self, outcome: str) -> None:
        self.decisions.labels(outcome=outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
