"""The contention model written again, to measure our harness against: SimPy and a bare event heap.

The model is the one :func:`aether.experiment.run_contention` runs with its
default network and :func:`aether.patterns.jitter_retry`: *writers* writers
start at time 0 and each makes one save on one shared actor. An attempt is a
read (request hop, the store answers with the latest version, response hop)
followed by a write (request hop, the store accepts the event only if nobody
wrote since the read, response hop). A lost write waits
``min(cap, base * 2**retry)`` (``"none"``) or a uniform draw below it
(``"full"``) and tries again, up to ``max_attempts`` write attempts. Hops are
``|N(mu, sigma)|``.

These versions keep only a version counter instead of a store and draw their
random numbers from their own streams, so they agree with the harness in
distribution, not run by run. A third one runs the same minimal writers as
greenlets on our own :class:`~aether.clock.SimulatedClock`: it separates what
the clock costs from what the realistic parts of a harness run cost. A fourth
writes them as ``async def`` coroutines on an asyncio loop whose clock
``looptime`` fast-forwards: the other way to run unmodified (asynchronous)
application code in simulated time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

__all__ = ["ContentionModel", "Outcome", "Streams", "bare_contention", "clock_contention", "independent_streams",
           "looptime_available", "looptime_contention", "simpy_available", "simpy_contention"]

#: Where a writer's random numbers come from: ``streams(seed, writer)`` gives (network rng, backoff rng).
Streams = Callable[[int, int], tuple[random.Random, random.Random]]


@dataclass(frozen=True)
class ContentionModel:
    """The parameters shared by every implementation of the contention model (seconds)."""

    jitter: str = "full"
    base_delay: float = 0.005
    max_delay: float = 2.0
    max_attempts: int = 50
    hop_mu: float = 0.010
    hop_sigma: float = 0.002

    def __post_init__(self) -> None:
        if self.jitter not in ("none", "full"):
            raise ValueError(f"jitter must be 'none' or 'full'; got {self.jitter!r}")

    def backoff(self, retry: int, uniform: Callable[[float, float], float]) -> float:
        """The wait before retry number *retry* (0-based)."""
        v = min(self.max_delay, self.base_delay * 2.0 ** min(retry, 1023))
        return v if self.jitter == "none" else uniform(0.0, v)


@dataclass
class Outcome:
    """What one simulated run did: write attempts, saves committed, writers that gave up."""

    attempts: int = 0
    committed: int = 0
    gave_up: int = 0


def independent_streams(seed: int, writer: int) -> tuple[random.Random, random.Random]:
    """The default :data:`Streams`: seeded per (seed, writer), unrelated to the harness's own."""
    return random.Random(f"bench/{seed}/network/{writer}"), random.Random(f"bench/{seed}/backoff/{writer}")


# --------------------------------------------------------------------------- bare event heap

# The phases of a writer in the bare simulator: what happens when its next heap entry pops.
_READ_AT_STORE, _READ_BACK, _WRITE_AT_STORE, _WRITE_BACK, _RETRY = range(5)


class _Writer:
    """One writer's state in the bare simulator."""

    __slots__ = ("attempt", "gauss", "phase", "read_version", "uniform", "won")

    def __init__(self, net: random.Random, backoff: random.Random) -> None:
        self.gauss = net.gauss
        self.uniform = backoff.uniform
        self.phase = _READ_AT_STORE
        self.attempt = 0
        self.read_version = 0
        self.won = False


def bare_contention(writers: int, seed: int, model: ContentionModel,
                    streams: Streams = independent_streams) -> Outcome:
    """Run the model on a plain ``heapq`` of ``(time, sequence, writer)``; the speed limit in Python."""
    mu, sigma, limit = model.hop_mu, model.hop_sigma, model.max_attempts
    heap: list[tuple[float, int, _Writer]] = []
    push, pop, seq = heapq.heappush, heapq.heappop, itertools.count()
    out = Outcome()
    latest = 0
    for w in range(writers):
        state = _Writer(*streams(seed, w))
        push(heap, (abs(state.gauss(mu, sigma)), next(seq), state))
    while heap:
        now, _, st = pop(heap)
        phase = st.phase
        if phase == _READ_AT_STORE:
            st.read_version = latest
            st.phase = _READ_BACK
        elif phase == _READ_BACK:
            st.phase = _WRITE_AT_STORE
        elif phase == _WRITE_AT_STORE:
            out.attempts += 1
            st.attempt += 1
            st.won = st.read_version == latest
            if st.won:
                latest += 1
            st.phase = _WRITE_BACK
        elif phase == _WRITE_BACK:
            if st.won:
                out.committed += 1
            elif st.attempt >= limit:
                out.gave_up += 1
            else:
                st.phase = _RETRY
                push(heap, (now + model.backoff(st.attempt - 1, st.uniform), next(seq), st))
            continue
        else:  # _RETRY: the backoff is over, send the read
            st.phase = _READ_AT_STORE
        push(heap, (now + abs(st.gauss(mu, sigma)), next(seq), st))
    return out


# --------------------------------------------------------------------------- SimPy


