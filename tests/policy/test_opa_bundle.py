"""The OPA bundle tarball: contents, determinism, test exclusion, OPA's signature format.

``TestOnRealOpa`` has a real OPA (skipped without an ``opa`` binary) load the
bundles: signed ones must verify, and one changed after signing must not.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from release_gate.errors import ConfigurationError
from release_gate.policy.bundle import load_bundle
from release_gate.policy.opa_bundle import build_bundle, opa_file_hash
from tests.governance import GOVERNANCE_FILE
from tests.opa_server import OpaBinaryError, OpaServer, running_opa

DATA_FILE = str(GOVERNANCE_FILE)
GATE = 'package release.gate\n\nimport rego.v1\n\ndecision := {"allow": true}\n'
DATA = '{\n  "lanes": {"exec": {"max": 86400, "ratio": 1.50}},\n  "note": "<b>\\u2028\\u00e9"\n}\n'


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    files = {
        ".manifest": '{"revision": "2026.11.26-1", "roots": ["release", "governance"]}',
        "release/gate.rego": GATE,
        "release/lane.rego": "package release.lane\n",
        "release/lane_test.rego": "package release.lane_test\n",
        "tests/gate_test.rego": "package release.gate_test\n",
        DATA_FILE: DATA,
        "README.md": "not part of the bundle\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _members(tarball: Path) -> dict[str, bytes]:
    with tarfile.open(tarball, "r:gz") as tar:
        out = {}
        for info in tar.getmembers():
            handle = tar.extractfile(info)
            assert handle is not None
            out[info.name] = handle.read()
        return out


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class TestBuildBundle:
    def test_holds_manifest_modules_and_data_but_no_tests(
        self, policies: Path, tmp_path: Path
    ) -> None:
        out = build_bundle(policies, tmp_path / "b.tar.gz", signing_key=None, key_id=None)
        members = _members(out)
        assert sorted(members) == [
            ".manifest",
            DATA_FILE,
            "release/gate.rego",
            "release/lane.rego",
        ]
        assert members["release/gate.rego"] == GATE.encode()
        assert members[DATA_FILE] == DATA.encode()
        manifest = json.loads(members[".manifest"])
        assert manifest == {
            "revision": "2026.11.26-1",
            "roots": ["release", "governance"],
            "metadata": {"release_gate": {"policy_digest": load_bundle(policies).digest}},
        }

    def test_same_tree_gives_same_bytes(self, policies: Path, tmp_path: Path) -> None:
        first = build_bundle(policies, tmp_path / "1.tar.gz", signing_key=None, key_id=None)
        os.utime(policies / "release" / "gate.rego", (1, 1))
        second = build_bundle(policies, tmp_path / "2.tar.gz", signing_key=None, key_id=None)
        assert first.read_bytes() == second.read_bytes()
        assert first.read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime
        with tarfile.open(first, "r:gz") as tar:
            infos = tar.getmembers()
        assert [i.name for i in infos] == sorted(i.name for i in infos)
        assert {(i.mtime, i.uid, i.gid, i.uname, i.gname, i.mode) for i in infos} == {
            (0, 0, 0, "", "", 0o644)
        }

    def test_a_changed_module_changes_the_bytes(self, policies: Path, tmp_path: Path) -> None:
        first = build_bundle(policies, tmp_path / "1.tar.gz", signing_key=None, key_id=None)
        (policies / "release" / "lane.rego").write_text("package release.lane\n\n")
        second = build_bundle(policies, tmp_path / "2.tar.gz", signing_key=None, key_id=None)
        assert first.read_bytes() != second.read_bytes()

    def test_missing_manifest_is_configuration_error(self, policies: Path, tmp_path: Path) -> None:
        (policies / ".manifest").unlink()
        with pytest.raises(ConfigurationError, match=r"no \.manifest"):
            build_bundle(policies, tmp_path / "b.tar.gz", signing_key=None, key_id=None)


class TestSignature:
    def test_rs256_signature_verifies_and_lists_every_file(
        self, policies: Path, tmp_path: Path
    ) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (tmp_path / "key.pem").write_bytes(_pem(key))
        out = build_bundle(
            policies,
            tmp_path / "b.tar.gz",
            signing_key=tmp_path / "key.pem",
            key_id="release-gate-bundles",
            scope="write",
        )
        members = _members(out)
        (token,) = json.loads(members.pop(".signatures.json"))["signatures"]
        assert jwt.get_unverified_header(token) == {
            "alg": "RS256",
            "typ": "JWT",
            "kid": "release-gate-bundles",
        }
        claims = jwt.decode(token, key.public_key(), algorithms=["RS256"])
        assert (claims["keyid"], claims["scope"]) == ("release-gate-bundles", "write")
        assert sorted(f["name"] for f in claims["files"]) == sorted(members)
        for entry in claims["files"]:
            assert entry["algorithm"] == "SHA-256"
            assert entry["hash"] == opa_file_hash(entry["name"], members[entry["name"]])
        hashes = {f["name"]: f["hash"] for f in claims["files"]}
        assert hashes["release/gate.rego"] == hashlib.sha256(GATE.encode()).hexdigest()
        canonical = '{"lanes":{"exec":{"max":86400,"ratio":1.50}},"note":"<b>\\u2028\u00e9"}'
        assert hashes[DATA_FILE] == hashlib.sha256(canonical.encode()).hexdigest()

    def test_es256_signature_verifies(self, policies: Path, tmp_path: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        (tmp_path / "key.pem").write_bytes(_pem(key))
        out = build_bundle(
            policies, tmp_path / "b.tar.gz", signing_key=tmp_path / "key.pem", key_id="k"
        )
        (token,) = json.loads(_members(out)[".signatures.json"])["signatures"]
        claims = jwt.decode(token, key.public_key(), algorithms=["ES256"])
        assert "scope" not in claims
        assert len(claims["files"]) == 4

    def test_ed25519_key_is_refused_as_opa_cannot_verify_it(
        self, policies: Path, tmp_path: Path
    ) -> None:
        (tmp_path / "key.pem").write_bytes(_pem(ed25519.Ed25519PrivateKey.generate()))
        with pytest.raises(ConfigurationError, match="RSA or EC"):
            build_bundle(
                policies, tmp_path / "b.tar.gz", signing_key=tmp_path / "key.pem", key_id="k"
            )

    def test_unreadable_key_is_configuration_error(self, policies: Path, tmp_path: Path) -> None:
        (tmp_path / "key.pem").write_text("not a key")
        with pytest.raises(ConfigurationError, match="cannot read signing key"):
            build_bundle(
                policies, tmp_path / "b.tar.gz", signing_key=tmp_path / "key.pem", key_id=None
            )

    def test_key_id_without_key_is_configuration_error(
        self, policies: Path, tmp_path: Path
    ) -> None:
        with pytest.raises(ConfigurationError, match="need --signing-key"):
            build_bundle(policies, tmp_path / "b.tar.gz", signing_key=None, key_id="k")


def _signed(policies: Path, tmp_path: Path, key: Any, **kwargs: Any) -> tuple[Path, Path]:
    """The bundle signed with ``key``, and the PEM of its public half."""
    (tmp_path / "key.pem").write_bytes(_pem(key))
    public = tmp_path / "verify.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    out = build_bundle(policies, tmp_path / "b.tar.gz", signing_key=tmp_path / "key.pem", **kwargs)
    return out, public


class TestOnRealOpa:
    @pytest.mark.parametrize(("alg", "scope"), [("RS256", "write"), ("ES384", None)])
    def test_opa_verifies_and_activates_a_signed_bundle(
        self, opa_binary: Path, policies: Path, tmp_path: Path, alg: str, scope: str | None
    ) -> None:
        """OPA hashes data.json canonically: 1.50, <b>, U+2028 and é must hash as we do."""
        key: Any = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if alg == "RS256"
            else ec.generate_private_key(ec.SECP384R1())
        )
        bundle, public = _signed(
            policies, tmp_path, key, key_id="release-gate-bundles", scope=scope
        )
        args = [
            "--bundle",
            str(bundle),
            f"--verification-key={public}",
            "--verification-key-id=release-gate-bundles",
            f"--signing-alg={alg}",
        ]
        args += [f"--scope={scope}"] if scope else []
        with running_opa(opa_binary, *args, log=tmp_path / "opa.log") as opa:
            answer = httpx.get(f"{opa.url}/v1/data/governance", timeout=5.0).json()
            assert answer["result"] == json.loads(DATA)
            answer = httpx.get(f"{opa.url}/v1/data/system/bundles", timeout=5.0).json()
            assert answer["result"][str(bundle)]["manifest"]["revision"] == "2026.11.26-1"

    def test_opa_refuses_a_bundle_changed_after_signing(
        self, opa_binary: Path, policies: Path, tmp_path: Path
    ) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        bundle, public = _signed(policies, tmp_path, key, key_id="k")
        members = _members(bundle)
        members[DATA_FILE] = DATA.replace("86400", "86401").encode()
        with tarfile.open(bundle, "w:gz") as tar:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        args = ["--bundle", str(bundle), f"--verification-key={public}", "--verification-key-id=k"]
        server = OpaServer(opa_binary, *args, "--signing-alg=ES256", log=tmp_path / "opa.log")
        try:
            with pytest.raises(OpaBinaryError, match="did not start"):
                server.start()
        finally:
            server.stop()
        assert f"{DATA_FILE}: digest mismatch" in (tmp_path / "opa.log").read_text()


class TestOpaFileHash:
    """Vectors in the shape of OPA's own ``v1/bundle/hash_test.go``."""

    def test_structured_file_hash_ignores_layout_and_key_order(self) -> None:
        pretty = (
            b'{\n "key2": {"c": 123.45678911111111111111111111111111111111111111111111111,'
            b' "b": 1, "a": 0},\n "key1": ["element1", "element2"]\n}'
        )
        compact = (
            '{"key1":["element1","element2"],'
            '"key2":{"a":0,"b":1,"c":123.45678911111111111111111111111111111111111111111111111}}'
        )
        assert opa_file_hash("x/data.json", pretty) == hashlib.sha256(compact.encode()).hexdigest()

    def test_strings_escape_as_go_without_html_escaping(self) -> None:
        raw = json.dumps(["<foo></foo>", "$\u03b1\u00a9\u2122", "\x01\t\b", "\u2029"]).encode()
        expected = '["<foo></foo>","$\u03b1\u00a9\u2122","\\u0001\\t\\b","\\u2029"]'
        assert opa_file_hash("data.json", raw) == hashlib.sha256(expected.encode()).hexdigest()

    def test_module_hash_is_over_its_bytes(self) -> None:
        assert opa_file_hash("a.rego", b"{ }") == hashlib.sha256(b"{ }").hexdigest()


