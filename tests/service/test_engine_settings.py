"""Which engine the gate builds from its settings, and when it refuses to start."""

from __future__ import annotations

import pytest

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
