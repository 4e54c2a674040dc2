"""The reload, in process: the app's own reloader looks at the directory when the test says.

Each test runs the real app (``TestClient``) on a policy directory of its own
(:mod:`tests.reload._support`), with polling off and no settle time (but
:class:`TestSettle`), and calls the app's
:class:`~release_gate.reload.PolicyReloader` ``check()`` where ``serve`` would
on SIGHUP or a poll tick. The processes, signals and polling themselves are in
``test_serve_reload.py``.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.reload import PolicyReloader, directory_fingerprint
from release_gate.runtime import Runtime, build_runtime
from release_gate.store.schema import PolicyEventRow
from release_gate_client.revocations import RevocationList
from tests.helpers import LANE, ManifestFactory, post_json
from tests.reload._support import (
    BREAKAGES,
    REVISION_1,
    REVISION_2,
    STRICT_TIMELINE_MAX,
    add_failing_rule,
    break_bundle,
    edit_data,
    packet,
    policy_dir,
    set_revision,
    tighten_timeline,
)


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    return policy_dir(tmp_path / "policies")


@pytest.fixture
def reload_settings(
    tmp_path: Path, signing_key_file: Path, any_db_url: str, policies: Path
) -> Settings:
    return Settings(
        policies=policies,
        state_dir=tmp_path / "state",
        signing_key_file=signing_key_file,
        database_url=any_db_url,
        policy_poll_seconds=0,
        policy_settle_seconds=0,  # check() loads a changed directory at once (TestSettle: not)
    )


@pytest.fixture
def runtime(reload_settings: Settings) -> Iterator[Runtime]:
    built = build_runtime(reload_settings)
    yield built
    built.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime.settings, runtime=runtime)) as test_client:
        yield test_client


def _reloader(client: TestClient) -> PolicyReloader:
    reloader: PolicyReloader = client.app.state.reloader  # type: ignore[attr-defined]
    return reloader


def _policy(client: TestClient) -> dict[str, Any]:
    response = client.get("/v1/policy")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _evaluate(client: TestClient, manifest: dict[str, Any]) -> dict[str, Any]:
    response = post_json(client, "/v1/evaluate", manifest)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _verify(client: TestClient, decision: dict[str, Any]) -> dict[str, Any]:
    body = {"token": decision["token"], "lane": LANE, "packet_digest": decision["packet"]["digest"]}
    response = post_json(client, "/v1/verify", body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _metric(client: TestClient, line_start: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no metric {line_start}")


def _stale_soon_and_fresh(
    client: TestClient, make_manifest: ManifestFactory, prefix: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two approvals: one whose timeline (2 h old) the tightened 1 h maximum denies, one
    (30 min) it still allows."""
    now = dt.datetime.now(dt.UTC)
    stale_soon = _evaluate(
        client, make_manifest(packet(f"{prefix}-1", timeline_minutes=120, now=now))
    )
    fresh = _evaluate(client, make_manifest(packet(f"{prefix}-2", timeline_minutes=30, now=now)))
    assert stale_soon["allow"]
    assert fresh["allow"]
    return stale_soon, fresh


def _the_policy_event(runtime: Runtime) -> Any:
    """The store's one policy event (fails if there are none or several)."""
    assert runtime.store is not None
    with runtime.store.db.read() as conn:
        (event,) = conn.execute(select(PolicyEventRow)).all()
    return event


