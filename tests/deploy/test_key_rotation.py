"""Key rotation end to end: a real gate, a rotation, a restart, and four verifiers.

A token minted before a rotation verifies after it through ``/v1/verify``, the
client library with the JWKS, PyJWT and the npm ``jose`` library; once the
retired key has outlived every token it could have signed it leaves the JWKS
and the token fails with ``token.unknown_kid``.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from release_gate.app import create_app
from release_gate.config import Settings
from release_gate.errors import ConfigurationError
from release_gate.keys.keyring import (
    DEFAULT_ROLL_SECONDS,
    INDEX_NAME,
    LEEWAY_SECONDS,
    MAX_ROLL_SECONDS,
    MAX_TOKEN_TTL_SECONDS,
    load_keyring,
    rotate,
)
from release_gate.runtime import Runtime, build_runtime
from release_gate_client import JWKSFetcher, UnknownKid, verify_token
from release_gate_client.b64url import b64url_encode
from tests.deploy._support import CountingApp, ThreadedServer
from tests.governance import TOKEN_TTL_SECONDS
from tests.helpers import LANE, ManifestFactory

JS_DIR = Path(__file__).resolve().parent.parent / "js"


class _Restartable:
    """An ASGI app whose gate can be 'restarted' (a new runtime from the same settings)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtimes: list[Runtime] = []
        self.app: Any = None
        self.restart()

    def restart(self) -> None:
        runtime = build_runtime(self.settings)
        self.runtimes.append(runtime)
        app = create_app(self.settings, runtime=runtime)
        app.state.runtime = runtime
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    def close(self) -> None:
        for runtime in self.runtimes:
            runtime.close()


@pytest.fixture
def gate(
    tmp_path: Path, keys_dir: Path, gate_policies: Path
) -> Iterator[tuple[_Restartable, CountingApp, str]]:
    settings = Settings(
        policies=gate_policies,
        state_dir=tmp_path / "state",
        keys_dir=keys_dir,
        database_url=f"sqlite:///{tmp_path / 'decisions.db'}",
    )
    restartable = _Restartable(settings)
    counting = CountingApp(restartable)
    server = ThreadedServer(counting)
    server.server.config.lifespan = "off"
    with server:
        yield restartable, counting, server.url
    restartable.close()


def _approve(url: str, make_manifest: ManifestFactory) -> tuple[str, str]:
    manifest = make_manifest()
    decision = httpx.post(
        url + "/v1/evaluate",
        content=json.dumps(manifest).encode(),
        headers={"content-type": "application/json"},
    ).json()
    assert decision["allow"] is True, decision["violations"]
    return decision["token"], manifest["packet"]["digest"]


def _verify_http(url: str, token: str, digest: str) -> dict[str, Any]:
    body = {"token": token, "lane": LANE, "packet_digest": digest}
    result: dict[str, Any] = httpx.post(url + "/v1/verify", json=body).json()
    return result


