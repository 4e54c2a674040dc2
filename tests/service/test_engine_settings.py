"""Which engine the gate builds from its settings, and when it refuses to start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from release_gate.config import Settings
from release_gate.runtime import EngineSettingsError, build_runtime


class TestOpaSettings:
    @pytest.mark.parametrize("url", ["ftp://opa:8181", "http://opa:8181/v1", "opa:8181"])
    def test_malformed_opa_url_stops_start_up(self, settings: Settings, url: str) -> None:
        with pytest.raises(EngineSettingsError, match="OPA URL"):
            build_runtime(settings.model_copy(update={"opa_url": url}))

    def test_credentials_in_the_opa_url_stop_start_up_without_echoing_them(
        self, settings: Settings
    ) -> None:
        # /readyz and every 503 name the OPA URL: a password in it would be served to anyone
        url = "http://gate:s3cret-pw@127.0.0.1:9"
        with pytest.raises(EngineSettingsError, match="RELEASE_GATE_OPA_TOKEN") as caught:
            build_runtime(settings.model_copy(update={"opa_url": url}))
        assert "s3cret-pw" not in str(caught.value)

    def test_unreachable_opa_starts_and_is_not_ready(self, settings: Settings) -> None:
        configured = settings.model_copy(
            update={"opa_url": "http://127.0.0.1:9", "opa_timeout_seconds": 0.5, "opa_retries": 0}
        )
        runtime = build_runtime(configured)
        try:
            assert runtime.engine is not None
            assert runtime.engine.name == "opa"
            status = runtime.engine.status()
            assert status.ready is False
            assert "127.0.0.1:9" in status.detail
        finally:
            runtime.close()

    def test_opa_token_never_shows_in_settings_repr(self) -> None:
        configured = Settings(opa_url="http://127.0.0.1:8181", opa_token="s3cret-opa-token")
        assert "s3cret-opa-token" not in repr(configured)
        assert configured.opa_token is not None
        assert configured.opa_token.get_secret_value() == "s3cret-opa-token"


class TestEmptyVariables:
    @pytest.mark.parametrize(
        "name", ["RELEASE_GATE_KEYS_DIR", "RELEASE_GATE_SIGNING_KEY_FILE", "RELEASE_GATE_API_KEYS"]
    )
    def test_an_empty_path_variable_is_unset_not_the_working_directory(
        self, monkeypatch: pytest.MonkeyPatch, name: str
    ) -> None:
        monkeypatch.setenv(name, "")
        settings = Settings()
        field = name.removeprefix("RELEASE_GATE_").lower()
        assert getattr(settings, field) is None

    def test_an_empty_environment_name_is_still_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Not "development" by default: an empty RELEASE_GATE_ENV is a mistake to stop on."""
        monkeypatch.setenv("RELEASE_GATE_ENV", "")
        with pytest.raises(ValidationError):
            Settings()
