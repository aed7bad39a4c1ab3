"""A throwaway PostgreSQL server on this machine, in a temporary folder, on a Unix socket.

Use :func:`start_local_postgres` when a test, a notebook or a benchmark needs a
real database server and nothing else may be touched: the server listens on
no TCP port, only on a socket inside its own folder, holds nothing but what
the caller writes, and is stopped and deleted by :meth:`LocalPostgres.stop`
(or at the end of a ``with`` block, or when the program exits, or by a
watchdog process when the program is killed)::

    with start_local_postgres() as server:
        store = PostgresEventStore(server.new_schema("demo"))

Where the server comes from, in this order:

1. the ``pgserver`` package (PostgreSQL in a wheel; the ``postgres`` extra
   installs it where it has wheels: Python 3.11 and 3.12 on Linux, macOS and
   Windows). Run as root, pgserver runs the server as a system user
   ``pgserver`` that it creates, because PostgreSQL refuses to run as root;
2. PostgreSQL's own programs (``initdb``, ``pg_ctl``) found on ``PATH``,
   through ``pg_config --bindir``, or under ``/usr/lib/postgresql/*/bin``
   (Debian's ``postgresql`` package). Run as root, the server runs as the
   ``postgres`` system user that package creates.

If neither is there, :func:`postgres_unavailable_reason` says how to get one
and :func:`start_local_postgres` raises :class:`PostgresNotAvailableError` with it.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = ["LocalPostgres", "PostgresNotAvailableError", "postgres_unavailable_reason", "start_local_postgres"]

_HOW_TO_GET_IT = (
    'install the project\'s postgres extra (pip install -e ".[postgres]", which brings the pgserver wheel on '
    "Python 3.11 and 3.12), or PostgreSQL's own programs (Debian/Ubuntu: apt-get install postgresql; "
    "macOS: brew install postgresql)"
)
_START_SECONDS = 60


class PostgresNotAvailableError(RuntimeError):
    """No PostgreSQL server can be started on this machine; the message says how to get one."""


def _import_pgserver() -> Any | None:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (as root, in containers) and falls back to /tmp.
            warnings.simplefilter("ignore")
            import pgserver  # type: ignore[import-untyped]
    except ImportError:
        return None
    return pgserver


def _system_bindir() -> Path | None:
    """The folder of PostgreSQL's own ``initdb`` and ``pg_ctl``, if they are installed."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path))

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)]
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _server_user() -> str | None:
    """The system user to run the server as: ``None`` for the caller, ``"postgres"`` when running as root."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return ""  # root, and no unprivileged user to run the server as
    return "postgres"


def postgres_unavailable_reason() -> str | None:
    """Why no local server can be started here (with how to get one), or ``None`` if one can."""
    if _import_pgserver() is not None:
        return None
    if _system_bindir() is None:
        return f"no PostgreSQL server found: {_HOW_TO_GET_IT}"
    if _server_user() == "":
        return (
            "PostgreSQL's programs are installed but this process runs as root and there is no 'postgres' system "
            f"user to run the server as (PostgreSQL refuses to run as root): {_HOW_TO_GET_IT}"
        )
    return None


#: The watchdog: a separate process that stops the server and deletes its folder once the pipe from
#: the process that started the server closes, whether that process called stop(), exited, or was
#: killed. Arguments: pg_ctl, the data folder, the server's folder, the system user to stop it as.
_WATCHDOG = r"""
import os, shutil, subprocess, sys
pg_ctl, data, folder, user = sys.argv[1:5]
sys.stdin.buffer.read()
if os.path.exists(os.path.join(data, "postmaster.pid")):
    subprocess.run([pg_ctl, "-D", data, "-m", "fast", "-w", "-t", "60", "stop"], user=user or None,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(folder, ignore_errors=True)
"""


class _Watchdog:
    """Stops a server and deletes its folder when :meth:`release` is called or its owner dies."""

    def __init__(self, pg_ctl: Path, data: Path, folder: Path, user: str | None) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(pg_ctl), str(data), str(folder), user or ""],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the owner's process group must not stop the clean-up
        )

    def release(self) -> None:
        """Let the watchdog stop the server and delete the folder, and wait until it has."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(_START_SECONDS + 30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class LocalPostgres:
    """A running throwaway server; build it with :func:`start_local_postgres`.

    ``conninfo`` connects to its ``postgres`` database as the ``postgres``
    superuser over its Unix socket (no password: only processes on this
    machine that can reach the socket file can connect). A watchdog process
    stops the server and deletes its folder if the process that started it
    ends without calling :meth:`stop`, even when it is killed.
    """

    def __init__(self, folder: Path, conninfo: str, backend: str, stopper: Any, watchdog: _Watchdog) -> None:
        self._folder = folder
        self._conninfo = conninfo
        self._backend = backend
        self._stopper = stopper
        self._watchdog = watchdog
        self._stopped = False
        self._schemas = 0
        atexit.register(self.stop)

    @property
    def conninfo(self) -> str:
        """A libpq connection string for the server's ``postgres`` database."""
        return self._conninfo

    @property
    def backend(self) -> str:
        """Where the server's programs came from: ``"pgserver"`` or ``"system"``."""
        return self._backend

    @property
    def folder(self) -> Path:
        """The temporary folder holding the server's data, socket and log (deleted by :meth:`stop`)."""
        return self._folder

    @property
    def running(self) -> bool:
        """Whether :meth:`stop` has not been called yet."""
        return not self._stopped

    def new_schema(self, name: str) -> str:
        """Create an empty schema called *name* (plus a number) and return a conninfo that works in it.

        A store opened with that conninfo keeps its tables in the new schema,
        so each test or experiment gets an empty store on the same server.
        """
        import psycopg
        import psycopg.conninfo

        if not isinstance(name, str) or not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", name):
            raise ValueError(f"name must be a lower-case SQL identifier of at most 41 characters; got {name!r}")
        self._schemas += 1
        schema = f"{name}_{os.getpid()}_{self._schemas}"
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
        return psycopg.conninfo.make_conninfo(self._conninfo, options=f"-c search_path={schema}")

    def stop(self) -> None:
        """Stop the server and delete its folder (a second call does nothing)."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        try:
            if self._stopper is not None:
                self._stopper()
        finally:
            self._watchdog.release()
            shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<LocalPostgres {state} ({self._backend}) at {self._conninfo!r}>"


def start_local_postgres(directory: str | os.PathLike[str] | None = None) -> LocalPostgres:
    """Start a throwaway PostgreSQL server in a new folder under *directory* (default: the temp folder).

    Takes about a second. Run as root, the server runs as another user, who
    must be able to reach the folder: the system's temporary folder works,
    a folder readable by root alone (such as pytest's ``tmp_path``) does not.
    Raises :class:`PostgresNotAvailableError` (saying
    how to get PostgreSQL) if this machine has no way to run one.
    """
    if directory is not None and not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a str, an os.PathLike or None; got {directory!r}")
    # A short parent keeps the Unix socket's path within its limit (about 100 bytes).
    pgserver = _import_pgserver()
    bindir = None if pgserver is not None else _system_bindir()
    if pgserver is None and (bindir is None or _server_user() == ""):
        raise PostgresNotAvailableError(postgres_unavailable_reason() or f"no PostgreSQL: {_HOW_TO_GET_IT}")
    folder = Path(tempfile.mkdtemp(prefix="aether-pg-", dir=directory)).resolve()
    data = folder / "data"
    if pgserver is not None:
        from pgserver._commands import POSTGRES_BIN_PATH  # type: ignore[import-untyped]

        user = "pgserver" if _server_user() is not None else None  # the user pgserver runs the server as
        watchdog = _Watchdog(POSTGRES_BIN_PATH / "pg_ctl", data, folder, user)
    else:
        assert bindir is not None
        user = _server_user()
        watchdog = _Watchdog(bindir / "pg_ctl", data, folder, user)
    try:
        if pgserver is not None:
            server = pgserver.get_server(data, cleanup_mode="delete")
            return LocalPostgres(folder, server.get_uri(), "pgserver", server.cleanup, watchdog)
        assert bindir is not None
        return _start_with_system(bindir, user, folder, watchdog)
    except BaseException:
        watchdog.release()
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _start_with_system(bindir: Path, user: str | None, folder: Path, watchdog: _Watchdog) -> LocalPostgres:
    data, socket_dir = folder / "data", folder
    if user is not None:
        import pwd

        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        folder.chmod(0o700)
    run: dict[str, Any] = {"user": user, "capture_output": True, "text": True, "timeout": _START_SECONDS}
    try:
        subprocess.run(
            [bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"],
            check=True, **run,
        )
        subprocess.run(
            [bindir / "pg_ctl", "-D", data, "-l", folder / "log", "-w", "-o", f"-h '' -k {socket_dir}", "start"],
            check=True, **run,
        )
    except subprocess.CalledProcessError as exc:
        log = (folder / "log").read_text(errors="replace") if (folder / "log").exists() else ""
        raise PostgresNotAvailableError(
            f"PostgreSQL from {bindir} did not start: {exc.stderr or exc.stdout}{log}"
        ) from exc

    conninfo = f"host={socket_dir} port=5432 user=postgres dbname=postgres"
    return LocalPostgres(folder, conninfo, "system", None, watchdog)  # the watchdog stops it

