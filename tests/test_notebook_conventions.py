"""Two conventions of the chapters, checked by reading their code cells with ``ast``.

1. **Store speeds come from profiles.** A chapter gets its store's capacity and
   network from :mod:`aether.experiment.profiles` (``LAPTOP_SQLITE``,
   ``SQLITE_FSYNC``, ``SERVER_DB``, ``profile(name)``, scaled with
   ``.scaled(factor, reason=...)`` or moved with ``.with_hop(delay, reason=...)``),
   never from numbers it makes up. :func:`bare_speeds` reports, per code cell:

   * ``capacity-from-numbers``: ``Capacity(...)`` whose ``service`` or ``workers``
     is a number, or a delay built from numbers (``Exponential(0.004)``), or a
     name the notebook binds to one;
   * ``network-from-numbers``: ``NetworkModel(...)`` whose ``hop`` is such a value;
   * ``network-default-hop``: ``NetworkModel(...)`` with no ``hop`` at all, which
     takes the package's made-up default (``|N(10 ms, 2 ms)|``), not a profile's;
   * ``speed-from-numbers``: any other call given ``service=`` or ``hop=`` from
     numbers (a calibration's ``network(hop=0.002)``, a sweep's ``service=``),
     except a profile's ``with_hop``, which states its reason.

   Settings that are not a store's speed (``timeout``, ``think_time``,
   ``outages``, ``failure_rate``, a pattern's ``workers``) may be numbers.

2. **Exercise checks never reveal the answer.** In the attendee copy
   (:func:`labtools.notebooks.student_copy`: solution cells removed), a *check
   cell* is the code cell that followed a solution, or any code cell that
   asserts on or compares an ``answer_*`` name or passes one to ``check``.
   :func:`leaky_checks` reports:

   * ``answer-equals-literal``: the answer (or a value read from it: ``answer_1["full"]``,
     ``set(answer_3)``, ``min(answer_1)``) compared for equality with a literal
     (``answer_1 == 4``, ``answer_2 == ("hopeless", 1)``, ``abs(answer_2 - 0.625) < 1e-9``,
     ``np.isclose(answer_1, 0.02)``; ``math.inf`` counts as a literal);
   * ``answer-bounded-by-literal``: the same, ordered (``45 <= answer_2 <= 60``);
   * ``answer-by-hash``: a call ``check(..., expected_hash=...)``: the hash of a
     short answer (a count, a rounded number) is found by hashing candidates
     (0, 1, 2, ...) until one matches, so it reveals the answer as a literal does;
   * ``prints-explanation``: after the cell's first check, a ``print`` whose
     own text says more than the verdict ("Exercise 2: correct") in at least
     :data:`PROSE_WORDS` words: the explanation the question asks the attendee for.

   ``len(answer)`` is shape, not value, and is not counted; a comparison with a
   reference computed at run time (``answer_1 < 1.5 * round_trip``) is not a
   literal. :func:`aether.exercises.check` with ``reference=`` (a function of the
   chapter's claims module, ``exercise_reference``, that computes the answer at
   run time) is the way to write a check that passes.

The chapters are rebuilt separately to follow both conventions, so
:data:`NOT_YET_REBUILT` lists, per notebook and cell, the violations the
detectors find in today's chapters. The tests fail on a violation missing from
that list and on a listed one that is gone: the list only shrinks, and the
rebuild empties it (cell numbers are positions in the committed notebook,
counting markdown cells, from 0).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from test_notebooks import NOTEBOOKS
from test_notebooks import _load as _read

from labtools.notebooks import SOLUTION_TAG, student_copy

#: The violations in the chapters as they are today, ``"<notebook> cell <n>: <rule>"``, as the detectors
#: below found them (the comment shows the code). Rebuilding a chapter removes its lines; nothing is added.
NOT_YET_REBUILT: frozenset[str] = frozenset({

})

SPEED_RULES = ("capacity-from-numbers", "network-from-numbers", "network-default-hop", "speed-from-numbers")
CHECK_RULES = ("answer-equals-literal", "answer-bounded-by-literal", "answer-by-hash", "prints-explanation")

#: Constructors of :mod:`aether.experiment.delays` (and the profiles' ``Scaled``): called with numbers, a made-up speed.
DELAYS = frozenset({"Constant", "Exponential", "AbsNormal", "Uniform", "Scaled"})
#: An attendee's answer variable.
ANSWER = re.compile(r"answer(_\w+)?")
#: Builtins whose result is the answer's value seen another way (``len`` is left out: it is shape).
VIEWS = frozenset({"abs", "round", "float", "int", "str", "bool", "set", "frozenset", "sorted", "list", "tuple",
                   "dict", "min", "max", "sum"})
#: Builtins that turn literals into literals (``float("inf")``, ``range(3)``).
PURE = frozenset({"float", "int", "str", "bool", "set", "frozenset", "tuple", "list", "dict", "range", "abs",
                  "round", "sorted", "min", "max", "sum"})
#: Functions that compare two values for equality within a tolerance.
CLOSE = frozenset({"isclose", "allclose", "array_equal", "approx"})
#: A print with at least this many words of its own beyond the verdict explains the answer.
PROSE_WORDS = 4
VERDICT = re.compile(r"^\W*exercise\s*\d+\s*:?\s*(correct|right|wrong|not yet)\b\W*", re.I)
EQUALITY = (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)


# --- reading cells ---------------------------------------------------------------------------------------------


def _parse(source: str) -> ast.Module:
    """A code cell as Python, with IPython's ``%magic`` and ``!shell`` lines left out."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def _code_cells(nb: Any) -> Iterator[tuple[int, ast.Module]]:
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            yield index, _parse(cell.source)


