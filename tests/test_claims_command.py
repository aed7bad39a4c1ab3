"""The claims command: one row per claim, exit status, held-out seeds no notebook uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import aether.claims.catalog as catalog
from aether.claims import HELD_OUT_SEEDS, Claim, Range, at_least, committed_share, contention_arm
from aether.claims.__main__ import main, parse_seeds
from aether.experiment.profiles import LAPTOP_SQLITE
from aether.patterns import jitter_retry, no_retry

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def commits_everything() -> Claim:
    return Claim(chapter=3, id="jitter-commits", statement="full jitter commits every save",
                 subject=contention_arm("full jitter", jitter_retry), metric=committed_share(),
                 relation=at_least(1.0), domain={"writers": Range(2, 5, integer=True, unit="writers")},
                 profile=LAPTOP_SQLITE)


def no_retry_commits_everything() -> Claim:
    return Claim(chapter=0, id="no-retry-commits", statement="no retry commits every save",
                 subject=contention_arm("no retry", no_retry), metric=committed_share(),
                 relation=at_least(1.0), domain={"writers": Range(10, 10, integer=True, unit="writers")},
                 profile=LAPTOP_SQLITE.with_hop(LAPTOP_SQLITE.hop.__class__(0.001), reason="a race window"))


@pytest.fixture
def fake_catalog(monkeypatch):
    chosen: list[Claim] = []

    def claims(chapter=None):
        return [c for c in chosen if chapter is None or c.chapter == chapter]

    monkeypatch.setattr(catalog, "claims", claims)
    return chosen


def test_the_command_exits_zero_when_every_claim_holds_and_prints_a_row_each(fake_catalog, capsys):
    fake_catalog.append(commits_everything())
    assert main(["check", "--quiet", "--perturb", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^03\s+jitter-commits\s+60/60\s+\[0\.94, 1\.00\]\s+2-5 writers\s+laptop SQLite\s+holds", out,
                     re.MULTILINE)
    assert re.search(r"1 of 1 claims hold; wall time \d+\.\d s", out)


def test_the_command_exits_one_and_names_the_seeds_when_a_claim_fails(fake_catalog, capsys):
    fake_catalog += [commits_everything(), no_retry_commits_everything()]
    assert main(["check", "--quiet", "--seeds", "10000-10009"]) == 1
    out = capsys.readouterr().out
    assert "ch00/no-retry-commits is false at writers=10" in out and "seed 10000 (no retry" in out
    assert "0 of 2 claims hold" in out  # ten seeds cannot prove even the true one: fragile


def test_the_command_checks_one_chapter(fake_catalog, capsys):
    fake_catalog += [commits_everything(), no_retry_commits_everything()]
    assert main(["check", "--quiet", "--chapter", "3"]) == 0
    assert "no-retry-commits" not in capsys.readouterr().out


def test_the_command_reports_progress_and_the_plan_on_stderr(fake_catalog, capsys):
    fake_catalog.append(commits_everything())
    main(["check", "--seeds", "10000-10001"])
    err = capsys.readouterr().err
    assert "checking 1 claims on seeds 10000-10001 (2 seeds)" in err


@pytest.mark.parametrize("text", ["5-2", "a-b", "1-2-3", "-4"])
def test_a_bad_seed_range_is_a_usage_error(text, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["check", "--seeds", text])
    assert stop.value.code == 2


def test_seed_ranges_are_inclusive():
    assert parse_seeds("10000-10029") == HELD_OUT_SEEDS and parse_seeds("7") == range(7, 8)


def test_list_prints_the_catalog_without_running_it(capsys):
    assert main(["list", "--chapter", "3"]) == 0
    assert "ch03/full-jitter-less-work" in capsys.readouterr().out


def test_every_catalog_claim_has_a_unique_key_and_its_chapters_number():
    claims = catalog.claims()
    keys = [c.key for c in claims]
    assert len(keys) == len(set(keys))
    for n in catalog.CHAPTERS:
        assert all(c.chapter == n for c in catalog.claims(n)) and catalog.claims(n)


def _integers(source: str) -> list[int]:
    return [int(m.replace("_", "")) for m in re.findall(r"(?<![\w.])\d[\d_]*(?![\w.])", source)]


def _ranges(source: str) -> list[range]:
    found = []
    for a, b in re.findall(r"range\(\s*([\d_]+)\s*,\s*([\d_]+)", source):
        found.append(range(int(a.replace("_", "")), int(b.replace("_", ""))))
    return found


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_no_notebook_uses_a_held_out_seed(path):
    held = set(HELD_OUT_SEEDS)
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert not held & set(_integers(source)), f"{path.name} uses a held-out seed"
    for r in _ranges(source):
        assert not held & set(r), f"{path.name} runs seeds {r}, which overlap the held-out {HELD_OUT_SEEDS}"


def test_a_claim_is_found_by_its_key():
    from aether.claims.catalog import claim, claims

    first = claims(0)[0]
    assert claim(first.key) is first


@pytest.mark.parametrize("key", ["ch00/no-such-claim", "ch99/anything", "chapter-0/x", "ch00"])
def test_an_unknown_or_malformed_key_is_refused_with_what_exists(key):
    from aether.claims.catalog import claim

    with pytest.raises(ValueError, match="ch00/|chNN"):
        claim(key)
