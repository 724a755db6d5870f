"""Ranking: a history becomes raw query vectors, Qdrant ranks, we filter and explain.

Strategies (all over the `collab` vectors, which are compared by dot product):
- average_vector: the weighted mean of the positive examples; with negatives, Qdrant's
  rule 2 * mean(positive) - mean(negative). One nearest query.
- sum_scores: sum of weighted dot products with the positives minus those with the
  negatives. For a dot-product space this equals one nearest query with the summed
  vector, which is what we send (exact, fast in local mode, honours weights).
- best_score: Qdrant's RecommendQuery with raw example vectors (the strongest
  MAX_EXAMPLES positives). Known shortcoming: local mode scores it point by point in
  Python, about 0.15 s over 10,000 items; a Qdrant server answers it from its index.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from api.scout.encoder import normalize_rows
from api.scout.index import Hit, IndexUnavailable, VectorIndex
from api.scout.model import COLLAB, ScoutModel

Strategy = Literal["average_vector", "best_score", "sum_scores"]
MAX_EXAMPLES = 32
EXPLANATIONS = 3
FIRST_PAGE_SLACK = 1.2
EXCLUDED_SHARE = 0.5


@dataclass(frozen=True)
class ItemFilter:
    """Which items may be shown: a category and a price range (inclusive)."""

    category: str | None = None
    min_price: float | None = None
    max_price: float | None = None

    def mask(self, model: ScoutModel) -> np.ndarray:
        allowed = np.ones(model.size, dtype=bool)
        if self.category is not None:
            allowed &= model.categories == self.category
        if self.min_price is not None:
            allowed &= model.prices >= self.min_price
        if self.max_price is not None:
            allowed &= model.prices <= self.max_price
        return allowed


@dataclass(frozen=True)
class Profile:
    """Examples a list is built from: weighted positives and negatives (positions)."""

    positives: np.ndarray
    weights: np.ndarray
    negatives: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    liked: frozenset[int] = frozenset()

    @property
    def empty(self) -> bool:
        return len(self.positives) == 0


@dataclass(frozen=True)
class Ranked:
    """One recommended item with the history items that pulled it up most."""

    position: int
    score: float
    because: list[tuple[int, float]]


@dataclass(frozen=True)
class RankedList:
    items: list[Ranked]
    fallback: bool = False
    degraded: bool = False
    reason: str | None = None


@dataclass
class Recommender:
    """Answers ranking questions from the in-memory model and the vector index."""

    model: ScoutModel
    index: VectorIndex
    unit_collab: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.unit_collab = normalize_rows(self.model.collab)

    def recommend(
        self,
        profile: Profile,
        k: int,
        shown: np.ndarray,
        excluded: np.ndarray,
        strategy: Strategy = "average_vector",
        diversity: float = 0.0,
    ) -> RankedList:
        """Top k items among `shown` (a mask) minus `excluded` (positions); popular
        items when the profile is empty or the index is unavailable (flagged)."""
        allowed = shown.copy()
        allowed[excluded] = False
        if profile.empty:
            return self.popular(k, allowed, reason="no history: most popular items")
        pool = k if diversity == 0 else max(4 * k, 40)
        try:
            hits = self._candidates(profile, strategy, allowed, pool, len(excluded))
        except IndexUnavailable as error:
            return self.popular(k, allowed, reason=error.detail, degraded=True)
        if diversity > 0:
            hits = self._diversify(hits, k, 1.0 - diversity)
        hits = hits[:k]
        return RankedList(items=self._explain(profile, strategy, hits))

    def popular(
        self, k: int, allowed: np.ndarray, reason: str, degraded: bool = False
    ) -> RankedList:
        order = self.model.popular_order
        chosen = order[allowed[order]][:k]
        popularity = self.model.items["popularity"].to_numpy()
        items = [Ranked(int(p), float(popularity[p]), []) for p in chosen]
        return RankedList(items=items, fallback=True, degraded=degraded, reason=reason)

    def similar(
        self, position: int, using: str, k: int, allowed: np.ndarray
    ) -> list[Hit]:
        """Items nearest to one item by its collab or text vector (not itself)."""
        vectors = self.model.collab if using == COLLAB else self.model.text
        allowed = allowed.copy()
        allowed[position] = False

        def query(limit: int, offset: int) -> list[Hit]:
            return self.index.nearest(vectors[position], using, limit, offset)

        return self._page(query, allowed, k, extra=1)

    def near_neighbours(self, position: int, count: int) -> np.ndarray:
        """The `count` items the similar-items list (collab) puts first, in memory."""
        if count <= 0:
            return np.empty(0, dtype=np.int64)
        scores = self.model.collab @ self.model.collab[position]
        scores[position] = -np.inf
        count = min(count, self.model.size - 1)
        top = np.argpartition(-scores, count - 1)[:count]
        return top[np.argsort(-scores[top])]

    def search(
        self, vector: np.ndarray, using: str, k: int, allowed: np.ndarray
    ) -> list[Hit]:
        def query(limit: int, offset: int) -> list[Hit]:
            return self.index.nearest(vector, using, limit, offset)

        return self._page(query, allowed, k)

    # ------------------------------------------------------------ internals

    def _candidates(
        self,
        profile: Profile,
        strategy: Strategy,
        allowed: np.ndarray,
        pool: int,
        excluded: int,
    ) -> list[Hit]:
        vectors = self.model.collab
        positives = vectors[profile.positives]
        weights = profile.weights[:, None]
        negatives = vectors[profile.negatives]
        if strategy == "best_score":
            strongest = np.argsort(-profile.weights, kind="stable")[:MAX_EXAMPLES]
            return self._page(
                lambda limit, offset: self.index.recommend_best_score(
                    positives[strongest], negatives, COLLAB, limit, offset
                ),
                allowed,
                pool,
                excluded,
            )
        if strategy == "sum_scores":
            query = (weights * positives).sum(axis=0) - negatives.sum(axis=0)
        else:
            query = (weights * positives).sum(axis=0) / weights.sum()
            if len(negatives):
                query = 2 * query - negatives.mean(axis=0)
        return self._page(
            lambda limit, offset: self.index.nearest(query, COLLAB, limit, offset),
            allowed,
            pool,
            excluded,
        )

    def _page(
        self,
        query: Callable[[int, int], list[Hit]],
        allowed: np.ndarray,
        wanted: int,
        extra: int = 0,
    ) -> list[Hit]:
        """Over-fetch pages until `wanted` allowed hits are found or none are left.

        The first page is sized by the filter's selectivity plus the explicitly
        excluded items (`extra`, e.g. the user's history, which ranks high)."""
        total = int(allowed.sum())
        if total == 0 or wanted <= 0:
            return []
        wanted = min(wanted, total)
        selectivity = total / self.model.size
        limit = math.ceil(wanted / selectivity * FIRST_PAGE_SLACK) + 5
        # Measured on a 10,000-item catalogue: at most half of a user's history
        # ranks above their 10th unseen item, so half of `extra` saves a 2nd page.
        limit = min(
            limit + min(math.ceil(extra * EXCLUDED_SHARE), 200), self.model.size
        )
        found: list[Hit] = []
        offset = 0
        while True:
            hits: list[Hit] = query(limit, offset)
            found.extend(hit for hit in hits if allowed[hit[0]])
            offset += len(hits)
            if len(found) >= wanted or len(hits) < limit or offset >= self.model.size:
                return found[:wanted]
            limit = min(limit * 2, self.model.size - offset)

    def _diversify(self, hits: list[Hit], k: int, weight: float) -> list[Hit]:
        """Maximal marginal relevance: relevance vs. similarity to items chosen."""
        if len(hits) <= 1:
            return hits
        positions = np.array([p for p, _ in hits])
        scores = np.array([s for _, s in hits])
        spread = scores.max() - scores.min()
        relevance = (
            (scores - scores.min()) / spread if spread > 0 else np.ones_like(scores)
        )
        unit = self.unit_collab[positions]
        similarity = unit @ unit.T
        chosen = [0]
        closest = similarity[0].copy()
        remaining = np.ones(len(hits), dtype=bool)
        remaining[0] = False
        while len(chosen) < min(k, len(hits)):
            value = weight * relevance - (1 - weight) * closest
            value[~remaining] = -np.inf
            best = int(np.argmax(value))
            chosen.append(best)
            remaining[best] = False
            closest = np.maximum(closest, similarity[best])
        return [hits[i] for i in chosen]

    def _explain(
        self, profile: Profile, strategy: Strategy, hits: list[Hit]
    ) -> list[Ranked]:
        if not hits:
            return []
        positions = np.array([p for p, _ in hits])
        vectors = self.model.collab
        contributions = vectors[profile.positives] @ vectors[positions].T
        if strategy == "sum_scores":
            contributions = contributions * profile.weights[:, None]
        elif strategy == "average_vector":
            # shares of the score: without dislikes they add up to it
            weights = profile.weights / profile.weights.sum()
            factor = 2.0 if len(profile.negatives) else 1.0
            contributions = contributions * (factor * weights)[:, None]
        ranked = []
        for column, (position, score) in enumerate(hits):
            values = contributions[:, column]
            top = np.argsort(-values, kind="stable")[:EXPLANATIONS]
            because = [
                (int(profile.positives[i]), float(values[i]))
                for i in top
                if values[i] > 0
            ]
            ranked.append(Ranked(int(position), float(score), because))
        return ranked
