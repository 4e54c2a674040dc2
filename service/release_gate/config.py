"""Settings, read from ``RELEASE_GATE_*`` environment variables (contract section 7).

Flags of the CLI override these. Nothing here is read at import time: build a
:class:`Settings` in ``create_app`` or the CLI and pass it down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELEASE_GATE_", frozen=True, extra="ignore")

    env: Literal["development", "production"] = "development"
    policies: Path = Path("policies")
    state_dir: Path = Field(
        default=Path(".release-gate"),
        description="Where the dev signing key and the default SQLite store live.",
    )
    signing_key_file: Path | None = None
    keys_dir: Path | None = Field(
        default=None,
        description="A key ring managed by `release-gate keys rotate` (keys.json and PEM files); "
        "overrides signing_key_file.",
    )
    retired_key_files: Annotated[tuple[Path, ...], NoDecode] = ()
    issuer: str = Field(default="release-gate", min_length=1)
    database_url: str | None = None
    opa_url: str | None = None
    opa_timeout_seconds: float = Field(default=2.0, gt=0)
    opa_retries: int = Field(
        default=2, ge=0, le=10, description="Retries on connection errors only (never timeouts)."
    )
    opa_bundle_name: str | None = Field(
        default=None,
        description="Which of OPA's bundles carries the gate's policy, when OPA serves several.",
    )
    opa_token: SecretStr | None = Field(
        default=None, description="Bearer token for an OPA server started with authentication."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_signatures: int = Field(default=32, ge=1)
    max_objections: int = Field(default=1000, ge=0)
    max_evidence: int = Field(default=1000, ge=0)
    max_nesting_depth: int = Field(default=32, ge=4, le=256)
    log_format: Literal["text", "json"] | None = Field(
        default=None, description="Default: json in production, text in development."
    )
    api_keys: Path | None = Field(
        default=None,
        description="JSON file of API keys as hashes ({name, sha256, roles}); auth is on "
        "when set. Unset is allowed only in development mode (auth off, loudly).",
    )
    auto_migrate: bool | None = Field(
        default=None,
        description="Run the store's migrations at start-up. Default: on in development (a "
        "fresh checkout serves at once), off in production, where the service refuses an "
        "unmigrated store and names `release-gate db upgrade`.",
    )
    revocations_ttl_seconds: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="next_update of the signed revocation list: how long verifiers may cache it.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Worker processes `serve` runs on its one port, each with its own engine "
        "threads and store writer, all appending to one chain (docs/operators.md).",
    )
    policy_poll_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="How often `serve` looks for a changed policy directory and reloads it "
        "(0: only on SIGHUP). A bundle that does not load leaves the previous one serving.",
    )
    policy_settle_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="A policy directory that polling finds changed is loaded once it has "
        "stayed unchanged this long, so a bundle copied in file by file is not taken up half "
        "copied (0: at once). SIGHUP loads at once.",
    )
    drain_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="After SIGTERM, answer 503 to new evaluations this long before closing the "
        "listener; in-flight evaluations always finish.",
    )
    ui_tls_proxy: bool = Field(
        default=False,
        description="A proxy in front of the gate terminates TLS: trust its X-Forwarded-Proto "
        "for the packet pages. Production mode serves the pages only over HTTPS.",
    )
    ui_session_seconds: int = Field(
        default=28800,
        ge=300,
        le=86400,
        description="How long a sign-in to the packet pages lasts (the session cookie's life).",
    )

    @field_validator("signing_key_file", "keys_dir", "api_keys", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: object) -> object:
        # `RELEASE_GATE_KEYS_DIR=` means "not set", not "the working directory".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("retired_key_files", mode="before")
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(Path(p.strip()) for p in value.split(",") if p.strip())
        return value

    @property
    def effective_log_format(self) -> Literal["text", "json"]:
        if self.log_format is not None:
            return self.log_format
        return "json" if self.env == "production" else "text"

    @property
    def effective_auto_migrate(self) -> bool:
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.env == "development"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.state_dir / 'decisions.db').as_posix()}"

    @property
    def dev_key_path(self) -> Path:
        return self.state_dir / "dev-signing-key.pem"
