"""Private files and directories, whatever the umask.

The gate's state (``RELEASE_GATE_STATE_DIR``, default ``.release-gate/``) holds
the development signing key and the SQLite store, which keeps every manifest as
received (subjects, objections, rationales). Under the usual umask 022 new
files would be readable by everyone, so:

- :func:`make_private_dirs` creates missing directories 0700 and leaves
  existing ones alone (a key written to ``./gate.pem`` must not change the
  working directory);
- :func:`secure_state_dir` does that for the state directory and tightens an
  existing one that its group or others can use to 0700, with a warning (it is
  the gate's own directory);
- :func:`private_file` creates a missing file 0600, and tightens an existing
  one that its group or others can use to 0600, with a warning;
  :func:`tighten_file` only tightens, for files another program creates.

A file or directory the gate may not change (another owner) is left as it is,
with a warning naming the fix.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["make_private_dirs", "private_file", "secure_state_dir", "tighten_file"]

logger = logging.getLogger(__name__)

_OPEN = stat.S_IRWXG | stat.S_IRWXO


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents, each 0700; existing ones are not changed."""
    missing = []
    for directory in (path, *path.parents):
        if directory.exists():
            break
        missing.append(directory)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: theirs, not ours to change
        os.chmod(directory, 0o700)  # the umask may have taken more than group and others


def secure_state_dir(path: Path) -> None:
    """The state directory: created 0700, or tightened to 0700 (with a warning) if open."""
    make_private_dirs(path)
    _tighten(path, 0o700, "directory")


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing; tighten it if group or others may use it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _tighten(path, 0o600, "file")
        return
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def tighten_file(path: Path) -> None:
    """If ``path`` exists and group or others may use it, make it 0600 (with a warning)."""
    _tighten(path, 0o600, "file")


def _tighten(path: Path, mode: int, what: str) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not current & _OPEN:
        return
    try:
        os.chmod(path, mode)
    except OSError as exc:
        logger.warning(
            "%s %s is open to its group or others (mode %04o) and cannot be changed (%s): "
            "run `chmod %o %s`",
            what,
            path,
            current,
            exc.strerror,
            mode,
            path,
        )
        return
    logger.warning(
        "%s %s was open to its group or others (mode %04o): changed to %04o",
        what,
        path,
        current,
        mode,
    )
