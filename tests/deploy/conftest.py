"""Fixtures for deployment tests: private trust stores, key rings, a PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from release_gate.keys.keyring import rotate
from tests.deploy._support import PrivateTrust, private_policies


@pytest.fixture
def trust(tmp_path: Path) -> PrivateTrust:
    return private_policies(tmp_path / "policies")


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keyring"
    rotate(directory)
    return directory


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema on RELEASE_GATE_TEST_DATABASE_URL, dropped afterwards."""
    base = os.environ.get("RELEASE_GATE_TEST_DATABASE_URL")
    if not base:
        pytest.skip("RELEASE_GATE_TEST_DATABASE_URL is not set: needs PostgreSQL")
    schema = f"rg_deploy_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
