"""The lab's benchmarks: our code measured side by side with the alternatives, in one run.

Run every benchmark from the repository root::

    python -m bench                 # full size, a few minutes
    python -m bench --quick         # tiny sizes, a few seconds (the test suite runs this)
    python -m bench --only stores   # or simulation, memory, notebooks (repeatable)

Every figure is a median over several repetitions, and every comparison is
measured in the same process, right next to its subject, with the
repetitions interleaved (A, B, C, then B, C, A, ...) so that a machine that
slows down or speeds up during the run affects all contenders alike. Ratios
are therefore meaningful even on a busy machine; absolute figures are not
comparable between machines (the header says which machine produced them).

Benchmarks are never timed tests: they print, they do not assert on speed.
The optional comparison libraries (``simpy``, ``eventsourcing``: the
``bench`` extra) are measured when installed and reported as skipped when not.
"""
