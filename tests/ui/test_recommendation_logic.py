"""The what-if body, the rank marks and the 'because you liked' wording."""

from __future__ import annotations

import pytest

from ui.scout_api import HistoryEdit, because_text, change_marks

pytestmark = pytest.mark.unit


def test_a_history_edit_becomes_the_what_if_body() -> None:
    edit = HistoryEdit(
        "U1",
        add=["I1"],
        remove=["I2"],
        liked=["I3"],
        disliked=["I4"],
        strategy="best_score",
        diversity=0.3,
        k=5,
    )

    assert edit.to_body() == {
        "user_id": "U1",
        "add": ["I1"],
        "remove": ["I2"],
        "liked": ["I3"],
        "disliked": ["I4"],
        "strategy": "best_score",
        "diversity": 0.3,
        "k": 5,
    }
    assert not edit.is_empty
    assert HistoryEdit("U1").is_empty


def test_marks_say_which_items_entered_and_how_far_others_moved() -> None:
    diff = {
        "entered": [{"item_id": "new-one"}],
        "moved": [
            {"item_id": "up", "before": 5, "after": 2},
            {"item_id": "down", "before": 1, "after": 4},
        ],
    }

    assert change_marks(diff) == {"new-one": "new", "up": "↑ 3", "down": "↓ 3"}


def test_because_names_liked_items_first_and_other_history_after() -> None:
    item = {
        "because": [
            {"title": "Trail shoes", "liked": True},
            {"title": "Rain jacket", "liked": False},
            {"title": "Socks", "liked": True},
        ]
    }

    assert because_text(item) == "because you liked Trail shoes; because of Rain jacket"
    assert because_text({"because": []}) == ""
