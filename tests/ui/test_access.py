"""Who sees the packet pages: the auditor role, by bearer key or session; nobody else."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from release_gate.api.ui.session import SessionKeys
from release_gate.api.ui.signin import safe_next
from release_gate.config import Settings
from release_gate.keys.api_keys import hash_key
from release_gate.keys.signing import load_private_key
from release_gate.runtime import AUTH_OFF_WARNING
from release_gate_client.b64url import b64url_encode
from tests.ui._html import parse
from tests.ui._scenario import HOLD_REASON, PACKET, R7_RATIONALE, ApiKeys, Story, write_api_keys
from tests.ui.conftest import running

SESSION = "release-gate-session"
SIGNIN = "release-gate-signin"
PAGES = ["/ui/", f"/ui/packets/{PACKET}"]


def _form_token(html: str) -> str:
    (token,) = [
        a["value"] for t, a in parse(html).elements if t == "input" and a.get("name") == "csrf"
    ]
    assert token
    return token


def sign_in(client: TestClient, key: str, *, start: str = "/ui/signin") -> httpx.Response:
    """Open ``start`` (the form, or a page that answers with it), then submit the key."""
    form = client.get(start)
    assert form.status_code in (200, 401), form.text
    response: httpx.Response = client.post(
        "/ui/signin",
        data={"csrf": _form_token(form.text), "key": key},
        follow_redirects=False,
    )
    return response


def _no_story(html: str, story: Story) -> None:
    """None of the packet's data is on the page."""
    for secret in (PACKET, HOLD_REASON, R7_RATIONALE, story.r7["decision_id"]):
        assert secret not in html


