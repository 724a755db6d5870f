"""The cache of users' current lists: bounded, least recently used out, never
keeps an answer given without Qdrant."""

from __future__ import annotations

import pytest

from api.scout.recommender import Ranked, RankedList
from api.scout.routes import CurrentLists

pytestmark = pytest.mark.unit


def ranked(position: int, degraded: bool = False) -> RankedList:
    return RankedList(items=[Ranked(position, 1.0, [])], degraded=degraded)


def test_keeps_the_most_recently_used_lists() -> None:
    lists = CurrentLists(size=2)
    lists.put(("a",), ranked(1))
    lists.put(("b",), ranked(2))
    assert lists.get(("a",)) == ranked(1)  # "a" is now the most recent

    lists.put(("c",), ranked(3))

    assert lists.get(("b",)) is None
    assert lists.get(("a",)) == ranked(1)
    assert lists.get(("c",)) == ranked(3)


def test_never_keeps_a_degraded_list() -> None:
    lists = CurrentLists()

    lists.put(("a",), ranked(1, degraded=True))

    assert lists.get(("a",)) is None


def test_clear_forgets_everything() -> None:
    lists = CurrentLists()
    lists.put(("a",), ranked(1))

    lists.clear()

    assert lists.get(("a",)) is None
