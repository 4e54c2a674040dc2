"""Running the app under uvicorn, with a graceful drain on SIGTERM.

On the first SIGTERM the gate starts *draining*: ``/readyz`` and new
evaluations answer 503 (so a load balancer moves traffic to other replicas)
while the listener stays open for ``RELEASE_GATE_DRAIN_SECONDS``. Then uvicorn
closes the listener and waits (up to ``timeout_graceful_shutdown``) for
in-flight requests, so an evaluation already running finishes, is recorded
and is answered. A second SIGTERM, or SIGINT, stops at once (in-flight
requests still get uvicorn's graceful wait). After SIGTERM the process exits
0, with or without a drain.
"""

from __future__ import annotations

import logging
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI

from release_gate.config import Settings
from release_gate.runtime import Drain

__all__ = ["GRACEFUL_SHUTDOWN_SECONDS", "GracefulServer", "run_server"]

logger = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_SECONDS = 30


class GracefulServer(uvicorn.Server):
    """A uvicorn server that drains on SIGTERM before it stops accepting."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        drain: Drain,
        drain_seconds: float,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._drain = drain
        self._drain_seconds = drain_seconds
        self._on_started = on_started
        self._drain_until: float | None = None
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: set flags only (no logging, no I/O).
        if sig != signal.SIGTERM:
            super().handle_exit(sig, frame)  # SIGINT: uvicorn's own behaviour
            return
        # SIGTERM is the orchestrator's "stop": handled here, not passed to uvicorn,
        # which would raise it again once stopped and so exit 143 instead of 0.
        first = not self._drain.active
        self._drain.active = True
        if first and self._drain_seconds > 0:
            self._drain_until = time.monotonic() + self._drain_seconds
        else:  # no drain configured, or a second SIGTERM: stop now (in-flight still finish)
            self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_started is not None:
            self._on_started()

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None and not self.should_exit:
            if not self._announced:
                self._announced = True
                logger.info(
                    "SIGTERM: draining for %.1f s; new evaluations answer 503",
                    self._drain_seconds,
                )
            if time.monotonic() >= self._drain_until:
                logger.info("drained; closing the listener and finishing in-flight requests")
                self.should_exit = True
        return await super().on_tick(counter)


def run_server(
    app: FastAPI,
    *,
    settings: Settings,
    drain: Drain,
    sockets: list[socket.socket] | None = None,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` on ``settings.host:port`` (or on ``sockets`` a supervisor bound,
    ``serve --workers``, told through ``on_started`` once serving) until drained and
    stopped."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
    )
    server = GracefulServer(
        config, drain=drain, drain_seconds=settings.drain_seconds, on_started=on_started
    )
    server.run(sockets)
