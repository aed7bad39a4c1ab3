"""The lab's benchmarks: our code measured side by side with the alternatives, in one run.

Run every benchmark from the repository root::

    python -m bench                 # full size, a few minutes
    python -m bench --quick         # tiny sizes, a few seconds (the test suite runs this)
    python -m bench --only stores   # or simulation, memory, notebooks (repeatable)
    python -m bench --only simulation --baseline ../older-checkout   # the big run against an older commit

Every figure is a median over several repetitions, and every comparison is
measured in the same run, right next to its subject (in the same process,
except the big run, whose every repetition gets a fresh one on both sides,
and the parallel sweep's workers), with the repetitions interleaved (A, B, C, then B, C, A, ...) so that a machine that
slows down or speeds up during the run affects all contenders alike. Ratios
are therefore meaningful even on a busy machine; absolute figures are not
comparable between machines (the header says which machine produced them).

Benchmarks are never timed tests: they print, they do not assert on speed
(they do assert that what they compare agrees, e.g. that ``sweep(jobs=2)``
returns the sequential sweep's frame). The optional comparison libraries
(``simpy``, ``eventsourcing``, ``looptime``: the ``bench`` extra) are measured
when installed and reported as skipped when not.
"""