class TestBundleCli:
    def _run(self, *argv: str) -> int:
        from release_gate.cli import bundle as bundle_cli

        parser = argparse.ArgumentParser()
        bundle_cli.add_parser(parser.add_subparsers(dest="command"))
        args = parser.parse_args(["bundle", "build", *argv])
        code: int = args.func(args)
        return code

    def test_build_prints_summary(
        self, tmp_path: Path, gate_policies: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "cli.tar.gz"
        assert self._run("--policies", str(gate_policies), "--out", str(out)) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["bundle"] == str(out)
        assert summary["revision"] == load_bundle(gate_policies).revision
        assert summary["policy_digest"] == load_bundle(gate_policies).digest
        assert summary["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
        assert summary["signed"] is False
        assert gzip.GzipFile(fileobj=io.BytesIO(out.read_bytes())).read()

    def test_governance_data_the_gate_refuses_is_never_bundled(
        self, policies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "refused.tar.gz"
        assert self._run("--policies", str(policies), "--out", str(out)) == 2
        problem = json.loads(capsys.readouterr().out)
        assert problem["title"] == "Governance data invalid"
        assert "signers" in problem["detail"]
        assert not out.exists()

    def test_bad_policy_dir_exits_2_with_problem(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code = self._run("--policies", str(tmp_path / "nope"), "--out", str(tmp_path / "x"))
        assert code == 2
        problem = json.loads(capsys.readouterr().out)
        assert problem["status"] == 400
        assert "does not exist" in problem["detail"]
