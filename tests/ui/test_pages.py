"""What an auditor reads on the pages: the codes, titles and solutions, the accepted
disagreement, the holds, the token states and the links between them."""

from __future__ import annotations

import dataclasses
import json
import time
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from release_gate.api.ui.render import RuleBook, make_environment
from release_gate.decision.model import Violation
from release_gate.policy.bundle import load_bundle
from release_gate.policy.metadata import rule_metadata
from release_gate.store import Store
from release_gate.store.story import read_packet_story
from tests.ui._html import Page, parse
from tests.ui._scenario import (
    HOLD_REASON,
    LANE,
    OTHER_LANE,
    OTHER_PACKET,
    PACKET,
    PEOPLE,
    R6_RETURNED,
    R7_OBJECTION,
    R7_RATIONALE,
    TIMELINE_NOTE,
    ApiKeys,
    Story,
    Trust,
    manifest,
)


def _get(gate: TestClient, api_keys: ApiKeys, path: str) -> Page:
    response = gate.get(path, headers=api_keys.bearer("auditor"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return parse(response.text)


def _article(html: str, anchor: str) -> str:
    """The visible text of the element with id ``anchor`` (to its closing tag)."""
    start = html.index(f'id="{anchor}"')
    end = html.index("</article>" if "decision-" in anchor else "</li>", start)
    return parse(html[html.rindex("<", 0, start) : end]).text


class TestPacketPage:
    def test_a_denial_shows_its_codes_titles_solutions_and_paths(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story, trust: Trust
    ) -> None:
        html = gate.get(f"/ui/packets/{PACKET}", headers=api_keys.bearer("auditor")).text
        denial = _article(html, f"decision-{seeded.r8['decision_id']}")
        rules = {r.code: r for r in rule_metadata(load_bundle(trust.policies))}
        assert "denied" in denial
        for violation in seeded.r8["violations"]:
            rule = rules[violation["code"]]
            for shown in (violation["code"], rule.title, violation["message"], violation["path"]):
                assert shown in denial
            assert rule.solution is not None
            assert " ".join(rule.solution.split()) in denial

    def test_an_approval_shows_time_policy_engine_and_token(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        html = gate.get(f"/ui/packets/{PACKET}", headers=api_keys.bearer("auditor")).text
        approval = _article(html, f"decision-{seeded.r7['decision_id']}")
        assert "approved" in approval
        assert seeded.r7["policy"]["revision"] in approval
        assert "engine regorus" in approval
        assert seeded.r7["evaluated_at"][:10] in approval
        assert seeded.r7["packet"]["digest"] in approval
        assert seeded.r7["decision_id"] in approval  # the token id

    def test_every_decision_has_its_own_anchor(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        page = _get(gate, api_keys, f"/ui/packets/{PACKET}")
        for decision in (seeded.r6, seeded.r7, seeded.r8):
            assert f"decision-{decision['decision_id']}" in page.ids
        assert f"hold-{seeded.hold['hold_id']}" in page.ids

    def test_revisions_say_superseded_by_which_and_link_to_it(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        html = gate.get(f"/ui/packets/{PACKET}", headers=api_keys.bearer("auditor")).text
        start = html.index(f'id="revision-{LANE}-6"')
        row = html[start : html.index("</tr>", start)]
        assert "superseded" in parse(row).text
        assert "revision 7" in parse(row).text
        assert f'href="#decision-{seeded.r7["decision_id"]}"' in row
        assert f'id="decision-{seeded.r7["decision_id"]}"' in html  # the link lands

    def test_accepted_disagreement_with_who_and_why(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        page = _get(gate, api_keys, f"/ui/packets/{PACKET}")
        section = page.text[page.text.index("Accepted residual disagreement") :]
        r7 = section[section.index("Revision 7") : section.index("Revision 6")]
        for shown in ("OBJ-12", R7_OBJECTION, R7_RATIONALE, PEOPLE["owner"][0], PEOPLE["cs"][0]):
            assert shown in r7
        assert "OBJ-13" not in r7  # resolved, not residual

    def test_tokens_with_their_state_and_why_revoked(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        html: str = gate.get(f"/ui/packets/{PACKET}", headers=api_keys.bearer("auditor")).text

        def row(token_id: str) -> str:
            start = html.index(f'id="token-{token_id}"')
            return html[start : html.index("</tr>", start)]

        r6, r7 = row(seeded.r6["decision_id"]), row(seeded.r7["decision_id"])
        assert "revoked" in parse(r6).text
        assert "superseded" in parse(r6).text
        assert f'href="#decision-{seeded.r7["decision_id"]}"' in r6
        assert "hold" in parse(r7).text
        assert f'href="#hold-{seeded.hold["hold_id"]}"' in r7
        assert "no outcome reported" in parse(r7).text
        assert "returned : stale_evidence" in parse(r6).text  # <strong>returned</strong>: ...
        assert R6_RETURNED in parse(r6).text

    def test_holds_with_reason_and_actor(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        html = gate.get(f"/ui/packets/{PACKET}", headers=api_keys.bearer("auditor")).text
        hold = _article(html, f"hold-{seeded.hold['hold_id']}")
        assert HOLD_REASON in hold
        assert api_keys.names["release_owner"] in hold
        assert "active" in hold
        gate.delete(f"/v1/holds/{seeded.hold['hold_id']}", headers=api_keys.bearer("release_owner"))
        html = gate.get(f"/ui/packets/{PACKET}", headers=api_keys.bearer("auditor")).text
        assert "lifted by" in _article(html, f"hold-{seeded.hold['hold_id']}")

    def test_evidence_events_with_what_they_said(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        html = gate.get(f"/ui/packets/{PACKET}", headers=api_keys.bearer("auditor")).text
        event = _article(html, f"event-{seeded.event['event_id']}")
        for shown in ("incident_timeline", f"incident_timeline/{PACKET}", seeded.event_digest):
            assert shown in event
        assert TIMELINE_NOTE in event
        assert "material" in event
        assert "No evidence events recorded." not in html

    def test_a_token_revoked_by_an_evidence_event_links_to_it(
        self, gate: TestClient, api_keys: ApiKeys, trust: Trust
    ) -> None:
        evaluate = {"content-type": "application/json", **api_keys.bearer("evaluator")}
        document = manifest(trust, revision=1, packet_id="PKT-2026-0600")
        approved = gate.post("/v1/evaluate", content=json.dumps(document), headers=evaluate).json()
        assert approved["allow"] is True
        body = {
            "source": "case_management",
            "ref": "case_management/PKT-2026-0600",
            "digest": "sha256:" + "e" * 64,
            "observed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "material": True,
        }
        sent = gate.post(
            "/v1/evidence-events",
            content=json.dumps(body),
            headers={"content-type": "application/json", **api_keys.bearer("evidence_source")},
        ).json()
        assert sent["revoked_tokens"] == [approved["decision_id"]]
        html = gate.get("/ui/packets/PKT-2026-0600", headers=api_keys.bearer("auditor")).text
        start = html.index(f'id="token-{approved["decision_id"]}"')
        row = html[start : html.index("</tr>", start)]
        assert "the evidence it relied on changed" in parse(row).text
        assert f'href="#event-{sent["event_id"]}"' in row
        assert f'id="event-{sent["event_id"]}"' in html

    def test_a_decision_link_lands_on_its_anchor(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        decision_id = seeded.r8["decision_id"]
        response = gate.get(
            f"/ui/decisions/{decision_id}",
            headers=api_keys.bearer("auditor"),
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/ui/packets/{PACKET}#decision-{decision_id}"

    @pytest.mark.parametrize(
        "path",
        [
            "/ui/packets/PKT-NEVER-SEEN",
            "/ui/packets/<script>",
            "/ui/decisions/not-a-uuid",
            "/ui/decisions/00000000-0000-4000-8000-000000000000",
        ],
    )
    def test_unknown_things_are_a_404_page(
        self, gate: TestClient, api_keys: ApiKeys, path: str
    ) -> None:
        response = gate.get(path, headers=api_keys.bearer("auditor"))
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "<script>" not in response.text

    def test_a_bad_cursor_is_a_400_page(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        for path in (f"/ui/packets/{PACKET}?cursor=nope", "/ui/?cursor=nope"):
            response = gate.get(path, headers=api_keys.bearer("auditor"))
            assert response.status_code == 400
            assert "Invalid cursor" in parse(response.text).text

    def test_a_store_outage_is_a_503_page(self, gate: TestClient, api_keys: ApiKeys) -> None:
        runtime = gate.app.state.runtime  # type: ignore[attr-defined]
        store, runtime.store = runtime.store, None
        try:
            response = gate.get("/ui/", headers=api_keys.bearer("auditor"))
        finally:
            runtime.store = store
        assert response.status_code == 503
        assert "Decision store unavailable" in parse(response.text).text


class TestPacketList:
    def test_rows_with_latest_revision_and_state(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        page = _get(gate, api_keys, "/ui/")
        text = page.text
        assert text.index(OTHER_PACKET) < text.index(PACKET)  # newest activity first
        assert "revision 8" in text
        assert "blocked" in text
        assert "signers.missing_role" in text
        assert "approved, token live" in text
        assert f"/ui/packets/{PACKET}" in page.links()

    def test_lane_filter(self, gate: TestClient, api_keys: ApiKeys, seeded: Story) -> None:
        text = _get(gate, api_keys, f"/ui/?lane={OTHER_LANE}").text
        assert OTHER_PACKET in text
        assert PACKET not in text.replace(OTHER_PACKET, "")
        response = gate.get("/ui/?lane=<b>", headers=api_keys.bearer("auditor"))
        assert response.status_code == 400


class TestTitlesAndSolutions:
    def test_from_the_item_when_it_has_them_else_from_the_policy(self, trust: Trust) -> None:
        book = RuleBook().load(load_bundle(trust.policies))
        rules = {r.code: r for r in rule_metadata(load_bundle(trust.policies))}
        own = SimpleNamespace(code="signers.missing_role", title="Own title", solution="Own fix")
        bare = Violation(code="signers.missing_role", message="m", path="/signatures")
        unknown = Violation(code="nobody.knows", message="m", path="")
        assert (book.title(own), book.solution(own)) == ("Own title", "Own fix")
        rule = rules["signers.missing_role"]
        assert (book.title(bare), book.solution(bare)) == (rule.title, rule.solution)
        assert (book.title(unknown), book.solution(unknown)) == ("nobody.knows", None)

    def test_warnings_render_like_violations(
        self, gate: TestClient, seeded: Story, trust: Trust
    ) -> None:
        store: Store = gate.app.state.runtime.store  # type: ignore[attr-defined]
        story = read_packet_story(store.db, PACKET, now_s=int(time.time()))
        warning = Violation(code="evidence.stale", message="getting old", path="/evidence/0")
        record = story.decisions[0]
        warned = dataclasses.replace(
            record, decision=dataclasses.replace(record.decision, warnings=(warning,))
        )
        html = (
            make_environment()
            .get_template("packet.html")
            .render(
                story=dataclasses.replace(story, decisions=(warned,)),
                rules=RuleBook().load(load_bundle(trust.policies)),
                cursor=None,
                superseded={},
                viewer=None,
                auth_off_banner=None,
                form_token=None,
            )
        )
        text = _article(html, f"decision-{record.decision.decision_id}")
        assert "Warnings" in text
        assert "getting old" in text
        assert "/evidence/0" in text