def simpy_available() -> bool:
    """Whether SimPy is installed."""
    try:
        import simpy  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class _Shared:
    latest: int = 0


def _simpy_writer(env: Any, shared: _Shared, net: random.Random, backoff: random.Random, model: ContentionModel,
                  out: Outcome) -> Generator[Any, Any, None]:
    gauss, mu, sigma = net.gauss, model.hop_mu, model.hop_sigma
    for attempt in range(1, model.max_attempts + 1):
        yield env.timeout(abs(gauss(mu, sigma)))
        read_version = shared.latest
        yield env.timeout(abs(gauss(mu, sigma)))
        yield env.timeout(abs(gauss(mu, sigma)))
        out.attempts += 1
        won = read_version == shared.latest
        if won:
            shared.latest += 1
        yield env.timeout(abs(gauss(mu, sigma)))
        if won:
            out.committed += 1
            return
        if attempt < model.max_attempts:
            yield env.timeout(model.backoff(attempt - 1, backoff.uniform))
    out.gave_up += 1


def simpy_contention(writers: int, seed: int, model: ContentionModel,
                     streams: Streams = independent_streams) -> Outcome:
    """Run the model as SimPy processes, one generator per writer (``env.timeout`` per hop and backoff)."""
    import simpy

    env = simpy.Environment()
    shared, out = _Shared(), Outcome()
    for w in range(writers):
        env.process(_simpy_writer(env, shared, *streams(seed, w), model, out))
    env.run()
    return out


# --------------------------------------------------------------------------- our clock, minimal writers


def _clock_writer(clock: Any, shared: _Shared, net: random.Random, backoff: random.Random, model: ContentionModel,
                  out: Outcome) -> None:
    sleep, gauss, mu, sigma = clock.sleep, net.gauss, model.hop_mu, model.hop_sigma
    for attempt in range(1, model.max_attempts + 1):
        sleep(abs(gauss(mu, sigma)))
        read_version = shared.latest
        sleep(abs(gauss(mu, sigma)))
        sleep(abs(gauss(mu, sigma)))
        out.attempts += 1
        won = read_version == shared.latest
        if won:
            shared.latest += 1
        sleep(abs(gauss(mu, sigma)))
        if won:
            out.committed += 1
            return
        if attempt < model.max_attempts:
            sleep(model.backoff(attempt - 1, backoff.uniform))
    out.gave_up += 1


def clock_contention(writers: int, seed: int, model: ContentionModel,
                     streams: Streams = independent_streams) -> Outcome:
    """Run the model as plain functions on a :class:`~aether.clock.SimulatedClock` (a counter, no store)."""
    from aether.clock import SimulatedClock

    clock = SimulatedClock()
    shared, out = _Shared(), Outcome()
    for w in range(writers):
        clock.spawn(_clock_writer, clock, shared, *streams(seed, w), model, out)
    clock.run()
    return out


# --------------------------------------------------------------------------- asyncio on a looptime loop


def looptime_available() -> bool:
    """Whether looptime (virtual time for asyncio event loops) is installed."""
    try:
        import looptime  # noqa: F401
    except ImportError:
        return False
    return True


async def _async_writer(shared: _Shared, net: random.Random, backoff: random.Random, model: ContentionModel,
                        out: Outcome) -> None:
    sleep, gauss, mu, sigma = asyncio.sleep, net.gauss, model.hop_mu, model.hop_sigma
    for attempt in range(1, model.max_attempts + 1):
        await sleep(abs(gauss(mu, sigma)))
        read_version = shared.latest
        await sleep(abs(gauss(mu, sigma)))
        await sleep(abs(gauss(mu, sigma)))
        out.attempts += 1
        won = read_version == shared.latest
        if won:
            shared.latest += 1
        await sleep(abs(gauss(mu, sigma)))
        if won:
            out.committed += 1
            return
        if attempt < model.max_attempts:
            await sleep(model.backoff(attempt - 1, backoff.uniform))
    out.gave_up += 1


#: looptime's own default: loop cycles it runs without moving time before each jump (so that chains of
#: awaits that schedule timers get to run first). Our writers only ever await a plain sleep, so any
#: number gives the same run; 0 is the fastest setting.
LOOPTIME_DEFAULT_NOOP_CYCLES = 42


def looptime_contention(writers: int, seed: int, model: ContentionModel, streams: Streams = independent_streams,
                        *, noop_cycles: int = 0) -> Outcome:
    """Run the model as asyncio tasks (``await asyncio.sleep`` per hop and backoff) on a looptime loop.

    ``looptime.new_event_loop`` makes the platform's default event loop with a
    fake clock that jumps to the next timer whenever nothing is ready to run;
    ``noop_cycles`` is its setting of that name (looptime's default is
    :data:`LOOPTIME_DEFAULT_NOOP_CYCLES`).
    """
    import looptime

    loop = looptime.new_event_loop(noop_cycles=noop_cycles)
    shared, out = _Shared(), Outcome()

    async def main() -> None:
        await asyncio.gather(*(_async_writer(shared, *streams(seed, w), model, out) for w in range(writers)))

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return out