def _name(func: ast.expr) -> str:
    """The called name: ``Capacity`` for ``Capacity(...)`` and ``experiment.Capacity(...)``."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


# --- rule 1: store speeds come from profiles -------------------------------------------------------------------


class _Bindings:
    """What each name is bound to anywhere in a notebook: ``X = ...``, ``A, B = ..., ...``, ``for X in ...``."""

    def __init__(self, trees: list[ast.Module]) -> None:
        self.values: dict[str, list[ast.expr]] = {}
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        self._bind(target, node.value)
                elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None:
                    self._bind(node.target, node.value)
                elif isinstance(node, (ast.For, ast.comprehension)):
                    self._bind(node.target, node.iter)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.values.setdefault(target.id, []).append(value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                for part, part_value in zip(target.elts, value.elts, strict=True):
                    self._bind(part, part_value)

    def bare(self, node: ast.expr | None, seen: frozenset[str] = frozenset()) -> bool:
        """Whether *node* is a speed made of numbers: a number, a delay of numbers, or a name bound to one."""
        if node is None:
            return False
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        if isinstance(node, ast.Name):
            if node.id in seen:
                return False
            return any(self.bare(value, seen | {node.id}) for value in self.values.get(node.id, []))
        if isinstance(node, ast.Call) and _name(node.func) in DELAYS:
            parts = [*node.args, *(k.value for k in node.keywords)]
            return not parts or any(self.bare(part, seen) for part in parts)  # no arguments: the default's numbers
        if isinstance(node, ast.Dict):
            return any(self.bare(value, seen) for value in node.values)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(self.bare(item, seen) for item in node.elts)
        if isinstance(node, ast.IfExp):
            return self.bare(node.body, seen) or self.bare(node.orelse, seen)
        if isinstance(node, ast.BinOp):
            return self.bare(node.left, seen) or self.bare(node.right, seen)
        if isinstance(node, ast.UnaryOp):
            return self.bare(node.operand, seen)
        return False


def _argument(call: ast.Call, keyword: str, position: int | None = None) -> ast.expr | None:
    for given in call.keywords:
        if given.arg == keyword:
            return given.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def _has_argument(call: ast.Call, keyword: str, position: int) -> bool:
    return _argument(call, keyword, position) is not None or any(k.arg is None for k in call.keywords)


def bare_speeds(nb: Any) -> list[tuple[int, str, str]]:
    """``(cell, rule, code)`` for each call in *nb* that gives a store a speed made of numbers (rule 1)."""
    cells = list(_code_cells(nb))
    bindings = _Bindings([tree for _, tree in cells])
    found: list[tuple[int, str, str]] = []
    for index, tree in cells:
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            called, code = _name(call.func), ast.unparse(call)
            if called == "Capacity":
                if bindings.bare(_argument(call, "service")) or bindings.bare(_argument(call, "workers")):
                    found.append((index, "capacity-from-numbers", code))
            elif called == "NetworkModel":
                if not _has_argument(call, "hop", 0):
                    found.append((index, "network-default-hop", code))
                elif bindings.bare(_argument(call, "hop", 0)):
                    found.append((index, "network-from-numbers", code))
            elif called != "with_hop" and (bindings.bare(_argument(call, "service"))
                                           or bindings.bare(_argument(call, "hop"))):
                found.append((index, "speed-from-numbers", code))
    return found


# --- rule 2: exercise checks never reveal the answer ------------------------------------------------------------


def _mentions_answer(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and ANSWER.fullmatch(n.id) for n in ast.walk(node))


def _from_answer(node: ast.expr) -> bool:
    """Whether *node*'s value is the answer's, or read from it (an item, an attribute, a builtin view, arithmetic)."""
    if isinstance(node, ast.Name):
        return ANSWER.fullmatch(node.id) is not None
    if isinstance(node, (ast.Attribute, ast.Subscript)):
        return _from_answer(node.value)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return node.func.id in VIEWS and any(_from_answer(arg) for arg in node.args)
        return isinstance(node.func, ast.Attribute) and _from_answer(node.func.value)  # answer_3.round(1)
    if isinstance(node, ast.BinOp):
        return _from_answer(node.left) or _from_answer(node.right)
    if isinstance(node, ast.UnaryOp):
        return _from_answer(node.operand)
    return False


def _literal(node: ast.expr, bound: frozenset[str] = frozenset()) -> bool:
    """Whether *node* is a value written in the code: constants, containers and comprehensions of them."""
    if isinstance(node, ast.Constant):
        return node.value is not None
    if isinstance(node, ast.Attribute):
        return node.attr in {"inf", "nan"} and isinstance(node.value, ast.Name)  # math.inf, np.nan
    if isinstance(node, ast.Name):
        return node.id in bound
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_literal(item, bound) for item in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _literal(k, bound) for k in node.keys) and all(
            _literal(v, bound) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _literal(node.left, bound) and _literal(node.right, bound)
    if isinstance(node, ast.UnaryOp):
        return _literal(node.operand, bound)
    if isinstance(node, ast.Call):
        return (isinstance(node.func, ast.Name) and node.func.id in PURE and not node.keywords
                and all(_literal(arg, bound) for arg in node.args))
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        inner = bound
        for generator in node.generators:
            if not _literal(generator.iter, inner):
                return False
            inner = inner | {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
            if not all(_literal(condition, inner) for condition in generator.ifs):
                return False
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        return all(_literal(part, inner) for part in parts)
    return False


def _difference(node: ast.expr) -> ast.expr | None:
    """For ``abs(answer - x)`` or ``answer - x`` (either way round): ``x``; else ``None``."""
    if isinstance(node, ast.Call) and _name(node.func) == "abs" and len(node.args) == 1:
        node = node.args[0]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
        if _from_answer(node.left) and not _from_answer(node.right):
            return node.right
        if _from_answer(node.right) and not _from_answer(node.left):
            return node.left
    return None


def _literal_comparisons(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """``(rule, code)`` for each comparison in *tree* of the answer with a literal."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            rules = set()
            operands = [node.left, *node.comparators]
            for left, op, right in zip(operands, node.ops, operands[1:], strict=False):
                for side, other in ((left, right), (right, left)):
                    reference = _difference(side)
                    if reference is not None:
                        if _literal(reference):  # abs(answer - 0.625) < tolerance
                            rules.add("answer-equals-literal")
                        break
                    if _from_answer(side) and _literal(other):
                        rules.add("answer-equals-literal" if isinstance(op, EQUALITY) else "answer-bounded-by-literal")
                        break
            for rule in sorted(rules, reverse=True):  # one finding per rule and comparison
                yield rule, ast.unparse(node)
        elif isinstance(node, ast.Call) and _name(node.func) in CLOSE:
            if any(_from_answer(a) for a in node.args) and any(_literal(a) for a in node.args):
                yield "answer-equals-literal", ast.unparse(node)


