"""Fixtures for the client tests: real Ed25519 keys, real tokens, a real HTTP server."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer

import pytest

from ._support import FakeClock, FakeGate, Minter, handler_for, make_signer


class _Server(ThreadingHTTPServer):
    """The stub gate; a client that hangs up early (a timeout test) is not an error to print."""

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@pytest.fixture
def signer() -> Minter:
    return make_signer()


@pytest.fixture
def signer_factory() -> Callable[[], Minter]:
    return make_signer


@pytest.fixture
def gate() -> Iterator[FakeGate]:
    fake = FakeGate()
    server = _Server(("127.0.0.1", 0), handler_for(fake))
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
