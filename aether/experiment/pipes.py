"""Real processes for real runs on the SQLite store: the pipe protocol between the run and its writers.

:func:`run_processes` starts one process per writer. Each writer reports
through a pipe of its own, never through a lock shared with other processes,
so a writer killed at any moment cannot block anyone else:

* one byte, ``R``, when it is at the start line (ready, waiting for the go);
* then one framed message, ``D`` + an 8-byte length + the pickled
  ``(Collected | None, error | None)``, when it has finished (or failed).

The parent reads every pipe without blocking (:class:`_WriterChannel`), and a
writer that dies, or the run's ``timeout``, ends the run at once with an error
that names the writers concerned.
"""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.connection
import os
import pickle
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from aether.clock import RealClock
from aether.experiment.network import NetworkModel
from aether.experiment.runners import prepare
from aether.experiment.spec import RandomStreams
from aether.experiment.writer import Collected, WriterPlan, run_writer, settle_tickets

__all__ = ["run_processes"]


_READY = b"R"  # a writer process is at the start line
_DONE = b"D"  # followed by an 8-byte length and the pickled (Collected | None, error | None)


def _process_writer(plan: WriterPlan, pattern: Any, store: Any, network: NetworkModel | None, seed: int,
                    channel: Any, go: Any, origin: Any, timeout: float) -> None:
    """The body of one writer process: get ready, wait for the start, run, send back what it collected.

    It reports through its own pipe *channel* only (one byte at the start line,
    then one framed message), never through a lock shared with other
    processes, so a writer killed at any moment cannot block anyone else.
    """
    fd = channel.fileno()
    try:
        clock = RealClock()
        streams = RandomStreams(seed)
        col, make_view, fn, pass_rng = prepare(pattern, store, network, None, clock, streams,
                                               f"shared/{plan.writer}", -1 - plan.writer * 1000)
        view = make_view(plan.writer)
        rng = streams.pattern(plan.writer)
        os.write(fd, _READY)
        if not go.acquire(timeout=timeout):  # the parent gave up (or died): do not run on
            raise RuntimeError(f"writer-{plan.writer} was not started within {timeout:g} s")
        col.origin = origin.value
        make_view.set_origin(col.origin)
        run_writer(plan, view, fn, pass_rng, rng, clock, col)
        close = getattr(fn, "close", None)
        if callable(close):
            close()
        settle_tickets(col)
        result: tuple[Collected | None, BaseException | None] = (col, None)
    except BaseException as exc:  # sent to the parent, which re-raises
        result = (None, exc)
    try:
        payload = pickle.dumps(result)
    except Exception as exc:  # an error that does not pickle still reaches the parent, as text
        error = result[1]
        payload = pickle.dumps((None, RuntimeError(f"writer-{plan.writer} failed: {error!r} (unpicklable: {exc})")))
    message = memoryview(_DONE + struct.pack("!Q", len(payload)) + payload)
    while message:
        message = message[os.write(fd, message):]
    channel.close()


class _WriterChannel:
    """The parent's end of one writer's pipe: bytes read so far, without ever blocking on them."""

    def __init__(self, proc: Any, reader: Any) -> None:
        self.proc, self.reader, self.buffer = proc, reader, bytearray()
        self.fd: int = reader.fileno()
        self.result: tuple[Collected | None, BaseException | None] | None = None  # once complete
        os.set_blocking(self.fd, False)

    @property
    def ready(self) -> bool:
        """The writer reached the start line (or already ended, with its message)."""
        return bool(self.buffer)

    def drain(self) -> None:
        """Read whatever the pipe holds now; unpickle the writer's message once it is complete."""
        while self.result is None:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.buffer += chunk
            start = 1 if self.buffer[:1] == _READY else 0
            if self.buffer[start:start + 1] != _DONE or len(self.buffer) < start + 9:
                continue
            (size,) = struct.unpack("!Q", self.buffer[start + 1:start + 9])
            if len(self.buffer) >= start + 9 + size:
                self.result = pickle.loads(self.buffer[start + 9:start + 9 + size])


def _check_alive(channels: list[_WriterChannel], waiting_for: str, hint: str = "") -> None:
    """Raise if a writer process ended without sending what the run is *waiting_for* from it."""
    dead = []
    for channel in channels:
        if channel.proc.exitcode is None:
            continue
        channel.drain()  # it wrote all it ever will
        if channel.result is None:
            dead.append(channel.proc)
    if dead:
        names = ", ".join(f"{p.name} (exit code {p.exitcode})" for p in dead)
        raise RuntimeError(f"writer process(es) died without reporting: {names}; the run was stopped "
                           f"while waiting for {waiting_for}{hint}")


