"""``serve --workers N``: N worker processes on one listening socket.

The supervisor (this process) builds the runtime once to check the
configuration exactly as a single-process ``serve`` would (production checks,
migrations in development, the dev key created once rather than raced), binds
the socket, and starts N workers with the ``spawn`` method. Each worker builds
its own runtime (engine threads, store, writer thread) and serves the shared
socket with the same graceful drain as a single process; the kernel spreads
connections across them. All of them append to one chain: on PostgreSQL they
meet at the chain head's row lock, on SQLite at the database's lock file.

Signals: SIGTERM and SIGINT are passed to every worker, which drain and exit;
the supervisor exits 0 once they all have (1 if one failed). SIGHUP is passed
on too: each worker reloads its policy on its own (release_gate.reload), and
the store revokes each token a new policy denies once, however many workers
re-check. A worker that dies after it started serving is started again; one
that dies before (a broken start-up) stops them all, and the supervisor exits 1.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event as EventType
from types import FrameType

from release_gate.config import Settings

__all__ = ["listening_socket", "run_workers"]

logger = logging.getLogger(__name__)

_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _worker(
    settings: Settings, sock: socket.socket, index: int, serving: EventType
) -> None:  # pragma: no cover - runs in the worker process
    """One worker process: its own runtime, serving the inherited socket."""
    # Until uvicorn installs its handlers, a stop request finds nothing in flight.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    from release_gate.ops.reload_signal import ReloadRequests  # standard library only

    # A forwarded SIGHUP asks this worker's reloader to look (never kills it, even now).
    reloads = ReloadRequests()
    signal.signal(signal.SIGHUP, reloads.on_signal)
    from release_gate.app import create_app
    from release_gate.cli.server import run_server
    from release_gate.ops.logs import configure_logging
    from release_gate.runtime import build_runtime, freeze_startup_heap

    configure_logging(settings.effective_log_format, repeat_warnings=False)
    runtime = build_runtime(settings, reloads=reloads)
    freeze_startup_heap()
    logger.info("worker %d serving (pid %d)", index, multiprocessing.current_process().pid)
    try:
        app = create_app(settings, runtime=runtime)
        run_server(
            app, settings=settings, drain=runtime.drain, sockets=[sock], on_started=serving.set
        )
    finally:
        runtime.close()


class _Supervisor:
    def __init__(self, settings: Settings, sock: socket.socket, count: int) -> None:
        self._settings = settings
        self._sock = sock
        self._context = multiprocessing.get_context("spawn")
        self._workers: dict[int, tuple[SpawnProcess, EventType]] = {}
        self._count = count
        self._stopping = False
        self._failed = False

    def start(self, index: int) -> None:
        serving = self._context.Event()
        process = self._context.Process(
            target=_worker,
            args=(self._settings, self._sock, index, serving),
            name=f"release-gate-worker-{index}",
        )
        process.start()
        self._workers[index] = (process, serving)

    def forward(self, sig: int, _frame: FrameType | None) -> None:
        """A signal handler: pass ``sig`` to every live worker."""
        if sig in (signal.SIGTERM, signal.SIGINT):
            self._stopping = True
        for process, _ in self._workers.values():
            if process.pid is not None and process.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, sig)

    def run(self) -> int:
        for index in range(self._count):
            self.start(index)
        while self._workers:
            for index, (process, serving) in list(self._workers.items()):
                process.join(timeout=0.2)
                code = process.exitcode
                if code is None:
                    continue
                del self._workers[index]
                if self._stopping:  # one still starting may die of the SIGTERM itself
                    stopped = code in (0, -signal.SIGTERM) if not serving.is_set() else code == 0
                    self._failed |= not stopped
                elif not serving.is_set():
                    logger.error("worker %d exited %s before serving; stopping", index, code)
                    self._failed = self._stopping = True
                    self.forward(signal.SIGTERM, None)
                else:
                    logger.warning("worker %d exited %s; starting it again", index, code)
                    self.start(index)
        return 1 if self._failed else 0


def listening_socket(host: str, port: int) -> socket.socket:
    """The workers' shared socket, bound as asyncio binds its own.

    Its protocol must be ``IPPROTO_TCP``, not the 0 that ``socket.create_server``
    leaves: asyncio sets ``TCP_NODELAY`` only on accepted sockets whose protocol
    says TCP, and without it every response waits on Nagle's algorithm and the
    client's delayed ACK (about 40 ms a request, measured in bench/README.md).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def run_workers(settings: Settings, *, count: int) -> int:
    """Serve with ``count`` worker processes until SIGTERM; the exit code."""
    sock = listening_socket(settings.host, settings.port)
    supervisor = _Supervisor(settings, sock, count)
    for sig in _FORWARDED:
        signal.signal(sig, supervisor.forward)
    logger.info("serving on %s:%d with %d workers", settings.host, settings.port, count)
    try:
        return supervisor.run()
    finally:
        sock.close()
