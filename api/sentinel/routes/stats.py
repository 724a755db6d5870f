"""Queue sizes, decision counts and fraud rate by day."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.sentinel.dependencies import CaseStoreDep, ScorerDep
from api.sentinel.schemas import StatsOut

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get("", summary="Queue sizes, decisions by outcome, fraud rate by day")
async def queue_stats(
    cases: CaseStoreDep,
    scorer: ScorerDep,
    days: Annotated[int, Query(ge=1, le=366, description="Most recent days.")] = 30,
) -> StatsOut:
    await scorer.settle()  # approvals are counted in batches; include the latest
    return await cases.stats(days)
