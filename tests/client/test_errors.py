"""The error tree: stable codes, one class per contract reason."""

from __future__ import annotations

import pytest

import release_gate_client as rgc
from release_gate_client import (
    TOKEN_ERRORS,
    ClientError,
    GateHTTPError,
    GateUnavailable,
    KeySetError,
    Problem,
    ReleaseGateClientError,
    TokenError,
    TokenExpired,
    UnexpectedResponse,
)

CONTRACT_REASONS = {
    "token.malformed",
    "token.bad_signature",
    "token.wrong_type",
    "token.unknown_kid",
    "token.wrong_issuer",
    "token.wrong_audience",
    "token.expired",
    "token.not_yet_valid",
    "token.digest_mismatch",
    "token.revoked",
    "token.replayed",
}


class TestErrorTree:
    def test_has_one_class_per_contract_reason(self) -> None:
        assert set(TOKEN_ERRORS) == CONTRACT_REASONS
        for code, cls in TOKEN_ERRORS.items():
            assert cls.code == code
            assert issubclass(cls, TokenError)

    def test_every_code_is_unique(self) -> None:
        classes = [
            obj
            for obj in vars(rgc).values()
            if isinstance(obj, type) and issubclass(obj, ReleaseGateClientError)
        ]
        codes = [cls.code for cls in classes]
        assert len(codes) == len(set(codes))

    def test_roots_share_one_package_root(self) -> None:
        for root in (TokenError, ClientError, KeySetError):
            assert issubclass(root, ReleaseGateClientError)
        for cls in (GateHTTPError, GateUnavailable, UnexpectedResponse):
            assert issubclass(cls, ClientError)
            assert not issubclass(cls, TokenError)

    def test_code_is_readable_from_an_instance(self) -> None:
        with pytest.raises(TokenError, match="expired at 5") as caught:
            raise TokenExpired("expired at 5")
        assert caught.value.code == "token.expired"
        assert caught.value.detail == "expired at 5"

    def test_http_error_carries_status_and_problem(self) -> None:
        problem = Problem(status=422, title="Invalid manifest")
        with pytest.raises(GateHTTPError, match="HTTP 422") as caught:
            raise GateHTTPError("HTTP 422", status=422, problem=problem)
        assert caught.value.status == 422
        assert caught.value.problem is problem

    def test_unavailable_may_have_no_status(self) -> None:
        with pytest.raises(GateUnavailable, match="refused") as caught:
            raise GateUnavailable("connection refused")
        assert caught.value.status is None
        assert caught.value.problem is None


class TestPublicApi:
    def test_all_names_exist_once(self) -> None:
        assert len(rgc.__all__) == len(set(rgc.__all__))
        for name in rgc.__all__:
            assert hasattr(rgc, name), name

    def test_never_imports_the_service(self) -> None:
        import subprocess
        import sys

        code = "import sys, release_gate_client; print('release_gate' in sys.modules)"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
        )
        assert result.stdout.strip() == "False"
