"""The Scout calls the workbench makes: users, recommendations, what-if, items."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ui.client import ApiClient

STRATEGIES = ("average_vector", "best_score", "sum_scores")
STRATEGY_LABELS = {
    "average_vector": "Average of the history (default)",
    "best_score": "Best match to any history item",
    "sum_scores": "Sum of matches to every history item",
}


@dataclass(frozen=True)
class HistoryEdit:
    """What the analyst changed in a user's history, and how to rank from it."""

    user_id: str | None
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    liked: list[str] = field(default_factory=list)
    disliked: list[str] = field(default_factory=list)
    strategy: str = "average_vector"
    diversity: float = 0.0
    k: int = 10

    def to_body(self) -> dict[str, Any]:
        """The body of POST /v1/recommendations/what-if."""
        return {
            "user_id": self.user_id,
            "add": list(self.add),
            "remove": list(self.remove),
            "liked": list(self.liked),
            "disliked": list(self.disliked),
            "strategy": self.strategy,
            "diversity": self.diversity,
            "k": self.k,
        }

    @property
    def is_empty(self) -> bool:
        return not (self.add or self.remove or self.liked or self.disliked) and (
            self.strategy == "average_vector" and self.diversity == 0.0
        )


class ScoutApi:
    """Thin wrappers; answers are the API's JSON as dicts."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def users(self, limit: int = 200, offset: int = 0) -> dict[str, Any]:
        params = {"limit": limit, "offset": offset}
        return dict(self.client.get("/v1/users", params=params))

    def user(self, user_id: str, history_limit: int = 50) -> dict[str, Any]:
        params = {"history_limit": history_limit}
        return dict(self.client.get(f"/v1/users/{user_id}", params=params))

    def recommendations(self, user_id: str, k: int = 10) -> dict[str, Any]:
        path = f"/v1/users/{user_id}/recommendations"
        return dict(self.client.get(path, params={"k": k}))

    def what_if(self, edit: HistoryEdit) -> dict[str, Any]:
        return dict(
            self.client.post("/v1/recommendations/what-if", json=edit.to_body())
        )

    def similar(self, item_id: str, by: str = "collab", k: int = 10) -> dict[str, Any]:
        path = f"/v1/items/{item_id}/similar"
        return dict(self.client.get(path, params={"by": by, "k": k}))

    def search(self, query: str, k: int = 10) -> dict[str, Any]:
        return dict(self.client.get("/v1/items/search", params={"q": query, "k": k}))

    def model(self) -> dict[str, Any]:
        return dict(self.client.get("/v1/model"))


def because_text(item: dict[str, Any], limit: int = 2) -> str:
    """'because you liked X, Y' from the history items that pulled it up most."""
    reasons = (item.get("because") or [])[:limit]
    liked = [r["title"] for r in reasons if r.get("liked")]
    other = [r["title"] for r in reasons if not r.get("liked")]
    parts = []
    if liked:
        parts.append("because you liked " + ", ".join(liked))
    if other:
        parts.append("because of " + ", ".join(other))
    return "; ".join(parts)


def change_marks(diff: dict[str, Any]) -> dict[str, str]:
    """item id -> 'new', '↑ 3' or '↓ 2' for the what-if list."""
    marks = {c["item_id"]: "new" for c in diff["entered"]}
    for moved in diff["moved"]:
        steps = moved["before"] - moved["after"]
        marks[moved["item_id"]] = f"↑ {steps}" if steps > 0 else f"↓ {-steps}"
    return marks
