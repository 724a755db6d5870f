"""Scoring: one transaction, a batch, or an edited transaction (what-if)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.sentinel.dependencies import ScorerDep
from api.sentinel.schemas import (
    BatchIn,
    BatchOut,
    ScoreOut,
    TransactionIn,
    WhatIfIn,
    WhatIfOut,
)

router = APIRouter(prefix="/score", tags=["scoring"])
Explain = Annotated[
    bool,
    Query(
        description="Explain approvals too (XGBoost path attribution) when the "
        "model has no TreeSHAP tables; with tables every answer is explained "
        "exactly and this changes nothing."
    ),
]


@router.post("", summary="Score one transaction (opens a case for review or block)")
async def score_transaction(
    transaction: TransactionIn, scorer: ScorerDep, explain: Explain = False
) -> ScoreOut:
    return await scorer.score(transaction, explain)


@router.post("/batch", summary="Score many transactions in order, in one call")
async def score_batch(
    batch: BatchIn, scorer: ScorerDep, explain: Explain = False
) -> BatchOut:
    results = await scorer.score_batch(batch.transactions, explain)
    return BatchOut(
        count=len(results),
        degraded_count=sum(result.degraded for result in results),
        results=results,
    )


@router.post(
    "/what-if",
    summary="Score an edited transaction (optionally from a case) with no side effect",
)
async def score_what_if(request: WhatIfIn, scorer: ScorerDep) -> WhatIfOut:
    return await scorer.what_if(
        request.transaction, request.feature_overrides, request.case_id
    )
