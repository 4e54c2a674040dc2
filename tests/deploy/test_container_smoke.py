"""The container image's runtime, reproduced without a container engine.

Everything comes from the Dockerfile (see :mod:`tests.deploy.dockerfile`), so
this test cannot drift from it: the build context is the repository filtered
by ``.dockerignore``; the build stage's ``COPY`` set and ``RUN``
commands build the wheels and install them with the pinned constraints into a
clean virtual environment; the final stage's ``ENV``, ``WORKDIR``, ``VOLUME``,
``ENTRYPOINT`` + ``CMD`` and ``HEALTHCHECK`` are used as written. Container
paths live under one temporary root (``/opt/release-gate`` becomes
``<root>/opt/release-gate``); the process runs as an unprivileged user who
owns only the state volume and the mounted key ring, so any write elsewhere
fails as it would on a read-only root filesystem.

Two runs: the image exactly as built (it must refuse to start: production mode
and no secrets), and the image with what an operator mounts and sets (a key
ring, API keys, PostgreSQL, their own trust store), which must answer
``/readyz``, approve a manifest, pass its own HEALTHCHECK and stop cleanly on
SIGTERM. The only deliberate change is the host port (8080 may be taken here).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from release_gate.keys.api_keys import generate_key, hash_key
from release_gate.keys.keyring import rotate
from release_gate_client import verify_token
from tests.deploy._support import GateProcess, base_env, free_port, private_policies
from tests.deploy.dockerfile import Stage, build_context, inherited_env, parse_dockerfile
from tests.helpers import LANE, ROOT

pytestmark = pytest.mark.slow

UNPRIVILEGED = 65534  # nobody / nogroup
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # python image


@dataclass
class Image:
    root: Path
    stages: dict[str, Stage]
    context: Path

    @property
    def final(self) -> Stage:
        return self.stages["final"]

    def path(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def env(self) -> dict[str, str]:
        env = inherited_env(self.stages, self.final)
        mapped = {k: str(self.path(v)) if v.startswith("/") else v for k, v in env.items()}
        mapped["PATH"] = ":".join(
            str(self.path(p)) if self.path(p).is_dir() else p
            for p in env["PATH"].replace("::", ":").strip(":").split(":") + BASE_PATH.split(":")
        )
        mapped["HOME"] = str(self.root / "nonexistent")
        return mapped

    def command(self) -> list[str]:
        argv = self.final.exec_form("ENTRYPOINT") + self.final.exec_form("CMD")
        resolved = shutil.which(argv[0], path=self.env()["PATH"])
        assert resolved is not None, f"{argv[0]} is not on the image's PATH"
        return [resolved, *argv[1:]]


def _as_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    ids = str(UNPRIVILEGED)
    return ["setpriv", f"--reuid={ids}", f"--regid={ids}", "--clear-groups", "--no-new-privs"]


def _python_for_user() -> str:
    """An interpreter the unprivileged user can run (the base image's ``python``)."""
    base: str = getattr(sys, "_base_executable", sys.executable)
    candidates = [base, "/usr/bin/python3.11", "/usr/local/bin/python3.11"]
    for candidate in candidates:
        if Path(candidate).exists():
            done = subprocess.run(
                [
                    *_as_user(),
                    candidate,
                    "-c",
                    "import sys, venv; assert sys.version_info >= (3, 11)",
                ],
                capture_output=True,
                check=False,
                timeout=30,
            )
            if done.returncode == 0:
                return candidate
    pytest.skip("no Python 3.11 that an unprivileged user can execute")


def _context(root: Path) -> Path:
    """What ``docker build`` sends: the repository filtered by ``.dockerignore``."""
    context = root / "build-context"
    for relpath in build_context(ROOT, ROOT / ".dockerignore"):
        (context / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relpath, context / relpath)
    return context


def _build(image: Image, python: str) -> None:
    """The build stage: its COPY set into WORKDIR, then its RUN commands, paths re-rooted."""
    build = image.stages["build"]
    workdir = image.path(build.values("WORKDIR")[-1])
    workdir.mkdir(parents=True)
    for sources, dest in build.copies():
        for source in sources:
            src = image.context / source
            assert src.exists(), f"COPY {source}: not in the build context (.dockerignore)"
            target = workdir / dest / (src.name if dest.endswith("/") and src.is_file() else "")
            if src.is_dir():
                shutil.copytree(src, workdir / dest, dirs_exist_ok=True)
            else:
                shutil.copy(src, target)
    shim = image.path("/usr/local/bin")
    shim.mkdir(parents=True)
    (shim / "python").symlink_to(python)
    env = base_env(**inherited_env(image.stages, build))
    env["PATH"] = f"{shim}:{os.environ['PATH']}"
    for command in build.values("RUN"):
        for container_path in ("/opt/release-gate", "/wheels"):
            command = command.replace(container_path, str(image.path(container_path)))
        subprocess.run(["sh", "-c", command], cwd=workdir, env=env, check=True, timeout=240)


def _install_runtime(image: Image) -> None:
    """The final stage's COPY (policies) and its VOLUME, owned by the unprivileged user."""
    workdir = image.path(image.final.values("WORKDIR")[-1])
    for sources, dest in image.final.copies():
        for source in sources:
            shutil.copytree(image.context / source, workdir / dest, dirs_exist_ok=True)
    for volume in json.loads(image.final.values("VOLUME")[-1]):
        path = image.path(volume)
        path.mkdir(parents=True, mode=0o700)
        if os.geteuid() == 0:
            os.chown(path, UNPRIVILEGED, UNPRIVILEGED)


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    root = Path(tempfile.mkdtemp(prefix="release-gate-image-"))
    root.chmod(0o755)
    try:
        built = Image(
            root=root, stages=parse_dockerfile(ROOT / "Dockerfile"), context=_context(root)
        )
        _build(built, _python_for_user())
        _install_runtime(built)
        yield built
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _chown_tree(path: Path) -> None:
    if os.geteuid() != 0:
        return
    for item in [path, *path.rglob("*")]:
        os.chown(item, UNPRIVILEGED, UNPRIVILEGED)


class TestImageAsBuilt:
    def test_build_context_is_the_allow_list(self, image: Image) -> None:
        """.dockerignore keeps keys, tests, caches and local state out of the image."""
        sent = build_context(ROOT, ROOT / ".dockerignore")
        assert {p.split("/")[0] for p in sent} == {
            "pyproject.toml",
            "README.md",
            "constraints.txt",
            "clients",
            "service",
            "policies",
        }
        bundle = ROOT / "policies"
        shipped_bundle = {  # the whole bundle, its data included, but not its Rego tests
            f"policies/{path.relative_to(bundle).as_posix()}"
            for path in bundle.rglob("*")
            if path.is_file() and path.relative_to(bundle).parts[0] != "tests"
        }
        assert shipped_bundle <= set(sent)
        assert "service/release_gate/migrations/env.py" in sent
        unwanted = [
            p
            for p in sent
            if p.endswith((".pem", ".key", ".pyc"))
            or p.startswith("policies/tests/")
            or "/__pycache__/" in p
            or ".egg-info/" in p
            or "/.release-gate/" in f"/{p}"
        ]
        assert unwanted == []
        workdir = image.path(image.final.values("WORKDIR")[-1])
        assert not list(workdir.rglob("*_test.rego"))

    def test_declares_a_production_runtime(self, image: Image) -> None:
        env = inherited_env(image.stages, image.final)
        assert env["RELEASE_GATE_ENV"] == "production"
        assert env["RELEASE_GATE_HOST"] == "0.0.0.0"  # noqa: S104 - inside a container
        assert image.final.values("EXPOSE") == [env["RELEASE_GATE_PORT"]]
        assert image.final.values("USER")[-1].split(":")[0] not in ("0", "root")
        assert image.final.exec_form("ENTRYPOINT") == ["release-gate"]
        assert image.final.exec_form("CMD")[0] == "serve"
        baked = [p for p in image.root.rglob("*.pem") if b"PRIVATE KEY" in p.read_bytes()]
        assert not baked, "no private key may be baked into the image"

    def test_refuses_to_start_without_operator_configuration(
        self, image: Image, tmp_path: Path
    ) -> None:
        env = base_env(**image.env())
        gate = GateProcess(
            argv=image.command(),
            env=env,
            port=int(env["RELEASE_GATE_PORT"]),
            log_dir=tmp_path,
            cwd=image.path(image.final.values("WORKDIR")[-1]),
            user=_as_user(),
        )
        gate.start(wait_ready=False)
        assert gate.wait(timeout=30) == 2
        assert "refusing to start in production" in gate.logs()


class TestImageAsDeployed:
    def test_serves_approves_passes_healthcheck_and_stops(
        self, image: Image, postgres_url: str
    ) -> None:
        mounts = image.path(f"/run/deploy-{os.getpid()}-{free_port()}")
        trust = private_policies(mounts / "policies")
        rotate(mounts / "keys")
        api_key = generate_key()
        api_keys = mounts / "api-keys.json"
        entry = {"name": "smoke", "sha256": hash_key(api_key), "roles": ["evaluator"]}
        api_keys.write_text(json.dumps([entry]), encoding="utf-8")
        _chown_tree(mounts / "keys")
        _chown_tree(api_keys)
        port = free_port()
        env = base_env(**image.env())
        env.update(  # what the operator mounts and sets (docker run -v/-e)
            RELEASE_GATE_KEYS_DIR=str(mounts / "keys"),
            RELEASE_GATE_POLICIES=str(trust.policies),
            RELEASE_GATE_DATABASE_URL=postgres_url,
            RELEASE_GATE_API_KEYS=str(api_keys),
            RELEASE_GATE_PORT=str(port),
            RELEASE_GATE_DRAIN_SECONDS="0.3",
        )
        upgrade = subprocess.run(  # the operator's one-off `release-gate db upgrade`
            [*_as_user(), *image.command()[:-1], "db", "upgrade"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert upgrade.returncode == 0, upgrade.stderr
        gate = GateProcess(
            argv=image.command(),
            env=env,
            port=port,
            log_dir=mounts / "logs",
            cwd=image.path(image.final.values("WORKDIR")[-1]),
            user=_as_user(),
        )
        with gate:
            manifest = trust.approved_manifest()
            decision = httpx.post(
                gate.url + "/v1/evaluate",
                content=json.dumps(manifest).encode(),
                headers={"content-type": "application/json", "authorization": f"Bearer {api_key}"},
                timeout=10,
            ).json()
            assert decision["allow"] is True, decision
            jwks = httpx.get(gate.url + "/.well-known/jwks.json").json()
            from release_gate_client import load_jwks

            claims = verify_token(
                decision["token"],
                keys=load_jwks(json.dumps(jwks)),
                issuer="release-gate",
                audience=LANE,
                packet_digest=manifest["packet"]["digest"],
            )
            assert claims.jti == decision["decision_id"]
            health = subprocess.run(
                [*_as_user(), *image.final.healthcheck()],
                env=env,
                capture_output=True,
                timeout=10,
                check=False,
            )
            assert health.returncode == 0, health.stderr
            gate.signal(signal.SIGTERM)
            assert gate.wait(timeout=20) == 0
        lines = [json.loads(x) for x in gate.logs().splitlines() if x.startswith("{")]
        assert lines, "production logs are JSON lines"


class TestDockerignoreReader:
    """The reader the smoke test trusts for the build context, on a tree of its own."""

    def test_allow_list_with_exceptions(self, tmp_path: Path) -> None:
        for relpath in [
            "keep.txt",
            "drop.txt",
            "pkg/a.py",
            "pkg/__pycache__/a.pyc",
            "pkg/deep/key.pem",
            "pkg/tests/t.rego",
            "other/b.py",
        ]:
            (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / relpath).write_text("x")
        ignore = tmp_path / ".dockerignore"
        ignore.write_text("# comment\n*\n!keep.txt\n!pkg/\n**/__pycache__\n**/*.pem\npkg/tests/\n")
        assert build_context(tmp_path, ignore) == ["keep.txt", "pkg/a.py"]
