"""SIGHUP asks for a policy reload: :class:`ReloadRequests`.

Standard library only, so a process (``serve``, each ``--workers`` worker)
installs the handler before it imports or builds anything else: SIGHUP's
default action would end the process, and a SIGHUP sent during start-up is
kept for the reloader (:mod:`release_gate.reload`) rather than lost.
"""

from __future__ import annotations

import threading
from types import FrameType

__all__ = ["ReloadRequests"]


class ReloadRequests:
    """Asks the reloader to look at the policy directory now (SIGHUP).

    :meth:`on_signal` is the SIGHUP handler ``serve`` installs before it builds
    anything, so a SIGHUP never kills the process (its default action) and one
    sent during start-up is not lost.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def request(self) -> None:
        self._event.set()

    def on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self._event.set()

    def wait(self, timeout: float | None) -> bool:
        """Until a request (``True``, and it is consumed) or ``timeout`` seconds (``False``)."""
        requested = self._event.wait(timeout)
        self._event.clear()
        return requested