def _kid(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def _age_retirements(keys_dir: Path, seconds: int) -> None:
    """Pretend every retirement happened ``seconds`` earlier (time passing)."""
    index = json.loads((keys_dir / INDEX_NAME).read_text())
    for entry in index["retired"]:
        entry["retired_at"] -= seconds
    (keys_dir / INDEX_NAME).write_text(json.dumps(index))


class TestKeyRing:
    def test_rotation_keeps_only_the_public_half_of_a_retired_key(self, keys_dir: Path) -> None:
        first = json.loads((keys_dir / INDEX_NAME).read_text())["active"]
        result = rotate(keys_dir)
        assert result.retired_kid == first["kid"]
        assert not (keys_dir / first["file"]).exists()
        assert b"PUBLIC KEY" in (keys_dir / f"{first['kid']}.pub.pem").read_bytes()
        active = keys_dir / f"{result.active_kid}.pem"
        assert stat.S_IMODE(active.stat().st_mode) == 0o600

    def test_rotation_prunes_keys_past_the_ttl_cap(self, keys_dir: Path) -> None:
        old = rotate(keys_dir, roll_seconds=0).retired_kid
        _age_retirements(keys_dir, MAX_TOKEN_TTL_SECONDS + LEEWAY_SECONDS + 1)
        result = rotate(keys_dir)
        assert result.pruned == (old,)
        assert not (keys_dir / f"{old}.pub.pem").exists()

    def test_old_key_retires_after_the_roll_allowance(self, keys_dir: Path) -> None:
        """Replicas not yet restarted keep signing with the old key: it retires only when
        the roll allowance ends, and its window counts from there."""
        first = json.loads((keys_dir / INDEX_NAME).read_text())["active"]["kid"]
        rotate(keys_dir, now=1_800_000_000)
        retired = json.loads((keys_dir / INDEX_NAME).read_text())["retired"]
        assert retired == [
            {
                "kid": first,
                "file": f"{first}.pub.pem",
                "retired_at": 1_800_000_000 + DEFAULT_ROLL_SECONDS,
            }
        ]
        ring = load_keyring(keys_dir)
        lane_ttl = TOKEN_TTL_SECONDS
        last_token_from_a_slow_replica = 1_800_000_000 + DEFAULT_ROLL_SECONDS - 1
        still = last_token_from_a_slow_replica + lane_ttl + LEEWAY_SECONDS
        assert first in ring.verification_keys(still, max_token_ttl=lane_ttl)
        assert first not in ring.verification_keys(still + 1, max_token_ttl=lane_ttl)

    @pytest.mark.parametrize("seconds", [-1, MAX_ROLL_SECONDS + 1])
    def test_roll_allowance_out_of_range_is_refused(self, keys_dir: Path, seconds: int) -> None:
        before = (keys_dir / INDEX_NAME).read_bytes()
        with pytest.raises(ConfigurationError, match="roll allowance"):
            rotate(keys_dir, roll_seconds=seconds)
        assert (keys_dir / INDEX_NAME).read_bytes() == before


class TestRotationEndToEnd:
    def test_token_from_before_rotation_verifies_after_it(
        self, gate: tuple[_Restartable, CountingApp, str], keys_dir: Path, make_manifest: Any
    ) -> None:
        restartable, _, url = gate
        old_token, digest = _approve(url, make_manifest)
        rotate(keys_dir)
        restartable.restart()
        new_token, _ = _approve(url, make_manifest)
        assert _kid(new_token) != _kid(old_token)
        jwks = httpx.get(url + "/.well-known/jwks.json").json()
        assert [k["kid"] for k in jwks["keys"]] == [_kid(new_token), _kid(old_token)]
        for token in (old_token, new_token):
            assert _verify_http(url, token, digest)["valid"] is True
            with JWKSFetcher(url + "/.well-known/jwks.json") as fetcher:
                claims = verify_token(
                    token, jwks=fetcher, issuer="release-gate", audience=LANE, packet_digest=digest
                )
            assert claims.aud == LANE
            key = jwt.PyJWKSet.from_dict(jwks)[_kid(token)].key
            decoded = jwt.decode(
                token, key=key, algorithms=["EdDSA"], audience=LANE, issuer="release-gate"
            )
            assert decoded["packet_digest"] == digest

    def test_retired_key_is_dropped_after_its_last_token_expires(
        self, gate: tuple[_Restartable, CountingApp, str], keys_dir: Path, make_manifest: Any
    ) -> None:
        restartable, _, url = gate
        old_token, digest = _approve(url, make_manifest)
        rotate(keys_dir, roll_seconds=0)
        lane_ttl = restartable.runtimes[-1].max_token_ttl()
        _age_retirements(keys_dir, lane_ttl + LEEWAY_SECONDS - 5)
        restartable.restart()
        assert _verify_http(url, old_token, digest)["valid"] is True
        _age_retirements(keys_dir, 5)
        restartable.restart()
        jwks = httpx.get(url + "/.well-known/jwks.json").json()
        assert _kid(old_token) not in [k["kid"] for k in jwks["keys"]]
        assert _verify_http(url, old_token, digest)["reason"] == "token.unknown_kid"
        with JWKSFetcher(url + "/.well-known/jwks.json") as fetcher, pytest.raises(UnknownKid):
            verify_token(
                old_token, jwks=fetcher, issuer="release-gate", audience=LANE, packet_digest=digest
            )

    def test_client_refreshes_once_on_a_new_kid_without_hammering(
        self, gate: tuple[_Restartable, CountingApp, str], keys_dir: Path, make_manifest: Any
    ) -> None:
        restartable, counting, url = gate
        jwks_path = "/.well-known/jwks.json"
        old_token, digest = _approve(url, make_manifest)
        now = [1000.0]
        with JWKSFetcher(url + jwks_path, min_refresh_interval=30, clock=lambda: now[0]) as fetcher:
            verify = lambda t: verify_token(  # noqa: E731
                t, jwks=fetcher, issuer="release-gate", audience=LANE, packet_digest=digest
            )
            verify(old_token)
            assert counting.counts[jwks_path] == 1
            rotate(keys_dir)
            restartable.restart()
            new_token, _ = _approve(url, make_manifest)
            now[0] += 31  # the rotation happens a while after the first fetch
            verify(new_token)  # unknown kid: one refresh
            verify(old_token)  # retired key still published: no refresh
            assert counting.counts[jwks_path] == 2
            _header, payload, signature = new_token.split(".")
            for i in range(50):  # a flood of made-up kids costs nothing more
                forged = b64url_encode(
                    json.dumps(
                        {"alg": "EdDSA", "typ": "release-approval+jwt", "kid": f"x{i}"}
                    ).encode()
                )
                with pytest.raises(UnknownKid):
                    verify(f"{forged}.{payload}.{signature}")
            assert counting.counts[jwks_path] == 2


def _node_jose() -> Path:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the foreign-JOSE check needs Node.js >= 18")
    if not (JS_DIR / "node_modules" / "jose").is_dir():
        pytest.skip("npm jose is not installed: run `npm ci --prefix tests/js`")
    return Path(node)


def _jose_verify(node: Path, jwks: dict[str, Any], token: str, digest: str) -> dict[str, Any]:
    """tests/js/verify.mjs: {valid, header, claims} or {valid: false, code}."""
    request = {
        "jwks": jwks,
        "token": token,
        "issuer": "release-gate",
        "audience": LANE,
        "packet_digest": digest,
    }
    done = subprocess.run(
        [str(node), str(JS_DIR / "verify.mjs")],
        input=json.dumps(request).encode(),
        capture_output=True,
        cwd=JS_DIR,
        timeout=30,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr.decode()
    result: dict[str, Any] = json.loads(done.stdout)
    return result


class TestForeignJose:
    def test_npm_jose_verifies_across_a_rotation_with_the_jwks_only(
        self,
        gate: tuple[_Restartable, CountingApp, str],
        keys_dir: Path,
        make_manifest: Any,
        tmp_path: Path,
    ) -> None:
        node = _node_jose()
        restartable, _, url = gate
        old_token, digest = _approve(url, make_manifest)
        rotate(keys_dir, roll_seconds=0)
        restartable.restart()
        new_token, _ = _approve(url, make_manifest)
        jwks = httpx.get(url + "/.well-known/jwks.json").json()
        for token in (old_token, new_token):
            result = _jose_verify(node, jwks, token, digest)
            assert result["valid"] is True, result
            assert result["header"]["kid"] == _kid(token)
            assert result["claims"]["packet_digest"] == digest
        _age_retirements(keys_dir, MAX_TOKEN_TTL_SECONDS + LEEWAY_SECONDS)
        restartable.restart()
        jwks = httpx.get(url + "/.well-known/jwks.json").json()
        result = _jose_verify(node, jwks, old_token, digest)
        assert result["valid"] is False
        assert result["code"] == "ERR_JWKS_NO_MATCHING_KEY"
