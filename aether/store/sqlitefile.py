"""What every SQLite file of the package needs: a checked path, its identity, and one error family.

Two parts of the package keep an SQLite file: the event store
(:class:`~aether.store.sqlite.SQLiteEventStore`) and the durable outbox
(:class:`~aether.patterns.outbox.DurableOutbox`). Both use these helpers, so
that they refuse the same paths, notice the same deleted file, and report a
busy lock, a full disk or a damaged file with the same errors:

* :func:`database_path`: a path checked before anything is created (its
  type, a file not a directory, an existing folder, and a name short enough
  for the ``-wal`` / ``-shm`` files SQLite puts beside it);
* :class:`FileIdentity`: the file a path named when it was opened, so that a
  write into a file deleted or replaced since is refused, never acknowledged;
* :func:`translate`: a driver error as the store's error family: a busy lock
  is a :class:`~aether.errors.LockTimeoutError`, a damaged file a
  :class:`~aether.errors.StoreCorruptedError`, any other operational failure
  (a full disk, an I/O error) a :class:`~aether.errors.StoreUnavailableError`;
* :func:`retry_while_locked`: opening a file that another process is creating
  or switching to WAL waits for the lock up to the busy timeout, measured,
  instead of failing at once.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from aether.checks import show
from aether.errors import AetherError, LockTimeoutError, StoreCorruptedError, StoreUnavailableError

__all__ = [
    "SIDECAR_SUFFIXES",
    "FileIdentity",
    "database_path",
    "is_lock_error",
    "retry_while_locked",
    "translate",
]

T = TypeVar("T")

SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")
"""The files SQLite creates beside a database: their names must fit too."""

_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26
_LONGEST_SUFFIX = max(len(s) for s in SIDECAR_SUFFIXES)


def database_path(path: object, what: str) -> str:
    """*path* as an absolute file name an SQLite database can be created at; raise naming it otherwise.

    *what* names the file's role in messages ("an SQLite event store", "an
    outbox"). A non-path is a :class:`TypeError`; an empty name,
    ``":memory:"`` or a name too long for the file system (counting SQLite's
    ``-wal`` file beside it) a :class:`ValueError`; a directory an
    :class:`IsADirectoryError`; a missing folder a :class:`FileNotFoundError`.
    Nothing is created.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {show(path)} ({type(path).__name__})")
    try:
        name = os.fsdecode(os.fspath(path))
    except TypeError:  # an os.PathLike whose __fspath__ returns something else
        raise TypeError(f"path must be a str or os.PathLike; got {show(path)} ({type(path).__name__})") from None
    if name in ("", ":memory:") or name.startswith("file::memory:"):
        raise ValueError(
            f"path must be a file path for {what}, got {show(name)}: an in-memory SQLite database belongs to "
            "one connection and does not outlive the process"
        )
    if "\x00" in name:
        raise ValueError(f"path must not contain a NUL character; got {show(name)}")
    full = os.path.abspath(name)
    parent, base = os.path.split(full)
    name_max, path_max = _limits(parent)
    if len(os.fsencode(full)) + _LONGEST_SUFFIX >= path_max:
        raise ValueError(
            f"path is too long for {what}: {len(os.fsencode(full))} bytes, and with SQLite's "
            f"'{SIDECAR_SUFFIXES[0]}' file beside it the limit is {path_max - 1}; got {show(name)}"
        )
    if len(os.fsencode(base)) + _LONGEST_SUFFIX > name_max:
        raise ValueError(
            f"path has a file name too long for {what}: {len(os.fsencode(base))} bytes, and SQLite needs "
            f"room for '{base[:8]}...{SIDECAR_SUFFIXES[-1]}' beside it (at most "
            f"{name_max - _LONGEST_SUFFIX} bytes on this file system); got {show(name)}"
        )
    if os.path.isdir(full):
        raise IsADirectoryError(errno.EISDIR, f"path must name a database file for {what}, not a directory", full)
    if not os.path.isdir(parent):
        raise FileNotFoundError(
            errno.ENOENT, f"cannot create {what}: directory {parent!r} does not exist", full
        )
    return full


