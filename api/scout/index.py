"""Nearest-neighbour queries against the Qdrant collection, with raw vectors only.

Points are identified by catalogue position (0..n-1), so no payload or id look-up
is ever needed on the hot path; filters and exclusions are applied by the caller on
over-fetched pages (local mode evaluates filters point by point in Python).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from qdrant_client import QdrantClient, models

from api.common.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

Hit = tuple[int, float]


class IndexUnavailable(DependencyUnavailable):
    """Qdrant did not answer (down, unreachable, or the collection is missing)."""


@dataclass
class VectorIndex:
    """The item collection: named vectors `collab` (dot) and `text` (cosine)."""

    client: QdrantClient
    collection: str

    def nearest(
        self, vector: np.ndarray, using: str, limit: int, offset: int = 0
    ) -> list[Hit]:
        """The `limit` best points for a raw query vector, after skipping `offset`."""
        return self._query(vector.astype(np.float32).tolist(), using, limit, offset)

    def recommend_best_score(
        self,
        positive: np.ndarray,
        negative: np.ndarray,
        using: str,
        limit: int,
        offset: int = 0,
    ) -> list[Hit]:
        """Qdrant's best_score recommendation from raw example vectors."""
        query = models.RecommendQuery(
            recommend=models.RecommendInput(
                positive=positive.astype(np.float32).tolist(),
                negative=negative.astype(np.float32).tolist(),
                strategy=models.RecommendStrategy.BEST_SCORE,
            )
        )
        return self._query(query, using, limit, offset)

    def point_count(self) -> int:
        try:
            return int(self.client.count(self.collection, exact=True).count)
        except Exception as error:  # any client failure means the index is unusable
            raise IndexUnavailable(f"qdrant: {_describe(error)}") from error

    def _query(
        self,
        query: list[float] | models.RecommendQuery,
        using: str,
        limit: int,
        offset: int,
    ) -> list[Hit]:
        try:
            response = self.client.query_points(
                self.collection,
                query=query,
                using=using,
                limit=limit,
                offset=offset or None,
                with_payload=False,
                with_vectors=False,
            )
        except Exception as error:  # any client failure means the index is unusable
            logger.warning(
                "qdrant_query_failed",
                extra={"collection": self.collection, "error": _describe(error)},
            )
            raise IndexUnavailable(f"qdrant: {_describe(error)}") from error
        return [(int(point.id), float(point.score)) for point in response.points]


def _describe(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else 'no detail'}"[:300]