def _set_cookie(response: httpx.Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


class TestWithoutAnAuditor:
    @pytest.mark.parametrize("path", PAGES)
    def test_no_key_gets_the_sign_in_form_and_none_of_the_data(
        self, gate: TestClient, seeded: Story, path: str
    ) -> None:
        response = gate.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "Sign in" in parse(response.text).text
        _no_story(response.text, seeded)

    def test_a_decision_link_without_a_key_says_nothing_about_it(
        self, gate: TestClient, seeded: Story
    ) -> None:
        response = gate.get(f"/ui/decisions/{seeded.r7['decision_id']}", follow_redirects=False)
        assert response.status_code == 401
        _no_story(response.text, seeded)

    @pytest.mark.parametrize("role", ["evaluator", "verifier", "release_owner"])
    @pytest.mark.parametrize("path", PAGES)
    def test_a_key_without_the_auditor_role_is_403(
        self, gate: TestClient, seeded: Story, api_keys: ApiKeys, role: str, path: str
    ) -> None:
        response = gate.get(path, headers=api_keys.bearer(role))
        assert response.status_code == 403
        assert "does not have the auditor role" in response.text
        _no_story(response.text, seeded)

    def test_an_unknown_bearer_key_is_401(self, gate: TestClient, seeded: Story) -> None:
        response = gate.get(PAGES[1], headers={"Authorization": "Bearer rgk_made_up"})
        assert response.status_code == 401
        _no_story(response.text, seeded)

    def test_an_auditor_bearer_key_sees_the_page(
        self, gate: TestClient, seeded: Story, api_keys: ApiKeys
    ) -> None:
        response = gate.get(PAGES[1], headers=api_keys.bearer("auditor"))
        assert response.status_code == 200
        assert HOLD_REASON in parse(response.text).text


def _forgeries(signing_key: Ed25519PrivateKey, api_keys: ApiKeys) -> Iterator[tuple[str, str]]:
    """Cookies an attacker might present, each with why it must fail."""
    now = int(time.time())
    real = SessionKeys(signing_key)
    auditor = api_keys.names["auditor"], hash_key(api_keys.keys["auditor"])
    good, _ = real.seal(name=auditor[0], key_sha256=auditor[1], now=now, lifetime=600)
    version, payload, mac = good.split(".")
    yield "garbage", "not-a-session"
    yield "no MAC", f"{version}.{payload}."
    yield "MAC of another payload", f"{version}.{payload[:-2]}AA.{mac}"
    other = json.dumps({"sub": auditor[0], "bind": "x", "iat": now, "exp": now + 600, "csrf": "c"})
    yield "unsigned payload", f"v1.{b64url_encode(other.encode())}.{mac}"
    stranger = SessionKeys(Ed25519PrivateKey.generate())
    forged, _ = stranger.seal(name=auditor[0], key_sha256=auditor[1], now=now, lifetime=600)
    yield "signed with another key", forged
    expired, _ = real.seal(name=auditor[0], key_sha256=auditor[1], now=now - 700, lifetime=600)
    yield "expired", expired
    owner = api_keys.names["release_owner"], hash_key(api_keys.keys["release_owner"])
    not_auditor, _ = real.seal(name=owner[0], key_sha256=owner[1], now=now, lifetime=600)
    yield "a key without the auditor role", not_auditor
    unbound, _ = real.seal(name=auditor[0], key_sha256="0" * 64, now=now, lifetime=600)
    yield "bound to another key hash", unbound


class TestForgedSessions:
    def test_no_forged_or_stale_cookie_opens_a_page(
        self, gate: TestClient, seeded: Story, api_keys: ApiKeys, signing_key_file: Path
    ) -> None:
        key = load_private_key(signing_key_file).private_key
        for why, cookie in _forgeries(key, api_keys):
            gate.cookies.set(SESSION, cookie)
            response = gate.get(PAGES[1])
            assert response.status_code == 401, why
            _no_story(response.text, seeded)
        gate.cookies.clear()
        assert sign_in(gate, api_keys.keys["auditor"]).status_code == 303
        assert gate.get(PAGES[1]).status_code == 200  # the same client, honestly signed in


class TestSignIn:
    def test_sets_an_httponly_samesite_strict_session_cookie(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        response = sign_in(gate, api_keys.keys["auditor"])
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/"
        cookie = _set_cookie(response, SESSION).lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/" in cookie
        assert "secure" not in cookie  # development mode, plain HTTP
        assert "max-age=28800" in cookie
        page = gate.get(PAGES[1])
        assert page.status_code == 200
        assert f"Signed in as {api_keys.names['auditor']}" in parse(page.text).text

    def test_goes_back_to_the_page_that_asked(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story
    ) -> None:
        response = sign_in(gate, api_keys.keys["auditor"], start=PAGES[1])
        assert response.status_code == 303
        assert response.headers["location"] == PAGES[1]

    def test_the_key_is_in_no_url_page_header_or_log(
        self, gate: TestClient, api_keys: ApiKeys, seeded: Story, caplog: pytest.LogCaptureFixture
    ) -> None:
        key = api_keys.keys["auditor"]
        caplog.set_level(logging.DEBUG)
        form = gate.get(PAGES[1])
        response = gate.post(
            "/ui/signin", data={"csrf": _form_token(form.text), "key": key}, follow_redirects=True
        )
        assert response.status_code == 200
        assert response.history  # it went through the redirect
        for step in [form, *response.history, response]:
            assert key not in str(step.url)
            assert key not in step.text
            assert all(key not in value for value in step.headers.values())
        assert key not in caplog.text
        assert "GET /ui/packets/{packet_id} 200" in caplog.text  # the access log did run

    @pytest.mark.parametrize("method", ["get", "post"])
    def test_a_key_in_the_query_string_is_refused(
        self, gate: TestClient, api_keys: ApiKeys, method: str
    ) -> None:
        response = gate.request(method, "/ui/signin", params={"key": api_keys.keys["auditor"]})
        assert response.status_code == 400
        assert "Never put a key in a URL" in response.text
        assert api_keys.keys["auditor"] not in response.text
        assert SESSION not in response.headers.get("set-cookie", "")

    def test_a_wrong_key_is_refused_without_a_session(
        self, gate: TestClient, api_keys: ApiKeys
    ) -> None:
        response = sign_in(gate, "rgk_not_a_key")
        assert response.status_code == 401
        assert "That key is not valid" in response.text
        assert "rgk_not_a_key" not in response.text
        assert SESSION not in response.headers.get("set-cookie", "")

    def test_a_key_without_the_auditor_role_gets_no_session(
        self, gate: TestClient, api_keys: ApiKeys
    ) -> None:
        response = sign_in(gate, api_keys.keys["release_owner"])
        assert response.status_code == 403
        assert "does not have the auditor role" in response.text
        assert SESSION not in response.headers.get("set-cookie", "")

    def test_a_form_without_its_cookie_and_token_is_refused(
        self, gate: TestClient, api_keys: ApiKeys
    ) -> None:
        key = api_keys.keys["auditor"]
        cases = [{"key": key}, {"key": key, "csrf": "made-up"}]
        for data in cases:  # a cross-site page can post neither the cookie nor the token
            gate.cookies.clear()
            response = gate.post("/ui/signin", data=data, follow_redirects=False)
            assert response.status_code == 400
            assert SESSION not in response.headers.get("set-cookie", "")
        form = gate.get("/ui/signin")
        token = _form_token(form.text)
        gate.cookies.clear()
        stolen = {"csrf": token, "key": key}  # the token without its cookie
        assert gate.post("/ui/signin", data=stolen, follow_redirects=False).status_code == 400

    def test_a_cross_site_submission_is_refused(self, gate: TestClient, api_keys: ApiKeys) -> None:
        form = gate.get("/ui/signin")
        response = gate.post(
            "/ui/signin",
            data={"csrf": _form_token(form.text), "key": api_keys.keys["auditor"]},
            headers={"sec-fetch-site": "cross-site"},
            follow_redirects=False,
        )
        assert response.status_code == 403
        assert SESSION not in response.headers.get("set-cookie", "")

    @pytest.mark.parametrize(
        ("asked", "goes"),
        [
            ("/ui/packets/P-1?cursor=x", "/ui/packets/P-1?cursor=x"),
            ("/ui/", "/ui/"),
            ("//evil.example/ui/", "/ui/"),
            ("https://evil.example/ui/", "/ui/"),
            ("/ui/../v1/decisions", "/ui/"),
            ("/ui/%2e%2e/v1", "/ui/"),
            ("/ui/\\evil", "/ui/"),
            ("/v1/decisions", "/ui/"),
            ("/ui/\r\nSet-Cookie:x", "/ui/"),
            (None, "/ui/"),
        ],
    )
    def test_next_stays_under_ui(self, asked: str | None, goes: str) -> None:
        assert safe_next(asked) == goes


class TestSignOut:
    def test_clears_the_session_cookie(self, gate: TestClient, api_keys: ApiKeys) -> None:
        sign_in(gate, api_keys.keys["auditor"])
        page = gate.get("/ui/")
        response = gate.post(
            "/ui/signout", data={"csrf": _form_token(page.text)}, follow_redirects=False
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/signin"
        cleared = _set_cookie(response, SESSION).lower()
        assert "max-age=0" in cleared
        assert gate.get("/ui/").status_code == 401

    def test_needs_the_pages_form_token(self, gate: TestClient, api_keys: ApiKeys) -> None:
        sign_in(gate, api_keys.keys["auditor"])
        for data in ({}, {"csrf": "made-up"}):
            response = gate.post("/ui/signout", data=data, follow_redirects=False)
            assert response.status_code == 403
        assert gate.get("/ui/").status_code == 200  # still signed in


class TestSessionLife:
    def _signed_in_cookie(self, settings: Settings, api_keys: ApiKeys) -> str:
        with running(settings) as client:
            assert sign_in(client, api_keys.keys["auditor"]).status_code == 303
            cookie: str = client.cookies[SESSION]
            return cookie

    def _status(self, settings: Settings, cookie: str) -> int:
        with running(settings, cookies={SESSION: cookie}) as client:
            status: int = client.get("/ui/").status_code
            return status

    def test_one_sign_in_works_at_every_replica(
        self, ui_settings: Settings, api_keys: ApiKeys
    ) -> None:
        cookie = self._signed_in_cookie(ui_settings, api_keys)
        assert self._status(ui_settings, cookie) == 200  # another app: no shared memory

    def test_ends_when_its_key_leaves_the_key_file(
        self, ui_settings: Settings, api_keys: ApiKeys, tmp_path: Path
    ) -> None:
        cookie = self._signed_in_cookie(ui_settings, api_keys)
        entries = json.loads(api_keys.path.read_text())
        kept = [e for e in entries if e["name"] != api_keys.names["auditor"]]
        without = tmp_path / "without-auditor.json"
        without.write_text(json.dumps(kept))
        assert self._status(ui_settings.model_copy(update={"api_keys": without}), cookie) == 401

    def test_ends_when_its_key_is_replaced_under_the_same_name(
        self, ui_settings: Settings, api_keys: ApiKeys, tmp_path: Path
    ) -> None:
        cookie = self._signed_in_cookie(ui_settings, api_keys)
        replaced = write_api_keys(tmp_path / "replaced.json")  # same names, new keys
        assert replaced.names["auditor"] == api_keys.names["auditor"]
        assert (
            self._status(ui_settings.model_copy(update={"api_keys": replaced.path}), cookie) == 401
        )

    def test_ends_when_the_gate_signing_key_changes(
        self, ui_settings: Settings, api_keys: ApiKeys, tmp_path: Path
    ) -> None:
        from release_gate.keys.signing import write_private_key

        cookie = self._signed_in_cookie(ui_settings, api_keys)
        new_key = tmp_path / "rotated.pem"
        write_private_key(new_key, Ed25519PrivateKey.generate(), force=False)
        rotated = ui_settings.model_copy(update={"signing_key_file": new_key})
        assert self._status(rotated, cookie) == 401


class TestAuthenticationOff:
    def test_pages_carry_the_start_up_warning_as_a_banner(
        self, tmp_path: Path, ui_settings: Settings, caplog: pytest.LogCaptureFixture
    ) -> None:
        settings = ui_settings.model_copy(update={"api_keys": None})
        with running(settings) as client:
            assert AUTH_OFF_WARNING in caplog.text  # what start-up said...
            for path in ("/ui/", "/ui/signin"):
                page = client.get(path)
                assert page.status_code == 200
                banner = [
                    " ".join(text.split())
                    for text in parse(page.text).chunks
                    if "AUTHENTICATION IS OFF" in text
                ]
                assert banner == [AUTH_OFF_WARNING]  # ...every page says


class TestProductionServesPagesOverHttpsOnly:
    def test_plain_http_is_refused_with_a_page_that_says_why(
        self, production_settings: Settings, api_keys: ApiKeys
    ) -> None:
        with running(production_settings) as client:
            for path in ("/ui/signin", "/ui/", f"/ui/packets/{PACKET}"):
                response = client.get(path, headers=api_keys.bearer("auditor"))
                assert response.status_code == 403, path
                assert "HTTPS required" in response.text
                assert "set-cookie" not in response.headers
            form = client.post("/ui/signin", data={"key": api_keys.keys["auditor"]})
            assert form.status_code == 403
            assert "set-cookie" not in form.headers

    def test_over_https_cookies_are_secure_and_host_only(
        self, production_settings: Settings, api_keys: ApiKeys
    ) -> None:
        with running(production_settings, base_url="https://gate.example") as client:
            form = client.get("/ui/signin")
            assert form.status_code == 200
            assert form.headers["strict-transport-security"].startswith("max-age=")
            signin_cookie = _set_cookie(form, "__Host-release-gate-signin").lower()
            assert "secure" in signin_cookie
            response = client.post(
                "/ui/signin",
                data={"csrf": _form_token(form.text), "key": api_keys.keys["auditor"]},
                follow_redirects=False,
            )
            assert response.status_code == 303
            cookie = _set_cookie(response, "__Host-release-gate-session").lower()
            for attribute in ("secure", "httponly", "samesite=strict", "path=/"):
                assert attribute in cookie
            assert "domain=" not in cookie
            assert client.get("/ui/").status_code == 200

    def test_behind_a_tls_proxy_x_forwarded_proto_decides(
        self, production_settings: Settings, api_keys: ApiKeys
    ) -> None:
        settings = production_settings.model_copy(update={"ui_tls_proxy": True})
        auditor = api_keys.bearer("auditor")
        with running(settings) as client:
            cases = [("https", 200), ("http", 403), ("http, https", 200), ("https, http", 403)]
            for forwarded, status in cases:
                headers = {**auditor, "x-forwarded-proto": forwarded}
                assert client.get("/ui/", headers=headers).status_code == status, forwarded
            assert client.get("/ui/", headers=auditor).status_code == 403

    def test_without_the_proxy_setting_the_header_is_not_trusted(
        self, production_settings: Settings, api_keys: ApiKeys
    ) -> None:
        with running(production_settings) as client:
            headers = {**api_keys.bearer("auditor"), "x-forwarded-proto": "https"}
            assert client.get("/ui/", headers=headers).status_code == 403
