"""A person at a real browser: sign in, the list, a packet's story, links, sign out.

Headless Chromium (Debian's) drives ``release-gate serve`` in its own process,
on a store whose story was told through the HTTP API: an approval superseded
by the next, an approval with accepted residual disagreement that a hold then
revoked, and a denial. The main flow runs with JavaScript switched off (the
pages must not need it); layout, print and /docs run with it on. With
``RELEASE_GATE_UI_SCREENSHOTS`` set the screenshots go to ``docs/screenshots/``
(the ones the README shows), else to the test's temporary directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.keys.signing import write_private_key
from release_gate.policy.bundle import load_bundle
from release_gate.policy.metadata import rule_metadata
from tests.databases import migrate
from tests.deploy._support import GateProcess, base_env, free_port, release_gate_argv
from tests.helpers import ROOT
from tests.ui._browser import WAIT_SECONDS, browser_paths, chromium, full_page_png
from tests.ui._scenario import (
    HOLD_REASON,
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
    seed_story,
    write_api_keys,
    write_trust,
)

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Live:
    url: str
    keys: ApiKeys
    story: Story
    trust: Trust
    gate: GateProcess


def _poster(http: httpx.Client, keys: ApiKeys, role: str) -> Any:
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"content-type": "application/json", **keys.bearer(role)}
        response = http.post(path, content=json.dumps(body).encode(), headers=headers)
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    return post


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """``release-gate serve`` on a store with the story told, for the whole module."""
    browser_paths()  # skip before starting anything when there is no browser
    root = tmp_path_factory.mktemp("ui-browser")
    trust = write_trust(root / "policies")
    keys = write_api_keys(root / "api-keys.json")
    key_file = root / "gate.pem"
    write_private_key(key_file, Ed25519PrivateKey.generate(), force=False)
    db_url = f"sqlite:///{root / 'decisions.db'}"
    migrate(db_url)
    port = free_port()
    env = base_env(
        RELEASE_GATE_POLICIES=str(trust.policies),
        RELEASE_GATE_DATABASE_URL=db_url,
        RELEASE_GATE_SIGNING_KEY_FILE=str(key_file),
        RELEASE_GATE_API_KEYS=str(keys.path),
        RELEASE_GATE_STATE_DIR=str(root / "state"),
        RELEASE_GATE_DRAIN_SECONDS="0",
    )
    argv = release_gate_argv("serve", "--port", str(port))
    with GateProcess(argv, env, port, root / "logs") as gate:
        with httpx.Client(base_url=gate.url, timeout=WAIT_SECONDS) as http:
            story = seed_story(trust, lambda role: _poster(http, keys, role))
        yield Live(url=gate.url, keys=keys, story=story, trust=trust, gate=gate)
        assert keys.keys["auditor"] not in gate.logs()  # signed in many times, never logged


def _shots(tmp_path: Path) -> Path:
    return (
        ROOT / "docs" / "screenshots" if os.environ.get("RELEASE_GATE_UI_SCREENSHOTS") else tmp_path
    )


def _wait(driver: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS)


def _sign_in(driver: Any, key: str) -> None:
    """Type the key into the form the page shows and submit it (a click, no script)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    field = _wait(driver).until(ec.presence_of_element_located((By.ID, "key")))
    field.clear()
    field.send_keys(key)
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form[action='/ui/signin'] button").click()
    _wait(driver).until(lambda _: _gone(page))  # the next page replaced this one
    _wait(driver).until(ec.presence_of_element_located((By.TAG_NAME, "footer")))


