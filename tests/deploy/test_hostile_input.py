"""A hostile-input corpus through real HTTP (ASGI and a real uvicorn) and the CLI.

Every case must end in a 400/413/415/422 problem naming the issue: never a
5xx, never a token. Most cases start from a *validly signed* manifest and
apply one trick, so a rejection is the trick's doing, not a missing signature.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from release_gate.app import create_app
from release_gate.cli import main
from tests.deploy._support import ThreadedServer
from tests.helpers import ManifestFactory

JSON = "application/json"


def _text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, ensure_ascii=False)


def _replace(old: str, new: str) -> Callable[[dict[str, Any]], bytes]:
    def build(manifest: dict[str, Any]) -> bytes:
        text = _text(manifest)
        assert old in text, old
        return text.replace(old, new, 1).encode()

    return build


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], bytes]:
    def build(manifest: dict[str, Any]) -> bytes:
        node: Any = manifest
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        return _text(manifest).encode()

    return build


def _raw(body: bytes) -> Callable[[dict[str, Any]], bytes]:
    return lambda _m: body


def _nest(depth: int) -> Callable[[dict[str, Any]], bytes]:
    return _replace('"lane": ', '"x": ' + "[" * depth + "]" * depth + ', "lane": ')


# name -> (body builder, expected status, a word the problem must contain)
CORPUS: dict[str, tuple[Callable[[dict[str, Any]], bytes], int, str]] = {
    "duplicate key": (_replace('"lane": ', '"lane": "evil", "lane": '), 400, "duplicate"),
    "duplicate key, escaped": (_replace('"lane": ', '"l\\u0061ne": "evil", "lane": '), 400, "duplicate"),
    "duplicate nested key": (_replace('"revision": ', '"revision": 9, "revision": '), 400, "duplicate"),
    "1e400": (_replace('"revision": 3', '"revision": 1e400'), 400, "overflow"),
    "-1e400": (_replace('"revision": 3', '"revision": -1e400'), 400, "overflow"),
    "1e-400": (_replace('"revision": 3', '"revision": 1e-400'), 400, "underflow"),
    "-0 revision": (_replace('"revision": 3', '"revision": -0'), 422, "revision"),
    "2^53": (_replace('"revision": 3', '"revision": 9007199254740992'), 400, "2^53"),
    "-2^53": (_replace('"revision": 3', '"revision": -9007199254740992'), 400, "2^53"),
    "10^5000": (_replace('"revision": 3', '"revision": 1' + "0" * 5000), 400, "2^53"),
    "1.0 for an integer": (_replace('"revision": 3', '"revision": 3.0'), 422, "revision"),
    "3e0 for an integer": (_replace('"revision": 3', '"revision": 3e0'), 422, "revision"),
    "revision as string": (_replace('"revision": 3', '"revision": "3"'), 422, "revision"),
    "NaN": (_replace('"revision": 3', '"revision": NaN'), 400, "NaN"),
    "Infinity": (_replace('"revision": 3', '"revision": Infinity'), 400, "Infinity"),
    "lone surrogate escaped": (_replace('"rm-test-1"', '"rm-\\ud800"'), 400, "surrogate"),
    "lone low surrogate in a key": (_replace('"lane": ', '"\\udc00": 1, "lane": '), 400, "surrogate"),
    "surrogate pair reversed": (_replace('"rm-test-1"', '"\\udc00\\ud800"'), 400, "surrogate"),
    "raw surrogate bytes": (lambda m: _text(m).encode().replace(b"rm-test-1", b"rm-\xed\xa0\x80"), 400, "UTF-8"),
    "BOM": (lambda m: b"\xef\xbb\xbf" + _text(m).encode(), 400, "byte order mark"),
    "overlong slash": (lambda m: _text(m).encode().replace(b"rm-test-1", b"rm-\xc0\xaf"), 400, "UTF-8"),
    "latin-1 bytes": (lambda m: _text(m).encode().replace(b"rm-test-1", b"rm-\xe9"), 400, "UTF-8"),
    "UTF-16": (lambda m: _text(m).encode("utf-16"), 400, "UTF-8"),
    "raw NUL in a string": (lambda m: _text(m).encode().replace(b"rm-test-1", b"rm-\x00"), 400, "control"),
    "escaped NUL in a subject": (_replace('"release_owner": "', '"release_owner": "\\u0000'), 422, "release_owner"),
    "RTL override in a subject": (_replace('"release_owner": "', '"release_owner": "\u202e'), 422, "release_owner"),
    "zero-width space in a subject": (_replace('"release_owner": "', '"release_owner": "\u200b'), 422, "release_owner"),
    "NBSP in a subject": (_replace('"release_owner": "', '"release_owner": "\u00a0'), 422, "release_owner"),
    "nested 33 deep": (_nest(32), 400, "nesting"),
    "nested 100k deep": (_nest(100_000), 400, "nesting"),
    "objects nested 100k deep": (_raw(b'{"a":' * 100_000 + b"1" + b"}" * 100_000), 400, "nesting"),
    "33 audience entries": (_set(("audience",), [f"a{i}" for i in range(33)]), 422, "audience"),
    "33 signatures": (lambda m: _text({**m, "signatures": m["signatures"] * 11}).encode(), 422, "signatures"),
    "1001 objections": (lambda m: _text({**m, "objections": [{**m["objections"][1], "id": f"O{i}"} for i in range(1001)]}).encode(), 422, "objections"),
    "huge text": (_set(("objections", 0, "summary"), "x" * 4097), 422, "summary"),
    "huge id": (_set(("manifest_id",), "x" * 129), 422, "manifest_id"),
    "unknown field": (_set(("extra",), 1), 422, "extra"),
    "unknown nested field": (_set(("packet", "extra"), 1), 422, "extra"),
    "missing nullable": (lambda m: _text({k: v for k, v in m.items() if k != "objections"}).encode(), 422, "objections"),
    "top-level array": (_raw(b"[]"), 422, "manifest"),
    "top-level null": (_raw(b"null"), 422, "manifest"),
    "empty body": (_raw(b""), 400, "JSON"),
    "trailing garbage": (lambda m: _text(m).encode() + b" {}", 400, "JSON"),
    "timestamp lowercase t": (_set(("created_at",), "2026-11-26t09:00:00Z"), 422, "created_at"),
    "timestamp leap second": (_set(("created_at",), "2026-12-31T23:59:60Z"), 422, "created_at"),
    "signature padded": (lambda m: _text({**m, "signatures": [{**m["signatures"][0], "signature": m["signatures"][0]["signature"] + "=="}]}).encode(), 422, "signature"),
    "over 1 MiB": (lambda m: _text({**m, "pad": "x" * (1 << 20)}).encode(), 413, "limit"),
}  # fmt: skip


def _check(response: httpx.Response, status: int, word: str) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    assert "token" not in problem
    described = json.dumps(problem).lower()
    assert word.lower() in described, problem


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory, gate_policies: Path) -> Iterator[str]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from release_gate.config import Settings
    from release_gate.keys.signing import write_private_key
    from release_gate.runtime import build_runtime

    tmp = tmp_path_factory.mktemp("hostile")
    write_private_key(tmp / "gate.pem", Ed25519PrivateKey.generate(), force=False)
    settings = Settings(
        policies=gate_policies,
        state_dir=tmp / "state",
        signing_key_file=tmp / "gate.pem",
        database_url=f"sqlite:///{tmp / 'decisions.db'}",
    )
    runtime = build_runtime(settings)
    app = create_app(settings, runtime=runtime)
    app.state.runtime = runtime
    server = ThreadedServer(app)
    server.server.config.lifespan = "off"
    with server:
        yield server.url
    runtime.close()


class TestHostileBodies:
    def test_the_unmodified_manifest_is_approved(
        self, client: TestClient, make_manifest: ManifestFactory
    ) -> None:
        response = client.post(
            "/v1/evaluate", content=_text(make_manifest()).encode(), headers={"content-type": JSON}
        )
        assert response.json()["allow"] is True

    @pytest.mark.parametrize("case", sorted(CORPUS))
    def test_rejected_over_asgi(
        self, client: TestClient, make_manifest: ManifestFactory, case: str
    ) -> None:
        build, status, word = CORPUS[case]
        body = build(make_manifest())
        response = client.post("/v1/evaluate", content=body, headers={"content-type": JSON})
        _check(response, status, word)

    @pytest.mark.parametrize("case", sorted(CORPUS))
    def test_rejected_over_real_http(
        self, live_url: str, make_manifest: ManifestFactory, case: str
    ) -> None:
        build, status, word = CORPUS[case]
        body = build(make_manifest())
        response = httpx.post(
            live_url + "/v1/evaluate", content=body, headers={"content-type": JSON}, timeout=30
        )
        _check(response, status, word)

    @pytest.mark.parametrize(
        "case", ["duplicate key", "1e400", "lone surrogate escaped", "nested 100k deep"]
    )
    def test_verify_applies_the_same_rules(
        self, client: TestClient, make_manifest: ManifestFactory, case: str
    ) -> None:
        body = CORPUS[case][0](make_manifest())
        response = client.post("/v1/verify", content=body, headers={"content-type": JSON})
        assert response.status_code == 400


HEADER_TRICKS: dict[str, tuple[dict[str, str], int]] = {
    "charset latin-1": ({"content-type": "application/json; charset=latin-1"}, 415),
    "charset utf-16": ({"content-type": "application/json; charset=utf-16"}, 415),
    "second charset": ({"content-type": "application/json; charset=utf-8; charset=latin-1"}, 415),
    "text/plain": ({"content-type": "text/plain"}, 415),
    "form": ({"content-type": "application/x-www-form-urlencoded"}, 415),
    "no content type": ({}, 415),
}


class TestHeaderTricks:
    @pytest.mark.parametrize("case", sorted(HEADER_TRICKS))
    def test_refused_before_the_body_is_read(
        self, live_url: str, make_manifest: ManifestFactory, case: str
    ) -> None:
        headers, status = HEADER_TRICKS[case]
        response = httpx.post(
            live_url + "/v1/evaluate", content=_text(make_manifest()).encode(), headers=headers
        )
        assert response.status_code == status
        assert "token" not in response.json()

    def test_a_json_patch_body_is_a_422_not_a_patch_applied(self, live_url: str) -> None:
        patch = [{"op": "replace", "path": "/lane", "value": "customer-notice"}]
        response = httpx.post(
            live_url + "/v1/evaluate",
            content=json.dumps(patch).encode(),
            headers={"content-type": "application/json-patch+json"},
        )
        assert response.status_code == 422
        assert "token" not in response.json()

    def test_chunked_body_over_the_limit_is_413(self, live_url: str) -> None:
        def chunks() -> Iterator[bytes]:
            yield b'{"pad": "'
            for _ in range(40):
                yield b"x" * 65536
            yield b'"}'

        response = httpx.post(
            live_url + "/v1/evaluate", content=chunks(), headers={"content-type": JSON}
        )
        assert response.status_code == 413

    def test_declared_length_over_the_limit_is_413_unread(self, live_url: str) -> None:
        status = _raw_request(live_url, b"Content-Length: 99999999\r\n", b"{}")
        assert status == 413

    def test_body_longer_than_its_content_length_is_not_a_5xx(
        self, live_url: str, make_manifest: ManifestFactory
    ) -> None:
        body = _text(make_manifest()).encode()
        status = _raw_request(live_url, f"Content-Length: {len(body) - 10}\r\n".encode(), body)
        assert 400 <= status < 500

    def test_body_shorter_than_its_content_length_is_not_a_5xx(self, live_url: str) -> None:
        status = _raw_request(live_url, b"Content-Length: 500\r\n", b'{"a": 1}', half_close=True)
        assert status == 0 or 400 <= status < 500

    def test_bad_content_length_is_400(self, live_url: str) -> None:
        assert _raw_request(live_url, b"Content-Length: +12\r\n", b'{"a": 1}') == 400


def _raw_request(url: str, length: bytes, body: bytes, *, half_close: bool = False) -> int:
    """Status of a hand-written HTTP/1.1 request (0 when the server closes without one)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/evaluate HTTP/1.1\r\nHost: gate\r\nContent-Type: application/json\r\n"
            + length
            + b"Connection: close\r\n\r\n"
            + body
        )
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0


class TestCliRejects:
    @pytest.mark.parametrize(
        "case",
        sorted(name for name, (_, status, _) in CORPUS.items() if status != 413),
    )
    def test_evaluate_exits_2_with_a_problem(
        self,
        tmp_path: Path,
        make_manifest: ManifestFactory,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        gate_policies: Path,
        case: str,
    ) -> None:
        monkeypatch.setenv("RELEASE_GATE_STATE_DIR", str(tmp_path / "state"))
        build, status, word = CORPUS[case]
        path = tmp_path / "manifest.json"
        path.write_bytes(build(make_manifest()))
        code = main(
            [
                "evaluate",
                str(path),
                "--policies",
                str(gate_policies),
                "--now",
                "2026-11-26T09:00:00Z",
            ]
        )
        problem = json.loads(capsys.readouterr().out)
        assert code == 2
        assert problem["status"] == status
        assert word.lower() in json.dumps(problem).lower()
