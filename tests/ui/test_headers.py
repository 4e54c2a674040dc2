"""Headers on every page, the stylesheet, and the API docs served without any CDN."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from release_gate.api.ui.render import DOCS_CSP, PAGES_CSP
from tests.ui._html import parse
from tests.ui._scenario import PACKET, ApiKeys, Story

UI_PATHS = [
    "/ui/",
    f"/ui/packets/{PACKET}",
    "/ui/signin",
    "/ui/static/gate.css",
    "/ui/no-such-page",
    "/ui/packets/NOPE",
]


def _directives(policy: str) -> dict[str, str]:
    return {d.split()[0]: d.partition(" ")[2] for d in (p.strip() for p in policy.split(";")) if d}


class TestSecurityHeaders:
    @pytest.mark.parametrize("path", UI_PATHS)
    @pytest.mark.parametrize("role", ["auditor", None])
    def test_every_ui_response_has_them(
        self, gate: TestClient, seeded: Story, api_keys: ApiKeys, path: str, role: str | None
    ) -> None:
        headers = api_keys.bearer(role) if role else {}
        response = gate.get(path, headers=headers)
        assert response.headers["content-security-policy"] == PAGES_CSP
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "strict-transport-security" not in response.headers  # development mode

    def test_the_pages_policy_allows_no_script_and_no_other_origin(self) -> None:
        policy = _directives(PAGES_CSP)
        assert policy["default-src"] == "'none'"
        assert "script-src" not in policy  # so default-src 'none' applies: no script at all
        assert policy["style-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["form-action"] == "'self'"
        assert "unsafe-inline" not in PAGES_CSP

    def test_pages_refer_only_to_the_gate_itself(
        self, gate: TestClient, seeded: Story, api_keys: ApiKeys
    ) -> None:
        for path in UI_PATHS[:3]:
            page = parse(gate.get(path, headers=api_keys.bearer("auditor")).text)
            assert "script" not in page.tags
            assert not [a for t, a in page.elements if "style" in a]  # no inline style either
            for url in page.urls():
                assert url.startswith(("/", "#")), url

    def test_html_pages_are_not_cached_the_stylesheet_is(
        self, gate: TestClient, seeded: Story, api_keys: ApiKeys
    ) -> None:
        page = gate.get(f"/ui/packets/{PACKET}", headers=api_keys.bearer("auditor"))
        assert page.headers["cache-control"] == "no-store"
        css = gate.get("/ui/static/gate.css")
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")
        assert css.headers["cache-control"].startswith("public")
        assert "@media print" in css.text
        assert "url(" not in css.text  # no font, image or import from anywhere
        assert "@import" not in css.text

    def test_api_routes_keep_their_own_headers(self, gate: TestClient) -> None:
        assert "content-security-policy" not in gate.get("/healthz").headers


class TestOfflineDocs:
    def test_docs_load_only_the_gates_own_assets(self, gate: TestClient) -> None:
        response = gate.get("/docs")
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == DOCS_CSP
        page = parse(response.text)
        assets = [
            a.get("src") or a.get("href") or "" for t, a in page.elements if t in ("script", "link")
        ]
        assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(assets)
        for url in page.urls():
            assert url.startswith("/"), url
            assert not url.startswith("//"), url
        for url in assets:
            assert gate.get(url).status_code == 200, url
        assert "cdn" not in response.text.lower()
        inline = [a for t, a in page.elements if t == "script" and "src" not in a]
        assert not inline  # the start-up script is a file too: script-src 'self' suffices

    def test_the_docs_policy_runs_scripts_from_the_gate_only(self) -> None:
        policy = _directives(DOCS_CSP)
        assert policy["script-src"] == "'self'"
        assert policy["connect-src"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"

    def test_swagger_ui_and_its_licence_are_served(self, gate: TestClient) -> None:
        bundle = gate.get("/docs/assets/swagger-ui-bundle.js")
        assert bundle.headers["content-type"].startswith("text/javascript")
        assert "SwaggerUIBundle" in bundle.text
        assert "Apache License" in gate.get("/docs/assets/LICENSE").text
        assert gate.get("/docs/assets/index.html").status_code == 404  # only the listed files

    def test_no_cdn_redoc_and_no_ui_route_in_the_openapi_document(self, gate: TestClient) -> None:
        assert gate.get("/redoc").status_code == 404
        paths = gate.get("/openapi.json").json()["paths"]
        assert not [p for p in paths if p.startswith(("/ui", "/docs"))]