def _gone(element: Any) -> bool:
    """Is ``element`` no longer in the page? Chromedriver says so with a stale-element
    error, or, while the next page loads, with an inspector error about the node."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


class TestAuditorInABrowser:
    def test_signs_in_reads_the_list_and_the_packet_story_and_signs_out(
        self, live: Live, tmp_path: Path
    ) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        story, shots = live.story, _shots(tmp_path)
        rules = {r.code: r for r in rule_metadata(load_bundle(live.trust.policies))}
        with chromium(tmp_path / "profile", javascript=False) as driver:
            driver.get(live.url + "/ui/")
            assert _text(driver, "h1") == "Sign in"
            assert PACKET not in _text(driver, "body")

            _sign_in(driver, "rgk_not_the_key")
            assert "That key is not valid" in _text(driver, ".notice")
            assert driver.find_element(By.ID, "key").get_attribute("value") == ""

            _sign_in(driver, live.keys.keys["auditor"])
            assert driver.current_url == live.url + "/ui/"
            assert live.keys.keys["auditor"] not in driver.current_url
            listing = _text(driver, "table.packets")
            assert listing.index(OTHER_PACKET) < listing.index(PACKET)
            assert "approved, token live" in listing
            assert "blocked" in listing
            assert "signers.missing_role" in listing
            assert f"Signed in as {live.keys.names['auditor']}" in _text(driver, "header.top")
            full_page_png(driver, shots / "packets.png")

            driver.find_element(By.LINK_TEXT, PACKET).click()
            _wait(driver).until(ec.url_to_be(f"{live.url}/ui/packets/{PACKET}"))
            assert _text(driver, "h1") == f"Packet {PACKET}"

            denial = _text(driver, f"#decision-{story.r8['decision_id']}")
            assert "denied" in denial
            for violation in story.r8["violations"]:
                rule = rules[violation["code"]]
                assert violation["code"] in denial
                assert rule.title in denial
                assert rule.solution is not None
                assert " ".join(rule.solution.split()) in " ".join(denial.split())
                assert violation["path"] in denial

            disagreement = _text(driver, "#disagreement")
            for shown in (R7_OBJECTION, R7_RATIONALE, PEOPLE["owner"][0], PEOPLE["cs"][0]):
                assert shown in disagreement

            superseded = _text(driver, f"#token-{story.r6['decision_id']}")
            assert "revoked" in superseded
            assert "superseded" in superseded
            held = _text(driver, f"#token-{story.r7['decision_id']}")
            assert "revoked" in held
            assert "a release owner placed a hold" in held
            assert "no outcome reported" in held
            assert "returned" in superseded
            assert "stale_evidence" in superseded
            assert R6_RETURNED in superseded

            hold = _text(driver, f"#hold-{story.hold['hold_id']}")
            assert HOLD_REASON in hold
            assert live.keys.names["release_owner"] in hold
            evidence = _text(driver, f"#event-{story.event['event_id']}")
            for shown in (TIMELINE_NOTE, story.event_digest, "material"):
                assert shown in evidence
            assert "superseded" in _text(driver, "#revision-exec-customer-review-6")
            full_page_png(driver, shots / "packet.png")

            row = driver.find_element(By.ID, "revision-exec-customer-review-6")
            row.find_element(By.LINK_TEXT, "approved here").click()
            _wait(driver).until(ec.url_contains(f"#decision-{story.r7['decision_id']}"))
            target = driver.find_element(By.CSS_SELECTOR, ":target")
            assert target.get_attribute("id") == f"decision-{story.r7['decision_id']}"

            driver.find_element(By.CSS_SELECTOR, "form[action='/ui/signout'] button").click()
            _wait(driver).until(ec.url_to_be(live.url + "/ui/signin"))
            driver.get(live.url + f"/ui/packets/{PACKET}")
            assert _text(driver, "h1") == "Sign in"
            assert HOLD_REASON not in _text(driver, "body")

    def test_a_key_without_the_auditor_role_cannot_sign_in(
        self, live: Live, tmp_path: Path
    ) -> None:
        with chromium(tmp_path / "profile", javascript=False) as driver:
            driver.get(live.url + f"/ui/packets/{PACKET}")
            _sign_in(driver, live.keys.keys["release_owner"])
            assert "does not have the auditor role" in _text(driver, ".notice")
            assert not driver.get_cookies() or all(
                c["name"] != "release-gate-session" for c in driver.get_cookies()
            )
            assert HOLD_REASON not in _text(driver, "body")


def _console_problems(driver: Any) -> list[str]:
    """What the browser complained about, but the sign-in page's own 401."""
    entries = driver.get_log("browser")
    return [
        e["message"]
        for e in entries
        if e["level"] in ("SEVERE", "WARNING") and "status of 401" not in e["message"]
    ]


class TestLayoutPrintAndDocs:
    def test_a_phone_shows_the_packet_without_sideways_scrolling(
        self, live: Live, tmp_path: Path
    ) -> None:
        from selenium.webdriver.common.by import By

        with chromium(tmp_path / "profile", javascript=True, size=(390, 844)) as driver:
            driver.get(live.url + f"/ui/packets/{PACKET}")
            _sign_in(driver, live.keys.keys["auditor"])
            assert _text(driver, "h1") == f"Packet {PACKET}"
            widths = driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert widths[0] <= widths[1], widths
            badge = driver.find_element(By.CSS_SELECTOR, ".badge")
            assert badge.value_of_css_property("border-top-left-radius") == "999px"  # our CSS ran
            full_page_png(driver, _shots(tmp_path) / "packet-phone.png")
            assert not _console_problems(driver)  # no CSP report, nothing blocked

            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
            assert not driver.find_element(By.CSS_SELECTOR, "nav.sections").is_displayed()
            assert driver.find_element(By.ID, "decisions").is_displayed()

    def test_the_api_docs_render_from_the_gate_alone(self, live: Live, tmp_path: Path) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        with chromium(tmp_path / "profile", javascript=True) as driver:
            driver.get(live.url + "/docs")
            title = _wait(driver).until(
                ec.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title"))
            )
            assert "release-gate" in title.text
            _wait(driver).until(
                ec.presence_of_element_located(
                    (By.CSS_SELECTOR, "#operations-evaluation-evaluate_v1_evaluate_post, .opblock")
                )
            )
            loaded = driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
            )
            assert loaded
            assert all(url.startswith(live.url + "/") for url in loaded), loaded
            assert not _console_problems(driver)