class TestSwap:
    def test_a_changed_bundle_serves_in_whole_after_the_check(
        self, client: TestClient, policies: Path, make_manifest: ManifestFactory
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        before = _policy(client)
        assert before["revision"] == REVISION_1
        assert "reload_error" not in before
        two_hours = make_manifest(packet("PKT-R-1", timeline_minutes=120, now=now))
        assert _evaluate(client, two_hours)["allow"] is True
        tighten_timeline(policies)
        assert _policy(client)["revision"] == REVISION_1  # nothing moves before the reloader looks
        _reloader(client).check()
        after = _policy(client)
        assert (after["revision"], after["engine"]) == (REVISION_2, "regorus")
        assert after["digest"] != before["digest"]
        assert "reload_error" not in after
        again = make_manifest(packet("PKT-R-2", timeline_minutes=120, now=now))
        decision = _evaluate(client, again)
        assert decision["allow"] is False
        assert [v["code"] for v in decision["violations"]] == ["evidence.stale"]
        assert decision["policy"] == {"revision": REVISION_2, "digest": after["digest"]}
        assert _metric(client, 'release_gate_policy_reloads_total{outcome="ok"}') == 1

    def test_an_unchanged_directory_swaps_nothing(
        self, client: TestClient, runtime: Runtime
    ) -> None:
        served = runtime.policy
        _reloader(client).check(forced=True)  # as on SIGHUP
        _reloader(client).check()
        assert runtime.policy is served
        assert _metric(client, 'release_gate_policy_reloads_total{outcome="ok"}') == 0

    def test_a_new_revision_alone_is_served_without_a_recheck(
        self, client: TestClient, runtime: Runtime, policies: Path
    ) -> None:
        digest = _policy(client)["digest"]
        set_revision(policies, "reload-1a")
        _reloader(client).check()
        assert (_policy(client)["revision"], _policy(client)["digest"]) == ("reload-1a", digest)
        assert runtime.store is not None
        with runtime.store.db.read() as conn:
            events = conn.execute(select(func.count()).select_from(PolicyEventRow)).scalar_one()
        assert events == 0

    def test_metrics_labels_follow_the_reloaded_lanes(
        self, client: TestClient, policies: Path
    ) -> None:
        metrics = client.app.state.metrics  # type: ignore[attr-defined]
        assert metrics.labels.lane.values == {LANE}

        def add_lane(data: dict[str, Any]) -> None:
            data["lanes"]["exec-customer-review-eu"] = data["lanes"][LANE]

        edit_data(policies, add_lane)
        set_revision(policies, REVISION_2)
        _reloader(client).check()
        assert metrics.labels.lane.values == {LANE, "exec-customer-review-eu"}


class TestFingerprint:
    def test_hidden_files_are_never_read_but_the_manifest_is(self, policies: Path) -> None:
        before = directory_fingerprint(policies)
        (policies / ".git" / "objects").mkdir(parents=True)
        (policies / ".git" / "objects" / "pack").write_bytes(b"x" * 1024)
        (policies / "governance" / ".data.json.swp").write_text("editing")
        assert directory_fingerprint(policies) == before
        set_revision(policies, REVISION_2)
        assert directory_fingerprint(policies) != before

    def test_a_missing_directory_has_a_fingerprint_of_its_own(self, tmp_path: Path) -> None:
        assert directory_fingerprint(tmp_path / "nowhere").startswith("unreadable: ")


class TestFailedReload:
    @pytest.mark.parametrize("how", sorted(BREAKAGES))
    def test_the_old_policy_keeps_serving_and_says_why(
        self, client: TestClient, policies: Path, make_manifest: ManifestFactory, how: str
    ) -> None:
        before = _policy(client)
        break_bundle(policies, how)
        _reloader(client).check()
        after = _policy(client)
        assert (after["revision"], after["digest"]) == (before["revision"], before["digest"])
        error = after["reload_error"]
        assert BREAKAGES[how] in error["detail"]
        assert error["at"].endswith("Z")
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["reload_error"] == error
        assert _evaluate(client, make_manifest())["allow"] is True
        assert _metric(client, 'release_gate_policy_reloads_total{outcome="failed"}') == 1
        _reloader(client).check()  # the same broken files: not tried, logged or counted again
        assert _metric(client, 'release_gate_policy_reloads_total{outcome="failed"}') == 1

    def test_a_repaired_directory_clears_the_error(
        self, client: TestClient, policies: Path, tmp_path: Path
    ) -> None:
        good = (policies / "release" / "lane.rego").read_text(encoding="utf-8")
        break_bundle(policies, "rego")
        _reloader(client).check()
        assert "reload_error" in _policy(client)
        (policies / "release" / "lane.rego").write_text(good, encoding="utf-8")
        _reloader(client).check()
        assert "reload_error" not in _policy(client)
        assert "reload_error" not in client.get("/readyz").json()

    def test_a_start_that_failed_serves_once_a_reload_loads(
        self, reload_settings: Settings, policies: Path
    ) -> None:
        break_bundle(policies, "manifest")
        runtime = build_runtime(reload_settings)
        try:
            with TestClient(create_app(runtime.settings, runtime=runtime)) as client:
                assert client.get("/v1/policy").status_code == 503
                set_revision(policies, REVISION_2)
                _reloader(client).check()
                assert _policy(client)["revision"] == REVISION_2
                assert client.get("/readyz").status_code == 200
        finally:
            runtime.close()

    def test_production_refuses_demo_keys_on_reload_as_at_start(
        self, client: TestClient, runtime: Runtime, policies: Path
    ) -> None:
        """The tests' bundle holds the demo keys: production would not have started on it."""
        runtime.settings = runtime.settings.model_copy(update={"env": "production"})
        tighten_timeline(policies)
        _reloader(client).check()
        policy = _policy(client)
        assert policy["revision"] == REVISION_1
        assert "refused in production mode" in policy["reload_error"]["detail"]
        assert "published demo key" in policy["reload_error"]["detail"]


class TestRecheck:
    def test_live_approvals_the_new_policy_denies_are_revoked(
        self,
        client: TestClient,
        runtime: Runtime,
        policies: Path,
        make_manifest: ManifestFactory,
    ) -> None:
        stale_soon, fresh = _stale_soon_and_fresh(client, make_manifest, "PKT-R")
        tighten_timeline(policies)
        _reloader(client).check()
        digest = _policy(client)["digest"]
        assert _verify(client, stale_soon)["reason"] == "token.revoked"
        assert _verify(client, fresh)["valid"] is True
        signed = client.get("/v1/revocations").text
        listed = RevocationList.from_jws(
            signed, keys=runtime.verification_keys(), issuer=runtime.settings.issuer
        )
        assert stale_soon["decision_id"] in listed.revoked
        assert fresh["decision_id"] not in listed.revoked
        payload = json.loads(base64.urlsafe_b64decode(signed.split(".")[1] + "=="))
        (entry,) = [e for e in payload["revoked"] if e["jti"] == stale_soon["decision_id"]]
        assert entry["reason"] == "policy.changed"
        assert runtime.store is not None
        causes = {r["jti"]: r for r in runtime.store.revocations.live(now_s=int(time.time()))}
        assert causes[stale_soon["decision_id"]]["reason"] == "policy.changed"
        event = _the_policy_event(runtime)
        assert (event.revision, event.digest) == (REVISION_2, digest)
        assert json.loads(event.revoked) == [stale_soon["decision_id"]]
        assert runtime.store.verify_chain().ok
        assert _metric(client, "release_gate_policy_revocations_total") == 1

    def test_a_second_reloader_on_the_same_store_revokes_nothing_twice(
        self,
        client: TestClient,
        runtime: Runtime,
        policies: Path,
        make_manifest: ManifestFactory,
    ) -> None:
        """Another replica (its own runtime on the same store and directory) re-checks too."""
        now = dt.datetime.now(dt.UTC)
        approved = _evaluate(
            client, make_manifest(packet("PKT-R-1", timeline_minutes=120, now=now))
        )
        replica = build_runtime(runtime.settings)
        try:
            tighten_timeline(policies)
            _reloader(client).check()
            PolicyReloader(replica).check()
            assert replica.policy is not None
            assert replica.policy.revision == REVISION_2
        finally:
            replica.close()
        assert _verify(client, approved)["reason"] == "token.revoked"
        assert runtime.store is not None
        with runtime.store.db.read() as conn:
            events = conn.execute(select(func.count()).select_from(PolicyEventRow)).scalar_one()
        assert events == 1
        revoked = list(runtime.store.revocations.live(now_s=int(time.time())))
        assert [r["jti"] for r in revoked] == [approved["decision_id"]]


class TestRecheckFailsClosed:
    def test_an_approval_the_new_policy_cannot_decide_is_revoked(
        self,
        client: TestClient,
        runtime: Runtime,
        policies: Path,
        make_manifest: ManifestFactory,
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        unreadable = _evaluate(client, make_manifest(packet("PKT-X", timeline_minutes=30, now=now)))
        fine = _evaluate(client, make_manifest(packet("PKT-Y", timeline_minutes=30, now=now)))
        add_failing_rule(policies, "PKT-X")
        set_revision(policies, REVISION_2)
        _reloader(client).check()
        assert _policy(client)["revision"] == REVISION_2
        assert _verify(client, unreadable)["reason"] == "token.revoked"
        assert _verify(client, fine)["valid"] is True
        again = post_json(
            client, "/v1/evaluate", make_manifest(packet("PKT-X", timeline_minutes=30, now=now))
        )
        assert again.status_code == 503  # what a new evaluation of it answers


class TestRecheckAtStart:
    """A policy changed while no gate ran, or shipped by a restart instead of a reload."""

    def test_a_gate_started_on_a_changed_policy_revokes_what_it_denies(
        self,
        client: TestClient,
        runtime: Runtime,
        policies: Path,
        make_manifest: ManifestFactory,
    ) -> None:
        stale_soon, fresh = _stale_soon_and_fresh(client, make_manifest, "PKT-S")
        tighten_timeline(policies)
        restarted = build_runtime(runtime.settings)  # its own start, on the edited directory
        try:
            assert restarted.policy is not None
            assert restarted.policy.revision == REVISION_2
            with TestClient(create_app(restarted.settings, runtime=restarted)) as second:
                deadline = time.monotonic() + 20
                while _verify(second, stale_soon).get("reason") != "token.revoked":
                    assert time.monotonic() < deadline, "the start-up re-check never revoked it"
                    time.sleep(0.05)
                assert _verify(second, fresh)["valid"] is True
                digest = _policy(second)["digest"]
        finally:
            restarted.close()
        event = _the_policy_event(runtime)
        assert (event.revision, event.digest, event.previous_digest) == (REVISION_2, digest, None)
        assert json.loads(event.revoked) == [stale_soon["decision_id"]]
        assert runtime.store is not None
        assert runtime.store.verify_chain().ok

    def test_a_gate_started_on_the_same_policy_records_nothing(
        self, client: TestClient, runtime: Runtime, make_manifest: ManifestFactory
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        approved = _evaluate(client, make_manifest(packet("PKT-S-3", timeline_minutes=30, now=now)))
        assert runtime.store is not None
        before = runtime.store.decisions.head()
        restarted = build_runtime(runtime.settings)
        try:
            PolicyReloader(restarted).check()
        finally:
            restarted.close()
        assert _verify(client, approved)["valid"] is True
        assert runtime.store.decisions.head() == before  # no policy event chained
        with runtime.store.db.read() as conn:
            assert conn.execute(select(func.count()).select_from(PolicyEventRow)).scalar_one() == 0


class TestSettle:
    """Polling loads a changed directory once it has stayed the same for the settle time."""

    SETTLE = 0.3

    @pytest.fixture
    def settling(self, reload_settings: Settings) -> Iterator[Runtime]:
        settle = {"policy_settle_seconds": self.SETTLE}
        built = build_runtime(reload_settings.model_copy(update=settle))
        yield built
        built.close()

    def test_a_half_copied_bundle_is_not_taken_up(self, settling: Runtime, policies: Path) -> None:
        reloader = PolicyReloader(settling)
        assert settling.policy is not None
        served = settling.policy.digest

        def first_file(data: dict[str, Any]) -> None:
            data["lanes"][LANE]["max_evidence_age_seconds"]["incident_timeline"] = (
                STRICT_TIMELINE_MAX
            )

        edit_data(policies, first_file)  # the copy has written data.json, not yet .manifest
        reloader.check()  # a poll tick in the middle of the copy
        assert settling.policy.digest == served  # not loaded: it has only just changed
        copied_at = time.monotonic()
        set_revision(policies, REVISION_2)  # the copy goes on: the quiet period starts again
        reloader.check()
        assert settling.policy.digest == served
        deadline = time.monotonic() + 10
        while settling.policy.revision != REVISION_2:
            assert time.monotonic() < deadline, "a settled directory was never loaded"
            time.sleep(0.05)
            reloader.check()
        assert time.monotonic() - copied_at >= self.SETTLE
        assert settling.reload_error is None

    def test_a_change_undone_before_it_settled_is_forgotten(
        self, settling: Runtime, policies: Path
    ) -> None:
        reloader = PolicyReloader(settling)
        reloader.check(forced=True)  # read what serves (as a SIGHUP would)
        manifest = policies / ".manifest"
        original = manifest.read_bytes()
        set_revision(policies, REVISION_2)
        reloader.check()
        assert reloader._wait_seconds() is not None  # waiting for the directory to settle
        manifest.write_bytes(original)
        reloader.check()
        # Polling is off here: with nothing to settle the thread would sleep until SIGHUP,
        # not wake at once and forever.
        assert reloader._wait_seconds() is None
        time.sleep(self.SETTLE)
        reloader.check()
        assert settling.policy is not None
        assert settling.policy.revision == REVISION_1

    def test_sighup_loads_at_once(self, settling: Runtime, policies: Path) -> None:
        reloader = PolicyReloader(settling)
        tighten_timeline(policies)
        reloader.check(forced=True)
        assert settling.policy is not None
        assert settling.policy.revision == REVISION_2
