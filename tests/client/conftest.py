"""Fixtures for the client tests: real Ed25519 keys, real tokens, a real HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer

import pytest

from ._support import FakeClock, FakeGate, Minter, handler_for, make_signer


@pytest.fixture
def signer() -> Minter:
    return make_signer()


@pytest.fixture
def signer_factory() -> Callable[[], Minter]:
    return make_signer


@pytest.fixture
def gate() -> Iterator[FakeGate]:
    fake = FakeGate()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
