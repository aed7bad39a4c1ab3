"""How big each benchmark is: the full size for figures, the quick size for the test suite."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FULL", "QUICK", "SECTIONS", "Sizes"]

#: The benchmark sections, in the order they run.
SECTIONS = ("stores", "simulation", "queueing", "memory", "claims", "notebooks")


@dataclass(frozen=True)
class Sizes:
    """Every size knob of the suite in one place.

    ``repeats`` is how many interleaved repetitions each store comparison
    gets; the simulation sweep, much longer, gets ``sweep_repeats`` (and so
    does the parallel sweep); the big run of ``scale_writers`` writers gets
    ``scale_repeats`` per side.
    """

    label: str
    repeats: int
    memory_saves: int
    memory_actors: int
    memory_read_rounds: int
    sqlite_saves: int
    sqlite_full_saves: int
    sqlite_actors: int
    sqlite_read_rounds: int
    sweep_writers: tuple[int, ...]
    sweep_seeds: tuple[int, ...]
    sweep_repeats: int
    memory_run_writers: int
    memory_sweep_seeds: tuple[int, ...]
    scale_writers: int
    scale_repeats: int
    notebooks: bool


FULL = Sizes(
    label="full size",
    repeats=5,
    memory_saves=20_000,
    memory_actors=4,
    memory_read_rounds=10,
    sqlite_saves=4_000,
    sqlite_full_saves=200,
    sqlite_actors=4,
    sqlite_read_rounds=5,
    sweep_writers=tuple(range(10, 101, 10)),
    sweep_seeds=tuple(range(10)),
    sweep_repeats=3,
    memory_run_writers=1_000,
    memory_sweep_seeds=(0,),
    scale_writers=10_000,
    scale_repeats=3,
    notebooks=True,
)

QUICK = Sizes(
    label="quick size (figures are not meaningful)",
    repeats=2,
    memory_saves=400,
    memory_actors=2,
    memory_read_rounds=2,
    sqlite_saves=40,
    sqlite_full_saves=5,
    sqlite_actors=2,
    sqlite_read_rounds=2,
    sweep_writers=(10, 20),
    sweep_seeds=(0, 1),
    sweep_repeats=1,
    memory_run_writers=20,
    memory_sweep_seeds=(0,),
    scale_writers=100,
    scale_repeats=1,
    notebooks=False,
)
