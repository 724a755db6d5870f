"""Request and response bodies of the Scout API (self-describing for the workbench)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Strategy = Literal["average_vector", "best_score", "sum_scores"]
ItemId = str


class ItemOut(BaseModel):
    """A catalogue item as an analyst reads it."""

    item_id: str
    title: str
    category: str
    brand: str
    price: float
    currency: str
    popularity: int = Field(description="Users who interacted with it in training.")


class ItemDetailOut(ItemOut):
    description: str


class Contribution(BaseModel):
    """A history item and how much it pulled a recommendation up."""

    item_id: str
    title: str
    contribution: float
    liked: bool = False


class RecommendedItem(ItemOut):
    rank: int
    score: float
    because: list[Contribution] = Field(
        description="History items that contributed most (empty for fallbacks)."
    )


class FiltersOut(BaseModel):
    category: str | None
    min_price: float | None
    max_price: float | None
    exclude_seen: bool


class RecommendationsOut(BaseModel):
    user_id: str | None
    k: int
    strategy: Strategy
    diversity: float
    fallback: bool = Field(description="True when popular items stand in.")
    degraded: bool = Field(description="True when Qdrant could not be queried.")
    reason: str | None = Field(description="Why a fallback was used, if it was.")
    filters: FiltersOut
    model_version: str
    items: list[RecommendedItem]


class WhatIfRequest(BaseModel):
    """A user's history edited, and how to rank from it."""

    model_config = ConfigDict(extra="forbid")

    user_id: str | None = Field(
        None, description="Start from this user's history; null starts from nothing."
    )
    add: list[ItemId] = Field(default_factory=list, max_length=200)
    remove: list[ItemId] = Field(default_factory=list, max_length=200)
    liked: list[ItemId] = Field(
        default_factory=list,
        max_length=200,
        description="Explicit likes: each weighs a quarter of the rest of the "
        "history (at least twice a purchase).",
    )
    disliked: list[ItemId] = Field(default_factory=list, max_length=200)
    strategy: Strategy = "average_vector"
    diversity: float = Field(
        0.0, ge=0.0, le=1.0, description="0 = pure relevance; MMR lambda = 1 - this."
    )
    k: int = Field(10, ge=1, le=100)
    category: str | None = None
    min_price: float | None = Field(None, ge=0)
    max_price: float | None = Field(None, ge=0)
    exclude_seen: bool = True
    dislike_neighbours: int = Field(
        10,
        ge=0,
        le=100,
        description="Also hide this many nearest neighbours of each disliked item.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> WhatIfRequest:
        both = sorted(set(self.liked) & set(self.disliked))
        if both:
            raise ValueError(f"item(s) {both} are both liked and disliked")
        if (
            self.min_price is not None
            and self.max_price is not None
            and self.min_price > self.max_price
        ):
            raise ValueError("min_price is above max_price")
        return self


class RankChange(BaseModel):
    item_id: str
    title: str
    before: int | None = Field(description="Rank in the current list (1-based).")
    after: int | None = Field(description="Rank in the what-if list (1-based).")


class ListDiff(BaseModel):
    """How the what-if list differs from the user's current list."""

    entered: list[RankChange]
    left: list[RankChange]
    moved: list[RankChange]
    unchanged: list[RankChange]
    overlap_at_k: float = Field(description="Share of the k items in both lists.")


class HistoryChange(BaseModel):
    items_before: int
    items_after: int
    added: list[str]
    removed: list[str]
    liked: list[str]
    disliked: list[str]
    hidden_neighbours: list[str] = Field(
        description="Near neighbours of disliked items kept out of the list."
    )


class WhatIfOut(BaseModel):
    recommendations: RecommendationsOut
    current: RecommendationsOut = Field(
        description="The list the user gets today (GET recommendations, same k and "
        "filters, default strategy, no diversity)."
    )
    diff: ListDiff
    history: HistoryChange


class SimilarOut(BaseModel):
    item: ItemOut
    by: Literal["collab", "text"]
    items: list[RecommendedItem]


class SearchOut(BaseModel):
    query: str
    known_terms: list[str] = Field(
        description="Words of the query the encoder knows; others carry no meaning."
    )
    note: str | None
    items: list[RecommendedItem]


class HistoryItem(ItemOut):
    views: int
    clicks: int
    purchases: int
    last_seen: str


class CategoryShare(BaseModel):
    category: str
    share: float


class BrandCount(BaseModel):
    brand: str
    items: int


class PriceSummary(BaseModel):
    median: float
    p10: float
    p90: float
    currency: str


class TasteSummary(BaseModel):
    categories: list[CategoryShare]
    brands: list[BrandCount]
    price: PriceSummary


class UserOut(BaseModel):
    user_id: str
    items: int
    views: int
    clicks: int
    purchases: int
    last_seen: str
    taste: TasteSummary
    history: list[HistoryItem] = Field(description="Most recent first.")


class UserSummary(BaseModel):
    user_id: str
    items: int
    views: int
    clicks: int
    purchases: int
    last_seen: str


class UsersOut(BaseModel):
    total: int
    offset: int
    users: list[UserSummary]


class ModelOut(BaseModel):
    name: str
    alias: str
    version: str
    run_id: str | None
    source: str
    method: str
    trained_at: str
    items: int
    users: int
    interactions: int
    collab_dims: int
    text_dims: int
    text_encoder: str
    categories: list[str]
    collection: str
    qdrant_mode: str
    test_metrics: dict[str, dict[str, float]] | None = Field(
        description="Offline metrics on the later time window: model and baselines."
    )