def _await_writers(channels: list[_WriterChannel], done: Callable[[_WriterChannel], bool], what: str,
                   deadline: float, timeout: float, hint: str = "") -> None:
    """Wait until *done* holds for every writer; a dead writer or the deadline ends the run at once."""
    while True:
        for channel in channels:
            channel.drain()
            found = channel.result
            if found is not None and found[1] is not None:
                raise found[1]
        _check_alive(channels, what, hint)
        pending = [c for c in channels if not done(c)]
        if not pending:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            names = ", ".join(c.proc.name for c in pending)
            raise TimeoutError(f"{len(pending)} of {len(channels)} writer process(es) had not finished after "
                               f"timeout={timeout:g} s (waiting for {what}): {names}; they were stopped and the "
                               "run abandoned")
        multiprocessing.connection.wait([c.fd for c in pending] + [c.proc.sentinel for c in pending],
                                        timeout=min(left, 0.5))


def _start_method(*objects: Any) -> str:
    """``forkserver`` if what the writers receive can be imported by a fresh process, else ``fork``.

    A fork copies the parent, threads' state included: a thread that is inside
    SQLite at that moment leaves the child unable to use it, and a notebook
    kernel is a threaded process. ``forkserver`` forks each writer from a
    small single-threaded server instead, but the pattern must then travel by
    pickle, by name: a function defined in a notebook or a script
    (``__main__``), a lambda or a closure cannot. For those the writers are
    forked (the trade-off: they work as before, and the SQLite store refuses,
    at once and by name, only a fork made while another thread was inside it).
    Off Linux ``spawn`` is used, where fork is unsafe.

    Like ``spawn``, ``forkserver`` imports the main script once (in the
    server): a script that starts real runs must do so under
    ``if __name__ == "__main__":``. A notebook has no such script.
    """
    if not sys.platform.startswith("linux"):
        return "spawn"
    needs_main = False

    class _Probe(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            nonlocal needs_main
            module = getattr(obj, "__module__", None) if isinstance(obj, type) or callable(obj) else None
            if module == "__main__" or type(obj).__module__ == "__main__":
                needs_main = True
            return NotImplemented

    try:
        _Probe(io.BytesIO()).dump(objects)
    except Exception:  # a lambda, a closure, a lock: only a fork can carry it
        return "fork"
    if needs_main:
        return "fork"
    return "forkserver" if _forkserver_socket_fits() else "spawn"


def _forkserver_socket_fits() -> bool:
    """Whether the fork server's socket path fits a Unix socket address (about 107 bytes).

    The server listens on a socket in multiprocessing's temporary folder, made
    under :func:`tempfile.gettempdir`; a long temporary path (a deep ``TMPDIR``)
    makes starting it fail with "AF_UNIX path too long". ``spawn`` carries the
    same importable writers without a socket, only slower to start.
    """
    cached = multiprocessing.process.current_process()._config.get("tempdir")
    base = cached or os.path.join(tempfile.gettempdir(), "pymp-" + "x" * 8)
    return len(os.path.join(base, "listener-" + "x" * 8).encode()) < 100


def run_processes(pattern: Any, plans: list[WriterPlan], store: Any, network: NetworkModel | None,
                   seed: int, timeout: float = 60.0) -> Collected:
    """Run each writer in its own process, all started together; see :func:`_start_method` for how.

    The whole run (start and saves) must end within *timeout* seconds: a
    writer that stops (``SIGSTOP``) or hangs ends the run with a
    :class:`TimeoutError` naming the writers that had not finished, and a
    writer that dies at any moment with a :class:`RuntimeError` naming it,
    within about half a second. Either way every writer process is killed
    before this returns.
    """
    method = _start_method(pattern, store, network, plans)
    ctx: Any = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["__main__", "aether.experiment.pipes"])  # imported once, by the server
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    hint = (f" (writer processes import the main script {script!r} first: if it starts runs when imported, "
            'guard them with `if __name__ == "__main__":`)') if method != "fork" and script else ""
    go, origin = ctx.Semaphore(0), ctx.RawValue("d", 0.0)
    channels: list[_WriterChannel] = []
    deadline = time.monotonic() + timeout
    finished = False
    try:
        for plan in plans:
            reader, writer_end = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_process_writer, name=f"writer-{plan.writer}", daemon=True,
                               args=(plan, pattern, store, network, seed, writer_end, go, origin, timeout))
            proc.start()
            writer_end.close()  # only the writer holds its end now (siblings forked later do not inherit it)
            channels.append(_WriterChannel(proc, reader))
        _await_writers(channels, lambda c: c.ready, "every writer to reach the start line", deadline, timeout,
                       hint)
        col = Collected()
        col.origin = origin.value = RealClock().now()
        for _ in channels:
            go.release()
        _await_writers(channels, lambda c: c.result is not None, "every writer to finish", deadline, timeout)
        results = [(plan.writer, channel.result) for plan, channel in zip(plans, channels, strict=True)]
        finished = True
    finally:
        grace = time.monotonic() + (1.0 if finished else 0.0)  # writers that reported are leaving on their own
        for channel in channels:
            channel.proc.join(max(grace - time.monotonic(), 0.0))
            if channel.proc.is_alive():
                channel.proc.kill()  # SIGKILL: a stopped process ignores SIGTERM until it is continued
        for channel in channels:
            channel.proc.join(5)
            channel.reader.close()
    for _, found in sorted(results, key=lambda r: r[0]):
        assert found is not None
        part, _ = found
        assert part is not None
        col.records.extend(part.records)
        col.absorb(part)
    return col
