"""``serve --workers``: the socket the supervisor binds serves without Nagle's delay.

Each worker receives the listening socket through multiprocessing, which rebuilds it
from its family, type and protocol. asyncio sets ``TCP_NODELAY`` only on accepted
sockets whose protocol is ``IPPROTO_TCP``; one bound with protocol 0 left every
worker's response waiting on the client's delayed ACK (about 40 ms a request).
"""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from release_gate.cli.workers import listening_socket


def _as_a_worker_receives_it(sock: socket.socket) -> socket.socket:
    """What multiprocessing's socket reduction hands a spawned worker."""
    return socket.socket(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))


async def _nodelay_of_an_accepted_connection(sock: socket.socket) -> int:
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn: socket.socket = writer.get_extra_info("socket")
        accepted.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(on_connect, sock=sock)
    async with server:
        host, port = sock.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        try:
            return await asyncio.wait_for(accepted, timeout=10)
        finally:
            writer.close()


def test_connections_accepted_by_a_worker_are_sent_without_nagle_delay() -> None:
    with listening_socket("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.get_inheritable()
        worker_sock = _as_a_worker_receives_it(sock)
        assert asyncio.run(_nodelay_of_an_accepted_connection(worker_sock)) != 0


def test_a_taken_port_is_refused_and_no_socket_is_left_open() -> None:
    with listening_socket("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        before = len(os.listdir("/proc/self/fd"))
        with pytest.raises(OSError, match="in use"):
            listening_socket("127.0.0.1", port)
        assert len(os.listdir("/proc/self/fd")) == before