def _checks_answer(node: ast.AST) -> bool:
    """Whether *node* is a call ``check(...)`` (or ``exercises.check(...)``) given an ``answer_*`` value."""
    return (isinstance(node, ast.Call) and _name(node.func) == "check"
            and any(_from_answer(arg) for arg in [*node.args, *(k.value for k in node.keywords)]))


def _hashed_answers(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """``("answer-by-hash", code)`` for each ``check(..., expected_hash=...)`` in *tree*."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and _name(node.func) == "check"
                and any(k.arg == "expected_hash" for k in node.keywords)):
            yield "answer-by-hash", ast.unparse(node)


def _is_check_statement(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Assert):
        return True
    return any(isinstance(n, ast.Compare) and _mentions_answer(n) for n in ast.walk(statement))


def _own_words(call: ast.Call) -> int:
    """The words a ``print`` writes from its own text (not from the values it formats), beyond a verdict."""
    parts: list[str] = []
    for arg in call.args:
        pieces = arg.values if isinstance(arg, ast.JoinedStr) else [arg]
        parts += [p.value for p in pieces if isinstance(p, ast.Constant) and isinstance(p.value, str)]
        parts.append(" ")
    text = VERDICT.sub("", "".join(parts).strip())
    return len(re.findall(r"[A-Za-z]{2,}", text))


def _explanations(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """``("prints-explanation", code)`` for each wordy ``print`` after the cell's first check."""
    checks = [i for i, statement in enumerate(tree.body) if _is_check_statement(statement)]
    start = checks[0] + 1 if checks else 0
    for statement in tree.body[start:]:
        for node in ast.walk(statement):
            if isinstance(node, ast.Call) and _name(node.func) == "print" and _own_words(node) >= PROSE_WORDS:
                yield "prints-explanation", ast.unparse(node)


def check_cells(nb: Any) -> list[tuple[int, ast.Module]]:
    """The attendee copy's check cells, each with its position in *nb* (the notebook with its solutions)."""
    copy, _ = student_copy(nb)
    solutions = {i for i, cell in enumerate(nb.cells) if SOLUTION_TAG in cell.metadata.get("tags", [])}
    kept = [i for i in range(len(nb.cells)) if i not in solutions]  # the copy's cells, in order
    assert len(kept) == len(copy.cells), "the attendee copy removes the solution cells and nothing else"
    found = []
    for index, cell in zip(kept, copy.cells, strict=True):
        if cell.cell_type != "code":
            continue
        tree = _parse(cell.source)
        after_solution = index - 1 in solutions
        compares_answer = any((isinstance(n, (ast.Assert, ast.Compare)) and _mentions_answer(n)) or _checks_answer(n)
                              for n in ast.walk(tree))
        if after_solution or compares_answer:
            found.append((index, tree))
    return found


def leaky_checks(nb: Any) -> list[tuple[int, str, str]]:
    """``(cell, rule, code)`` for each way a check cell of *nb*'s attendee copy gives the answer away (rule 2)."""
    found = []
    for index, tree in check_cells(nb):
        found += [(index, rule, code) for rule, code in _literal_comparisons(tree)]
        found += [(index, rule, code) for rule, code in _hashed_answers(tree)]
        found += [(index, rule, code) for rule, code in _explanations(tree)]
    return found


# --- the chapters ----------------------------------------------------------------------------------------------


def _entries(path: Path, findings: list[tuple[int, str, str]]) -> set[str]:
    return {f"{path.stem} cell {index}: {rule}" for index, rule, _ in findings}


def _listed(path: Path, rules: tuple[str, ...]) -> set[str]:
    return {e for e in NOT_YET_REBUILT if e.startswith(f"{path.stem} cell ") and e.rsplit(": ", 1)[1] in rules}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
class TestEachChapter:
    def test_takes_no_store_speed_from_bare_numbers_beyond_the_listed_ones(self, path: Path) -> None:
        findings = bare_speeds(_read(path))
        new = sorted(_entries(path, findings) - _listed(path, SPEED_RULES))
        detail = [f"cell {i}: {rule}: {code}" for i, rule, code in findings if f"{path.stem} cell {i}: {rule}" in new]
        assert not new, "use a profile (aether.experiment.profiles), scaled with a reason:\n" + "\n".join(detail)

    def test_still_has_each_listed_bare_speed_until_it_is_rebuilt(self, path: Path) -> None:
        gone = sorted(_listed(path, SPEED_RULES) - _entries(path, bare_speeds(_read(path))))
        assert not gone, f"fixed: remove from NOT_YET_REBUILT: {gone}"

    def test_reveals_no_answer_in_its_attendee_checks_beyond_the_listed_ones(self, path: Path) -> None:
        findings = leaky_checks(_read(path))
        new = sorted(_entries(path, findings) - _listed(path, CHECK_RULES))
        detail = [f"cell {i}: {rule}: {code}" for i, rule, code in findings if f"{path.stem} cell {i}: {rule}" in new]
        assert not new, "check with aether.exercises.check(..., reference=...):\n" + "\n".join(detail)

    def test_still_has_each_listed_leaky_check_until_it_is_rebuilt(self, path: Path) -> None:
        gone = sorted(_listed(path, CHECK_RULES) - _entries(path, leaky_checks(_read(path))))
        assert not gone, f"fixed: remove from NOT_YET_REBUILT: {gone}"


def test_every_listed_violation_names_a_chapter_and_a_rule() -> None:
    stems = {p.stem for p in NOTEBOOKS}
    for entry in NOT_YET_REBUILT:
        match = re.fullmatch(r"(\w+) cell (\d+): ([a-z-]+)", entry)
        assert match, entry
        assert match.group(1) in stems and match.group(3) in SPEED_RULES + CHECK_RULES, entry


# --- the detectors on made-up notebooks ------------------------------------------------------------------------

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def _notebook(*cells: Any) -> Any:
    return nbformat.v4.new_notebook(cells=list(cells))


def test_store_speeds_made_of_numbers_are_found_where_they_are_built() -> None:
    nb = _notebook(
        md("# A chapter"),
        code("%matplotlib inline\nSERVICE = {'read': Exponential(0.001), 'write': Exponential(0.004)}"),
        code("capacity = Capacity(service=SERVICE)\nfast = NetworkModel(hop=Constant(0.002), timeout=0.25)"),
        code("for service in (0.001, 0.002):\n    run(capacity=Capacity(workers=calibration.workers, "
             "service=Constant(service)))"),
        code("down = NetworkModel(outages=[Outage(1.0, 2.0)])\nslow = Capacity(workers=4, service=cal.service)"),
        code("durable = cal.network(hop=0.002)"),
    )
    assert [(i, rule) for i, rule, _ in bare_speeds(nb)] == [
        (2, "capacity-from-numbers"), (2, "network-from-numbers"), (3, "capacity-from-numbers"),
        (4, "network-default-hop"), (4, "capacity-from-numbers"), (5, "speed-from-numbers"),
    ]


def test_store_speeds_from_profiles_and_chapter_settings_in_numbers_are_not_violations() -> None:
    nb = _notebook(
        md("# A chapter"),
        code("from aether.experiment.profiles import LAPTOP_SQLITE, SERVER_DB, profile\nTHINK = 0.004"),
        code("shared = LAPTOP_SQLITE.scaled(100, reason='a shared server at 100x the laptop')\n"
             "run(capacity=shared.capacity(faults=[Slowdown(3, 4, 4)]), "
             "network=shared.network(timeout=0.25, think_time=Constant(THINK), outages=[Outage(1.0, 2.0)]))"),
        code("far = profile('laptop SQLite').with_hop(hop=Constant(0.002), reason='a 2 ms network')\n"
             "store = far.capacity(queue_limit=10)\npattern = QueuedWrites(workers=4)"),
        code("NetworkModel(hop=SERVER_DB.hop)\nCapacity(workers=SERVER_DB.workers, service=calibration.service)"),
    )
    assert bare_speeds(nb) == []


def _exercise(check: str) -> Any:
    solution = code("answer_1 = 4\nanswer_2 = 52.0", metadata={"tags": ["solution"]})
    return _notebook(md("# A chapter\n\nIs it 5?"), solution, code(check))


def test_an_attendee_check_with_the_expected_value_in_it_is_found() -> None:
    nb = _exercise("assert answer_1 == 4, 'count the writes'\nassert 45 <= answer_2 <= 60\n"
                   "assert abs(answer_2 - 52.0) < 1e-9\nassert set(answer_3) == {1}\n"
                   "assert min(answer_1) == math.inf\n"
                   "print('Exercise 1: correct: 4, not 5. The verdict comes first; tolerance costs writes.')")
    assert [rule for _, rule, _ in leaky_checks(nb)] == [
        "answer-equals-literal", "answer-bounded-by-literal", "answer-equals-literal", "answer-equals-literal",
        "answer-equals-literal", "prints-explanation",
    ]
    assert {i for i, _, _ in leaky_checks(nb)} == {2}, "reported at the check cell's place in the chapter"


def test_a_comparison_with_an_expected_value_outside_the_cell_after_the_solution_is_found() -> None:
    nb = _notebook(md("# A chapter"), code("answer_1 = 4"), md("Now run the check."),
                   code("assert answer_1 in {4, 5}"))
    assert [(i, rule) for i, rule, _ in leaky_checks(nb)] == [(3, "answer-equals-literal")]


def test_an_attendee_check_against_a_run_time_reference_is_not_a_violation() -> None:
    nb = _exercise("check(answer_1, reference=lambda: mean_calls_per_save(runs), hint='count reads and writes')\n"
                   "check(answer_2, reference=lambda: exercise_reference(2), digits=0, hint='the smallest limit')\n"
                   "assert len(answer_3) == 3 and answer_3 == aws_shares\n"
                   "assert round_trip * 0.9 < answer_4 < 1.5 * round_trip\n"
                   "assert abs(answer_5['full'] - table.loc['full', 'work']) < 1e-9\n"
                   "assert p95_by_limit[answer_6] <= 0.5\n"
                   "print('Exercise 1: correct.')")
    assert leaky_checks(nb) == []


def test_a_literal_in_the_solution_itself_is_not_in_the_attendee_copy() -> None:
    nb = _exercise("print(check(answer_1, reference=lambda: count_writes(), hint='count the writes'))")
    assert [i for i, _ in check_cells(nb)] == [2]
    assert leaky_checks(nb) == []


def test_an_attendee_check_against_a_stored_hash_is_found() -> None:
    nb = _exercise("check(answer_1, expected_hash='sha256:d4735e3a', name='Exercise 1', hint='count units')\n"
                   "assert exercises.check(answer_2, digits=1, expected_hash=EXPECTED_2)")
    assert [(i, rule) for i, rule, _ in leaky_checks(nb)] == [(2, "answer-by-hash"), (2, "answer-by-hash")]


def test_a_hashed_check_before_its_solution_is_found_too() -> None:
    nb = _notebook(md("# A chapter"),
                   code("answer_1 = None  # your answer\ncheck(answer_1, expected_hash=EXPECTED_1, name='exercise 1')"),
                   code("answer_1 = 46", metadata={"tags": ["solution"]}), md("Next."))
    assert [(i, rule) for i, rule, _ in leaky_checks(nb)] == [(1, "answer-by-hash")]
