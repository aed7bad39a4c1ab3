"""The check after every run: the store holds exactly the committed saves, gapless."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aether.checks import check_instance, check_items, check_methods, show
from aether.errors import AetherError

__all__ = ["ExperimentInvariantError", "verify_store"]


class ExperimentInvariantError(AetherError, AssertionError):
    """After a run, the store does not hold exactly the committed saves, gapless.

    Raised by :func:`verify_store` (and so by every :func:`~aether.experiment.run_contention`):
    a lost save, a duplicate, a gap or an event nobody committed means a store
    or a pattern is broken, and no figure drawn from that run could be trusted.
    """


def _strings(name: str, values: object, what: str) -> list[str]:
    items = check_items(name, values, what)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be a str; got {show(item)} ({type(item).__name__})")
    return items  # type: ignore[return-value]


def verify_store(store: Any, committed: Iterable[tuple[str, str, int]], baseline: Mapping[str, int],
                 actors: Iterable[str], *, unacknowledged: Iterable[str] = ()) -> None:
    """Check that *store* holds exactly the *committed* ``(actor_id, event_id, version)`` saves.

    For every actor: versions are gapless from 1, each committed save is
    stored exactly once at the version it reported, and no event was written
    after ``baseline[actor]`` that nobody committed. *unacknowledged* names
    event ids that may or may not be stored (a write whose caller timed out
    runs at the store all the same): if stored they count once, if not they
    are not lost. Raises :class:`ExperimentInvariantError` with what is wrong.
    """
    check_methods("store", store, ("get_events",), "an EventStore")
    check_instance("baseline", baseline, Mapping, "a mapping of actor id to version")
    by_actor: dict[str, list[tuple[str, int]]] = {}
    for i, item in enumerate(check_items("committed", committed, "an iterable of (actor_id, event_id, version)")):
        if not (isinstance(item, tuple) and len(item) == 3 and isinstance(item[0], str)):
            raise TypeError(f"committed[{i}] must be an (actor_id, event_id, version) tuple; got {show(item)} "
                            f"({type(item).__name__})")
        actor_id, event_id, version = item
        by_actor.setdefault(actor_id, []).append((event_id, version))
    maybe = set(_strings("unacknowledged", unacknowledged, "an iterable of event ids"))
    problems: list[str] = []
    for actor in sorted(set(_strings("actors", actors, "an iterable of actor ids")) | set(by_actor)):
        events = store.get_events(actor)
        versions = [e.version for e in events]
        if versions != list(range(1, len(versions) + 1)):
            problems.append(f"actor {actor!r}: versions are not gapless 1..{len(versions)}: {versions[:20]}")
        new = {e.id: e.version for e in events if e.version > baseline.get(actor, 0)}
        expected = by_actor.get(actor, [])
        ids = [eid for eid, _ in expected]
        if len(set(ids)) != len(ids):
            problems.append(f"actor {actor!r}: the same event was reported committed twice")
        for event_id, version in expected:
            stored = new.get(event_id)
            if stored is None:
                problems.append(f"actor {actor!r}: committed event {event_id} (version {version}) is not in the store")
            elif stored != version:
                problems.append(f"actor {actor!r}: event {event_id} reported at version {version}, stored at {stored}")
        extra = set(new) - set(ids) - maybe
        if extra:
            problems.append(f"actor {actor!r}: {len(extra)} stored event(s) that no writer committed")
    if problems:
        raise ExperimentInvariantError("store check failed after the run: " + "; ".join(problems[:10]))
