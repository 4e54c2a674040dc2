"""Contract section 6: every ``release-gate`` command, its output and its exit codes."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from release_gate.cli import main
from release_gate.keys.signing import jwks_document, load_private_key
from release_gate_client.jwk import jwk_thumbprint
from tests.cli.conftest import Run, write_json
from tests.helpers import COMMS, CS, DEMO_KEYS, LANE, OWNER, ROOT, ManifestFactory, base_manifest

EXAMPLES = ROOT / "manifests" / "examples"
EXAMPLE_NOW = "2026-11-26T09:00:00Z"
RELEASE_GATE = Path(sys.executable).with_name("release-gate")

EXPECTED_EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "approved.json": [],
    "deny-evidence.json": [
        ("evidence.future_timestamp", "/evidence/2"),
        ("evidence.missing_source", "/evidence"),
        ("evidence.stale", "/evidence/0"),
    ],
    "deny-lane-scope.json": [
        ("lane.action_out_of_scope", "/requested_actions/1"),
        ("lane.action_out_of_scope", "/requested_actions/2"),
        ("lane.audience_out_of_scope", "/audience/2"),
    ],
    "deny-objections.json": [
        ("objections.accepted_by_non_owner", "/objections/2"),
        ("objections.unaccepted", "/objections/1"),
    ],
    "deny-signature-tampered.json": [
        ("signature.invalid", "/signatures/0"),
        ("signature.invalid", "/signatures/1"),
        ("signature.invalid", "/signatures/2"),
        ("signers.missing_role", "/signatures"),
        ("signers.missing_role", "/signatures"),
        ("signers.missing_role", "/signatures"),
        ("signers.release_owner_missing", "/release_owner"),
    ],
    "deny-signers-agent-approval.json": [
        ("signers.agent_not_permitted", "/signatures/2"),
        ("signers.missing_role", "/signatures"),
    ],
    "deny-signers-missing-role.json": [("signers.missing_role", "/signatures")],
    "deny-signers-not-distinct.json": [("signers.not_distinct", "/signatures")],
}


def _pairs(decision: dict[str, Any]) -> list[tuple[str, str]]:
    return [(v["code"], v["path"]) for v in decision["violations"]]


class TestEvaluate:
    def test_allow_prints_the_decision_with_token_and_records_it(
        self, run: Run, tmp_path: Path, make_manifest: ManifestFactory, recorded: Callable[[], int]
    ) -> None:
        path = write_json(tmp_path / "m.json", make_manifest())
        code, out = run("evaluate", str(path))
        decision = json.loads(out)
        assert code == 0
        assert decision["allow"] is True
        assert decision["token"].count(".") == 2
        assert recorded() == 1

    def test_deny_exits_1(
        self, run: Run, tmp_path: Path, make_manifest: ManifestFactory, recorded: Callable[[], int]
    ) -> None:
        path = write_json(tmp_path / "m.json", make_manifest(signers=(OWNER, COMMS)))
        code, out = run("evaluate", str(path))
        assert code == 1
        assert _pairs(json.loads(out)) == [("signers.missing_role", "/signatures")]
        assert recorded() == 1

    def test_now_is_a_dry_run_without_token_or_record(
        self, run: Run, recorded: Callable[[], int]
    ) -> None:
        code, out = run("evaluate", str(EXAMPLES / "approved.json"), "--now", EXAMPLE_NOW)
        decision = json.loads(out)
        assert code == 0
        assert decision["allow"] is True
        assert decision["token"] is None
        assert decision["evaluated_at"].startswith("2026-11-26T09:00:00")
        assert recorded() == 0

    def test_now_needs_no_signing_key_and_creates_none(
        self, run: Run, gate_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("RELEASE_GATE_SIGNING_KEY_FILE", str(tmp_path / "absent.pem"))
        code, out = run("evaluate", str(EXAMPLES / "approved.json"), "--now", EXAMPLE_NOW)
        assert code == 0
        assert json.loads(out)["token"] is None
        monkeypatch.delenv("RELEASE_GATE_SIGNING_KEY_FILE")
        code, _ = run("evaluate", str(EXAMPLES / "approved.json"), "--now", EXAMPLE_NOW)
        assert code == 0
        assert not (Path(gate_env["RELEASE_GATE_STATE_DIR"]) / "dev-signing-key.pem").exists()

    def test_now_with_an_offset_is_the_same_instant(self, run: Run) -> None:
        _, utc = run("evaluate", str(EXAMPLES / "deny-evidence.json"), "--now", EXAMPLE_NOW)
        _, local = run(
            "evaluate", str(EXAMPLES / "deny-evidence.json"), "--now", "2026-11-26T10:00:00+01:00"
        )
        assert _pairs(json.loads(utc)) == _pairs(json.loads(local))

    def test_manifest_from_stdin(self, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
        import io

        data = (EXAMPLES / "approved.json").read_bytes()
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        code, out = run("evaluate", "-", "--now", EXAMPLE_NOW)
        assert code == 0
        assert json.loads(out)["allow"] is True

    def test_unreadable_file_is_exit_2_with_problem_400(self, run: Run, tmp_path: Path) -> None:
        code, out = run("evaluate", str(tmp_path / "missing.json"))
        problem = json.loads(out)
        assert code == 2
        assert problem["status"] == 400
        assert {"type", "title", "status", "detail"} <= set(problem)

    def test_file_that_is_not_ijson_is_exit_2_with_problem_400(
        self, run: Run, tmp_path: Path
    ) -> None:
        path = tmp_path / "dup.json"
        path.write_bytes(b'{"a": 1, "a": 2}')
        code, out = run("evaluate", str(path))
        assert code == 2
        assert json.loads(out)["status"] == 400

    def test_invalid_manifest_is_exit_2_with_problem_422_and_pointers(
        self, run: Run, tmp_path: Path, recorded: Callable[[], int]
    ) -> None:
        manifest = base_manifest()
        manifest["packet"]["revision"] = 0
        manifest["created_at"] = "2026-11-26t08:00:00Z"
        code, out = run("evaluate", str(write_json(tmp_path / "bad.json", manifest)))
        problem = json.loads(out)
        assert code == 2
        assert problem["status"] == 422
        assert {e["pointer"] for e in problem["errors"]} >= {"/packet/revision", "/created_at"}
        assert recorded() == 0

    def test_bad_now_is_exit_2_with_problem_400(self, run: Run) -> None:
        code, out = run("evaluate", str(EXAMPLES / "approved.json"), "--now", "tomorrow")
        assert code == 2
        assert json.loads(out)["status"] == 400

    @pytest.mark.parametrize("now", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59"])
    def test_now_outside_the_writable_years_is_exit_2_not_a_deny(self, run: Run, now: str) -> None:
        # well-formed, but in UTC the instant is year 0 or 10000: evaluated_at cannot be written
        code, out = run("evaluate", str(EXAMPLES / "approved.json"), "--now", now)
        assert code == 2
        problem = json.loads(out)
        assert problem["status"] == 400
        assert "--now" in problem["detail"]

    def test_policies_flag_overrides_the_environment(
        self, run: Run, tmp_path: Path, gate_policies: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("RELEASE_GATE_POLICIES", str(tmp_path / "nowhere"))
        code, _ = run("evaluate", str(EXAMPLES / "approved.json"), "--now", EXAMPLE_NOW)
        assert code == 2
        code, _ = run(
            "evaluate",
            str(EXAMPLES / "approved.json"),
            "--now",
            EXAMPLE_NOW,
            "--policies",
            str(gate_policies),
        )
        assert code == 0


class TestExamples:
    """The examples against the demo governance data they are signed for (``example_policies``)."""

    def test_every_example_has_an_expectation(self) -> None:
        assert {p.name for p in EXAMPLES.glob("*.json")} == set(EXPECTED_EXAMPLES)

    @pytest.mark.parametrize("name", sorted(EXPECTED_EXAMPLES))
    def test_example_decides_as_documented(
        self, run: Run, example_policies: Path, name: str
    ) -> None:
        code, out = run(
            "evaluate",
            str(EXAMPLES / name),
            "--now",
            EXAMPLE_NOW,
            "--policies",
            str(example_policies),
        )
        decision = json.loads(out)
        assert _pairs(decision) == EXPECTED_EXAMPLES[name]
        assert code == (0 if name == "approved.json" else 1)
        assert decision["allow"] is (name == "approved.json")


class TestKeygen:
    def test_writes_private_pem_0600_and_prints_trust_store_entry(
        self, run: Run, tmp_path: Path
    ) -> None:
        out_file = tmp_path / "keys" / "new.pem"
        code, out = run("keygen", "--out", str(out_file))
        entry = json.loads(out)
        assert code == 0
        assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
        key = load_private_key(out_file).private_key
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        assert entry == {
            "key_id": jwk_thumbprint(key.public_key()),
            "alg": "Ed25519",
            "public_key": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
            "status": "active",
        }
        assert b"BEGIN PRIVATE KEY" in out_file.read_bytes()

    def test_key_id_flag_names_the_key(self, run: Run, tmp_path: Path) -> None:
        _, out = run("keygen", "--out", str(tmp_path / "k.pem"), "--key-id", "ops-2026-11")
        assert json.loads(out)["key_id"] == "ops-2026-11"

    def test_refuses_to_overwrite_without_force(self, run: Run, tmp_path: Path) -> None:
        out_file = tmp_path / "k.pem"
        run("keygen", "--out", str(out_file))
        before = out_file.read_bytes()
        code, out = run("keygen", "--out", str(out_file))
        assert code == 2
        assert json.loads(out)["status"] == 400
        assert "--force" in json.loads(out)["detail"]
        assert out_file.read_bytes() == before
        code, _ = run("keygen", "--out", str(out_file), "--force")
        assert code == 0
        assert out_file.read_bytes() != before
        assert stat.S_IMODE(out_file.stat().st_mode) == 0o600


def _sign_args(path: Path, signer: tuple[str, str, str, str]) -> list[str]:
    subject, role, key_id, stem = signer
    key = DEMO_KEYS / f"{stem}.demo-key.pem"
    return [
        "sign",
        str(path),
        "--key",
        str(key),
        "--subject",
        subject,
        "--role",
        role,
        "--key-id",
        key_id,
    ]


class TestSign:
    def test_sign_in_place_then_evaluate_allows(self, run: Run, tmp_path: Path) -> None:
        path = write_json(tmp_path / "m.json", base_manifest())
        for signer in (OWNER, COMMS, CS):
            code, out = run(*_sign_args(path, signer), "--in-place")
            assert code == 0
            assert out == ""
        assert len(json.loads(path.read_text())["signatures"]) == 3
        code, out = run("evaluate", str(path))
        assert code == 0, out
        assert json.loads(out)["allow"] is True

    def test_sign_prints_the_signed_manifest(self, run: Run, tmp_path: Path) -> None:
        path = write_json(tmp_path / "m.json", base_manifest())
        original = path.read_text()
        code, out = run(*_sign_args(path, OWNER))
        signed = json.loads(out)
        assert code == 0
        assert path.read_text() == original
        assert signed["signatures"][0]["subject"] == OWNER[0]
        assert signed["signatures"][0]["alg"] == "Ed25519"
        assert len(signed["signatures"][0]["signature"]) == 86
        assert {k: v for k, v in signed.items() if k != "signatures"} == {
            k: v for k, v in json.loads(original).items() if k != "signatures"
        }

    def test_a_subject_no_manifest_could_carry_is_refused(self, run: Run, tmp_path: Path) -> None:
        path = write_json(tmp_path / "m.json", base_manifest())
        original = path.read_text()
        args = _sign_args(path, OWNER)
        args[args.index("--subject") + 1] = "dana whitfield"
        code, out = run(*args, "--in-place")
        assert code == 2
        problem = json.loads(out)
        assert problem["status"] == 400
        assert "--subject" in problem["detail"]
        assert path.read_text() == original

    def test_sign_with_a_missing_key_is_exit_2(self, run: Run, tmp_path: Path) -> None:
        path = write_json(tmp_path / "m.json", base_manifest())
        args = _sign_args(path, OWNER)
        args[args.index("--key") + 1] = str(tmp_path / "missing.pem")
        code, _ = run(*args)
        assert code == 2


class TestDigest:
    def test_file_digest_is_sha256_of_its_bytes(self, run: Run) -> None:
        packet = EXAMPLES / "packet-r7.md"
        code, out = run("digest", str(packet))
        assert code == 0
        assert out.strip() == "sha256:" + hashlib.sha256(packet.read_bytes()).hexdigest()
        approved = json.loads((EXAMPLES / "approved.json").read_text())
        assert out.strip() == approved["packet"]["digest"]

    def test_manifest_digest_matches_the_decision(self, run: Run) -> None:
        code, out = run("digest", "--manifest", str(EXAMPLES / "approved.json"))
        _, decision = run("evaluate", str(EXAMPLES / "approved.json"), "--now", EXAMPLE_NOW)
        assert code == 0
        assert out.strip() == json.loads(decision)["manifest_digest"]

    def test_manifest_digest_ignores_signatures(self, run: Run) -> None:
        _, signed = run("digest", "--manifest", str(EXAMPLES / "approved.json"))
        _, other = run("digest", "--manifest", str(EXAMPLES / "deny-signers-missing-role.json"))
        assert signed == other

    def test_missing_file_is_exit_2(self, run: Run, tmp_path: Path) -> None:
        code, _ = run("digest", str(tmp_path / "missing"))
        assert code == 2


@pytest.fixture
def minted(run: Run, tmp_path: Path, make_manifest: ManifestFactory) -> tuple[str, str]:
    """(token, packet digest) minted by ``release-gate evaluate``."""
    manifest = make_manifest()
    _, out = run("evaluate", str(write_json(tmp_path / "m.json", manifest)))
    return json.loads(out)["token"], manifest["packet"]["digest"]


@pytest.fixture
def jwks_file(tmp_path: Path, signing_key_file: Path) -> Path:
    document = jwks_document(load_private_key(signing_key_file), [])
    (tmp_path / "jwks").mkdir()
    return write_json(tmp_path / "jwks" / "jwks.json", document)


@pytest.fixture
def jwks_url(jwks_file: Path) -> Iterator[str]:
    handler = partial(_QuietHandler, directory=str(jwks_file.parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{jwks_file.name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class TestVerify:
    def test_valid_token_with_jwks_file_prints_claims(
        self, run: Run, minted: tuple[str, str], jwks_file: Path
    ) -> None:
        token, digest = minted
        code, out = run(
            "verify", token, "--lane", LANE, "--packet-digest", digest, "--jwks", str(jwks_file)
        )
        assert code == 0
        claims = json.loads(out)
        assert claims["aud"] == LANE
        assert claims["packet_digest"] == digest

    def test_valid_token_with_jwks_url(
        self, run: Run, minted: tuple[str, str], jwks_url: str
    ) -> None:
        token, digest = minted
        code, _ = run(
            "verify", token, "--lane", LANE, "--packet-digest", digest, "--jwks", jwks_url
        )
        assert code == 0

    def test_default_keys_are_the_configured_signing_key(
        self, run: Run, minted: tuple[str, str]
    ) -> None:
        token, digest = minted
        code, _ = run("verify", token, "--lane", LANE, "--packet-digest", digest)
        assert code == 0

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"--lane": "other-lane"}, "token.wrong_audience"),
            ({"--packet-digest": "sha256:" + "0" * 64}, "token.digest_mismatch"),
            ({"--issuer": "someone-else"}, "token.wrong_issuer"),
        ],
        ids=["lane", "digest", "issuer"],
    )
    def test_invalid_token_prints_the_reason_and_exits_1(
        self,
        run: Run,
        minted: tuple[str, str],
        jwks_file: Path,
        change: dict[str, str],
        reason: str,
    ) -> None:
        token, digest = minted
        options = {"--lane": LANE, "--packet-digest": digest, "--jwks": str(jwks_file), **change}
        code, out = run("verify", token, *(x for kv in options.items() for x in kv))
        assert code == 1
        assert out.strip() == reason

    def test_token_from_another_gate_is_unknown_kid(
        self, run: Run, minted: tuple[str, str], tmp_path: Path
    ) -> None:
        token, digest = minted
        other = jwks_document(
            load_private_key(_new_key(tmp_path / "other.pem")), []
        )  # a JWKS without the gate's key
        path = write_json(tmp_path / "other.json", other)
        code, out = run(
            "verify", token, "--lane", LANE, "--packet-digest", digest, "--jwks", str(path)
        )
        assert code == 1
        assert out.strip() == "token.unknown_kid"

    def test_malformed_token_exits_1(self, run: Run, jwks_file: Path) -> None:
        code, out = run(
            "verify",
            "a.b",
            "--lane",
            LANE,
            "--packet-digest",
            "sha256:" + "0" * 64,
            "--jwks",
            str(jwks_file),
        )
        assert code == 1
        assert out.strip() == "token.malformed"

    @pytest.mark.parametrize("source", ["missing.json", "http://127.0.0.1:9/jwks.json"])
    def test_unreachable_jwks_exits_2(
        self, run: Run, minted: tuple[str, str], tmp_path: Path, source: str
    ) -> None:
        token, digest = minted
        jwks = source if source.startswith("http") else str(tmp_path / source)
        code, _ = run("verify", token, "--lane", LANE, "--packet-digest", digest, "--jwks", jwks)
        assert code == 2

    @pytest.mark.parametrize(
        "option",
        [
            ("--packet-digest", "notadigest"),
            ("--packet-digest", "sha256:" + "A" * 64),
            ("--packet-digest", "sha256:abc"),
            ("--lane", ""),
        ],
        ids=["not-a-digest", "uppercase-hex", "short", "empty-lane"],
    )
    def test_malformed_lane_or_digest_is_usage_error_2(
        self,
        gate_env: dict[str, str],
        minted: tuple[str, str],
        jwks_file: Path,
        capsys: pytest.CaptureFixture[str],
        option: tuple[str, str],
    ) -> None:
        """As /v1/verify answers 422: nothing is verified, and stdout has no reason code."""
        token, digest = minted
        options = {"--lane": LANE, "--packet-digest": digest, "--jwks": str(jwks_file)}
        options[option[0]] = option[1]
        capsys.readouterr()
        code = main(["verify", token, *(x for kv in options.items() for x in kv)])
        captured = capsys.readouterr()
        assert code == 2
        assert captured.out == ""
        assert option[0] in captured.err

    def test_missing_required_option_is_usage_error_2(self, run: Run) -> None:
        with pytest.raises(SystemExit, match="2"):
            run("verify", "a.b.c", "--lane", LANE)


def _new_key(path: Path) -> Path:
    from release_gate.keys.signing import write_private_key

    write_private_key(path, Ed25519PrivateKey.generate(), force=False)
    return path


class TestRegoTestCommand:
    def test_repository_policies_pass(self, run: Run, rego_policies: Path) -> None:
        code, out = run("test", str(rego_policies))
        assert code == 0
        assert "PASS" in out

    def test_a_failing_test_exits_1(self, run: Run, tmp_path: Path, rego_policies: Path) -> None:
        copy = tmp_path / "policies"
        shutil.copytree(rego_policies, copy)
        (copy / "tests" / "broken_test.rego").write_text(
            "package release.broken_test\n\nimport rego.v1\n\ntest_always_fails if {\n\tfalse\n}\n"
        )
        code, out = run("test", str(copy))
        assert code == 1
        assert "FAIL" in out
        assert "test_always_fails" in out

    def test_no_tests_exits_1(self, run: Run, tmp_path: Path, rego_policies: Path) -> None:
        copy = tmp_path / "policies"
        shutil.copytree(rego_policies, copy)
        shutil.rmtree(copy / "tests")
        code, _ = run("test", str(copy))
        assert code == 1


COMMANDS = ["serve", "evaluate", "keygen", "sign", "digest", "verify", "bundle", "test"]


class TestHelp:
    def test_top_level_help_lists_every_command(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit, match="0"):
            main(["--help"])
        out = capsys.readouterr().out
        for command in COMMANDS:
            assert command in out

    @pytest.mark.parametrize("command", COMMANDS)
    def test_every_command_has_help(self, capsys: pytest.CaptureFixture[str], command: str) -> None:
        with pytest.raises(SystemExit, match="0"):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert out.startswith("usage: release-gate " + command)
        assert len(out.splitlines()) > 3

    @pytest.mark.parametrize("command", ["evaluate", "serve", "bundle build"])
    def test_policy_loading_commands_take_policies(
        self, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        with pytest.raises(SystemExit, match="0"):
            main([*command.split(), "--help"])
        assert "--policies" in capsys.readouterr().out


@pytest.mark.slow
class TestInstalledBinary:
    def test_exit_codes_of_the_console_script(self, gate_env: dict[str, str]) -> None:
        deny = subprocess.run(
            [
                str(RELEASE_GATE),
                "evaluate",
                str(EXAMPLES / "deny-lane-scope.json"),
                "--now",
                EXAMPLE_NOW,
            ],
            capture_output=True,
            check=False,
            timeout=30,
        )
        assert deny.returncode == 1
        assert json.loads(deny.stdout)["allow"] is False
        missing = subprocess.run(
            [str(RELEASE_GATE), "evaluate", "missing.json"],
            capture_output=True,
            check=False,
            timeout=30,
        )
        assert missing.returncode == 2
        assert json.loads(missing.stdout)["status"] == 400
