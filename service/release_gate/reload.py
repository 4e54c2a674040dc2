"""The running gate follows its policy directory: reload on SIGHUP and by polling.

One :class:`PolicyReloader` thread per serving process (each ``serve
--workers`` worker has its own)::

    wait      a SIGHUP (Runtime.reloads), the poll interval
              (RELEASE_GATE_POLICY_POLL_SECONDS; 0 = SIGHUP only), or a postponed re-check
    look      fingerprint the directory (each bundle file's path and bytes); unchanged: done.
              A change found by polling waits until the directory has stayed the same for
              RELEASE_GATE_POLICY_SETTLE_SECONDS (a bundle copied in file by file is not
              taken up half copied); SIGHUP looks and loads at once
    load      bundle, governance data, METADATA, production checks, a new engine that
              compiled the bundle on every engine thread. Any problem: the old policy
              keeps serving, and the reason is logged, counted and shown as reload_error
    swap      runtime.policy = the new ServedPolicy, one assignment; metrics labels follow
    retire    the old policy takes no new lease; its engine closes once the decisions in
              flight on it have finished and been recorded
    re-check  if the digest changed: every live approval is decided again under the new
              policy, and those it denies are revoked (release_gate.recheck); at start-up,
              the live approvals decided under another digest

A directory caught in the middle of an edit (its fingerprint changed while it
was read) is read again shortly after; a bundle equal to the served one (same
digest and revision) changes nothing. On OPA the new bundle gives the gate its
expected revision and METADATA (OPA loads the bundle itself); until OPA reports
that revision, evaluations answer 503 and the re-check is postponed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from release_gate.errors import GateError
from release_gate.ops.metrics import Metrics
from release_gate.policy.bundle import load_bundle
from release_gate.policy.governance import Governance, GovernanceError
from release_gate.recheck import RecheckPostponed, recheck_live_approvals
from release_gate.runtime import ReloadError, Runtime, production_problems
from release_gate.served import ServedPolicy, load_served
from release_gate.timestamps import format_ns

__all__ = ["PolicyReloader", "directory_fingerprint"]

logger = logging.getLogger(__name__)

#: How long a retired policy waits for its decisions in flight before its engine closes
#: (past the engine's and the store's own timeouts; a decision still running then fails
#: closed, with a 503).
RETIRE_SECONDS = 60.0
#: Before a postponed re-check is tried again: the poll interval (at least 0.5 s), or
#: this without polling.
RECHECK_RETRY_SECONDS = 5.0
#: A directory that changes while it is read is read again this often, after this pause.
_SETTLE_ATTEMPTS = 5
_SETTLE_PAUSE = 0.2


def directory_fingerprint(root: Path) -> str:
    """SHA-256 over the files a bundle is read from: the relative path and bytes of
    ``.manifest`` and of every file under ``root`` whose path has no hidden part (a
    ``.git`` directory or an editor's swap file is never walked or read), length-prefixed."""
    base = root.resolve()
    files = [base / ".manifest"] if (base / ".manifest").is_file() else []
    try:
        for folder, dirs, names in os.walk(base, onerror=_raise):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            files += [Path(folder, n) for n in names if not n.startswith(".")]
        digest = hashlib.sha256()
        for path in sorted(files):
            name = path.relative_to(base).as_posix().encode("utf-8")
            data = path.read_bytes()
            digest.update(b"%d:%s%d:" % (len(name), name, len(data)))
            digest.update(data)
    except OSError as exc:
        return f"unreadable: {exc}"
    return digest.hexdigest()


def _raise(error: OSError) -> None:
    raise error


@dataclass(frozen=True, slots=True)
class _Pending:
    """A re-check still to do: live approvals under ``policy``, which replaced ``previous``
    (at start-up: only those decided under another policy)."""

    policy: ServedPolicy
    previous_digest: str | None
    at_start: bool = False


class PolicyReloader:
    """Reloads ``runtime``'s policy directory on request and every poll interval."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        metrics: Metrics | None = None,
        on_swap: Callable[[], None] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._runtime = runtime
        self._root = runtime.settings.policies
        self._poll = runtime.settings.policy_poll_seconds
        self._quiet = runtime.settings.policy_settle_seconds
        # A changed fingerprint polling found, and when: loaded once it stays the same.
        self._settling: tuple[str, float] | None = None
        self._retry_seconds = max(0.5, self._poll) if self._poll > 0 else RECHECK_RETRY_SECONDS
        self._metrics = metrics
        self._on_swap = on_swap
        self._clock = clock
        self._actor = f"policy-reload {socket.gethostname()} pid {os.getpid()}"
        # A start-up that loaded looks at the directory once more on the first tick; one
        # that failed waits for the files to change (or a SIGHUP) before trying again.
        self._seen = None if runtime.policy is not None else directory_fingerprint(self._root)
        # The first tick re-checks the live approvals decided under another policy: one
        # may have changed while no gate ran, or been shipped by a restart.
        served = runtime.policy
        self._pending: _Pending | None = _Pending(served, None, True) if served else None
        self._retry_at = 0.0
        self._stopping = False
        self._checking = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="policy-reload", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        self._runtime.reloads.request()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        with self._checking:  # the start-up re-check first, before any look at the directory
            if self._pending is not None and self._pending.at_start:
                self._recheck()  # logs and retries its own failures
        while True:
            requested = self._runtime.reloads.wait(self._wait_seconds())
            if self._stopping:
                return
            try:
                self.check(forced=requested)
            except Exception:  # the thread outlives any one failure, and says so
                logger.exception("policy reload check failed; the current policy keeps serving")

    def _wait_seconds(self) -> float | None:
        waits = [self._poll] if self._poll > 0 else []
        if self._pending is not None:
            waits.append(max(0.0, self._retry_at - time.monotonic()))
        if self._settling is not None:
            waits.append(max(0.0, self._settling[1] + self._quiet - time.monotonic()))
        return min(waits) if waits else None

    def check(self, *, forced: bool = False) -> None:
        """Reload the directory if it changed since last looked at (always when ``forced``,
        as on SIGHUP), then run a due re-check. One check at a time."""
        with self._checking:
            self._check(forced=forced)

    def _check(self, *, forced: bool) -> None:
        if forced:
            self._settling = None
            self._reload()
        else:
            fingerprint = directory_fingerprint(self._root)
            if fingerprint == self._seen:
                self._settling = None  # back to what was read last: nothing to wait for
            elif self._settled(fingerprint):
                self._reload()
        if self._pending is not None and (forced or time.monotonic() >= self._retry_at):
            self._recheck()

    def _settled(self, fingerprint: str) -> bool:
        """Whether a changed directory has stayed ``fingerprint`` for the quiet period."""
        if self._quiet <= 0:
            return True
        now = time.monotonic()
        if self._settling is None or self._settling[0] != fingerprint:
            self._settling = (fingerprint, now)  # changed (again): wait for quiet
            return False
        if now - self._settling[1] < self._quiet:
            return False
        self._settling = None
        return True

    # -- load and swap ----------------------------------------------------

    def _reload(self) -> None:
        for attempt in range(_SETTLE_ATTEMPTS):
            if attempt:
                time.sleep(_SETTLE_PAUSE)
            before = directory_fingerprint(self._root)
            loaded: ServedPolicy | None = None
            problem = ""
            try:
                loaded = self._load()
            except GateError as exc:
                problem = exc.detail
            if directory_fingerprint(self._root) != before:  # half an edit: read it again
                if loaded is not None and loaded is not self._runtime.policy:
                    loaded.close()
                continue
            self._seen = before
            if loaded is None:
                self._fail(problem)
            elif loaded is not self._runtime.policy:
                self._swap(loaded)
            else:
                self._runtime.reload_error = None  # the directory holds what serves
            return
        self._fail(
            f"the policy directory kept changing while it was read ({_SETTLE_ATTEMPTS} times); "
            "write a new bundle atomically (rename a directory into place), then SIGHUP"
        )

    def _load(self) -> ServedPolicy:
        """The directory's policy, or the served one when the bundle is the same."""
        bundle = load_bundle(self._root)
        serving = self._runtime.policy
        if serving is not None and (bundle.digest, bundle.revision) == (
            serving.digest,
            serving.revision,
        ):
            return serving
        runtime = self._runtime
        return load_served(
            runtime.settings,
            store=runtime.store,
            minter=runtime.minter,
            bundle=bundle,
            check=self._production_check,
        )

    def _production_check(self, governance: Governance) -> None:
        """In production a reload obeys the checks of a start (no demo keys)."""
        if self._runtime.settings.env != "production":
            return
        problems = production_problems(governance, self._runtime.keyring)
        if problems:
            raise GovernanceError(
                "refused in production mode (RELEASE_GATE_ENV=production): " + "; ".join(problems)
            )

    def _fail(self, detail: str) -> None:
        runtime = self._runtime
        runtime.reload_error = ReloadError(at=format_ns(self._clock()), detail=detail)
        serving = runtime.policy
        if serving is None:
            runtime.load_error = detail
        if self._metrics is not None:
            self._metrics.observe_reload(ok=False)
        logger.error(
            "policy reload failed, %s: %s",
            f"revision {serving.revision} keeps serving" if serving else "no policy serves",
            detail,
        )

    def _swap(self, policy: ServedPolicy) -> None:
        runtime = self._runtime
        previous = runtime.policy
        runtime.policy = policy
        runtime.load_error = None
        runtime.reload_error = None
        if self._on_swap is not None:
            self._on_swap()
        if self._metrics is not None:
            self._metrics.observe_reload(ok=True)
        logger.info(
            "policy reloaded: revision %s -> %s, digest %s -> %s",
            previous.revision if previous else "(none)",
            policy.revision,
            previous.digest if previous else "(none)",
            policy.digest,
        )
        if previous is not None and previous.revision == policy.revision:
            logger.warning(
                "the policy changed but its revision did not (%s): bump revision in "
                ".manifest with every change, so decisions and OPA name it",
                policy.revision,
            )
        if previous is not None and not previous.retire(timeout=RETIRE_SECONDS):
            logger.warning(
                "decisions still in flight on revision %s after %.0f s: their "
                "engine is closed, they fail closed",
                previous.revision,
                RETIRE_SECONDS,
            )
        if previous is None or previous.digest != policy.digest:
            self._pending = _Pending(policy, previous.digest if previous else None)
            self._recheck()

    # -- re-check ---------------------------------------------------------

    def _recheck(self) -> None:
        pending, store = self._pending, self._runtime.store
        if pending is None or store is None:
            self._pending = None
            return
        if not pending.policy.acquire():  # replaced meanwhile: the newer one re-checks
            self._pending = None
            return
        try:
            result = recheck_live_approvals(
                pending.policy,
                store,
                previous_digest=pending.previous_digest,
                now_ns=self._clock(),
                actor=self._actor,
                other_policies_only=pending.at_start,
            )
        except RecheckPostponed as exc:
            self._retry_at = time.monotonic() + self._retry_seconds
            logger.warning(
                "re-check of live approvals under revision %s postponed (%.1f s): %s",
                pending.policy.revision,
                self._retry_seconds,
                exc.detail,
            )
            return
        except Exception:  # a defect: nothing was revoked; try again later, not in a loop
            self._retry_at = time.monotonic() + self._retry_seconds
            logger.exception(
                "re-check of live approvals under revision %s failed; tried again in %.1f s",
                pending.policy.revision,
                self._retry_seconds,
            )
            return
        finally:
            pending.policy.release()
        self._pending = None
        if self._metrics is not None:
            self._metrics.observe_policy_revocations(len(result.revoked))
        if pending.at_start and not result.evaluated:
            return
        logger.info(
            "re-checked %d live approval(s)%s under revision %s: %d denied, %d revoked "
            "(policy.changed)%s",
            result.evaluated,
            " decided under another policy, at start-up," if pending.at_start else "",
            pending.policy.revision,
            len(result.denied),
            len(result.revoked),
            f": {', '.join(sorted(result.revoked)[:20])}" if result.revoked else "",
        )