def _limits(folder: str) -> tuple[int, int]:
    """The longest file name and path (bytes) the file system holding *folder* allows."""
    name_max, path_max = 255, 4096
    probe = folder
    while probe and not os.path.isdir(probe):  # pathconf needs an existing folder
        up = os.path.dirname(probe)
        if up == probe:
            break
        probe = up
    with contextlib.suppress(OSError, ValueError, AttributeError):
        name_max = os.pathconf(probe or "/", "PC_NAME_MAX")
    with contextlib.suppress(OSError, ValueError, AttributeError):
        path_max = os.pathconf(probe or "/", "PC_PATH_MAX")
    return name_max, path_max


class FileIdentity:
    """The file a path named when it was opened (device and inode), to notice it was deleted or replaced.

    Take it once the file exists (:meth:`of`), then call :meth:`check` inside
    each write transaction: a write into a file that the path no longer
    names would be acknowledged and then lost to everyone who opens the path.
    """

    __slots__ = ("device", "inode", "path", "what")

    def __init__(self, path: str, what: str, device: int, inode: int) -> None:
        self.path = path
        self.what = what
        self.device = device
        self.inode = inode

    @classmethod
    def of(cls, path: str, what: str) -> FileIdentity:
        """The identity of the file *path* names now (*what*: its role, for messages)."""
        stat = os.stat(path)
        return cls(path, what, stat.st_dev, stat.st_ino)

    def check(self) -> None:
        """Raise :class:`~aether.errors.StoreCorruptedError` if the path no longer names this file."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise StoreCorruptedError(
                f"the {self.what} file {self.path!r} was deleted while in use; nothing was saved "
                "(a save now would go into a file that no one can open again)"
            ) from None
        if (stat.st_dev, stat.st_ino) != (self.device, self.inode):
            raise StoreCorruptedError(
                f"the {self.what} file {self.path!r} was replaced by another file while in use; "
                "nothing was saved (open it again to use the new file)"
            )

    def __repr__(self) -> str:
        return f"FileIdentity({self.path!r}, device={self.device}, inode={self.inode})"


def is_lock_error(exc: BaseException) -> bool:
    """Whether *exc* is SQLite's "database is locked" (or "table is locked")."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    message = str(exc).lower()
    return "locked" in message or "busy" in message


def is_corruption(exc: BaseException) -> bool:
    """Whether *exc* says the file is damaged or is not a database at all."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    message = str(exc).lower()
    return "malformed" in message or "not a database" in message


def is_missing_schema(exc: BaseException) -> bool:
    """Whether *exc* says a table or column the code relies on is gone."""
    message = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("no such table" in message or "no such column" in message)


def translate(exc: sqlite3.DatabaseError, path: str, busy_timeout: float, what: str) -> AetherError | None:
    """The package's error for a driver error on the file *path*, or ``None`` for a misuse of the driver.

    A busy lock is a :class:`~aether.errors.LockTimeoutError`; a damaged
    file, or tables that are gone, a :class:`~aether.errors.StoreCorruptedError`;
    any other operational failure (a full disk, an I/O error, a read-only
    file) a :class:`~aether.errors.StoreUnavailableError`. Raise the result
    ``from`` *exc*.
    """
    if is_corruption(exc):
        return StoreCorruptedError(f"{what} {path!r} is damaged: {exc}")
    if isinstance(exc, sqlite3.OperationalError):
        if is_missing_schema(exc):
            return StoreCorruptedError(f"{what} {path!r} is no longer {_article(what)}: {exc}")
        if is_lock_error(exc):
            return LockTimeoutError(
                f"{what} {path!r} stayed locked for longer than busy_timeout={busy_timeout} s ({exc})"
            )
        return StoreUnavailableError(f"{what} {path!r} failed: {exc}")
    return None


def _article(what: str) -> str:
    return what if what.startswith(("a ", "an ")) else f"an {what}" if what[:1] in "aeiou" else f"a {what}"


def retry_while_locked(step: Callable[[], T], busy_timeout: float) -> T:
    """Run *step*, again while it fails on a busy lock, until *busy_timeout* seconds have really passed.

    SQLite gives up on some locks at once instead of calling its busy
    handler (switching a file to WAL while another connection creates it, a
    reader that would have to upgrade): opening a file several processes
    create at the same moment then fails in a millisecond with "database is
    locked". This waits for such a lock as long as the busy timeout says,
    polling every few milliseconds; the last lock error is raised once the
    time is up. *step* must be safe to repeat (it opens and sets up a file).
    """
    deadline = time.monotonic() + busy_timeout
    pause = 0.001
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if not is_lock_error(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.05)
