"""The review queue: list, read, claim, release and decide cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from api.sentinel.cases import CaseQuery, DecisionRequest
from api.sentinel.dependencies import CaseStoreDep, DecisionsDep, ScorerDep
from api.sentinel.schemas import (
    IDENTIFIER,
    BulkDecisionIn,
    BulkDecisionOut,
    BulkDecisionResult,
    CaseBand,
    CaseDetail,
    CaseEvents,
    CasePage,
    CaseSort,
    CaseStatus,
    ClaimIn,
    ClaimOut,
    DecisionIn,
    DecisionOut,
    ReleaseIn,
    ReleaseOut,
    SortOrder,
)

router = APIRouter(prefix="/cases", tags=["cases"])

CaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=IDENTIFIER)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="A retry with the same key returns the first answer.",
    ),
]
REPLAYED_HEADER = "Idempotent-Replayed"


@router.get("", summary="Cases with filters, sorting and cursor pagination")
async def list_cases(
    cases: CaseStoreDep,
    status: CaseStatus | None = None,
    band: CaseBand | None = None,
    since: Annotated[
        datetime | None, Query(description="Transaction time at or after (UTC).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Transaction time at or before (UTC).")
    ] = None,
    min_amount: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
    sort: Annotated[
        CaseSort, Query(description="score, amount or age (time since the payment).")
    ] = "score",
    order: Annotated[
        SortOrder, Query(description="desc: highest score, amount, oldest first.")
    ] = "desc",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> CasePage:
    query = CaseQuery(
        status=status,
        band=band,
        since=_as_utc(since),
        until=_as_utc(until),
        min_amount=min_amount,
        sort=sort,
        order=order,
        limit=limit,
        cursor=cursor,
    )
    return await cases.list_cases(query)


@router.post("/claim-next", summary="Lock the highest-scored open case to an analyst")
async def claim_next(claim: ClaimIn, cases: CaseStoreDep) -> ClaimOut:
    case_id, held = await cases.claim_next(claim.analyst, claim.queue, claim.band)
    if case_id is None:
        return ClaimOut(claimed=False, already_held=False, case=None)
    return ClaimOut(claimed=True, already_held=held, case=await cases.get_case(case_id))


@router.post("/decisions", summary="Decide many cases in one call")
async def decide_cases(
    bulk: BulkDecisionIn,
    decisions: DecisionsDep,
    idempotency_key: IdempotencyKey = None,
) -> BulkDecisionOut:
    requests = [
        DecisionRequest(
            case_id=item.case_id,
            outcome=item.outcome,
            analyst=bulk.analyst,
            note=item.note,
            idempotency_key=f"{idempotency_key}:{item.case_id}"
            if idempotency_key
            else None,
        )
        for item in bulk.decisions
    ]
    answers = await decisions.decide_many(requests)
    results = [
        BulkDecisionResult(
            case_id=request.case_id, status_code=200, decision=a.decision
        )
        if not isinstance(a, Exception)
        else BulkDecisionResult(
            case_id=request.case_id,
            status_code=a.status_code,
            error=a.error,
            detail=a.detail,
        )
        for request, a in zip(requests, answers, strict=True)
    ]
    applied = sum(result.status_code == 200 for result in results)
    return BulkDecisionOut(
        applied=applied, failed=len(results) - applied, results=results
    )


@router.get("/{case_id}", summary="A case with its snapshot and recent transactions")
async def get_case(
    case_id: CaseId, cases: CaseStoreDep, scorer: ScorerDep
) -> CaseDetail:
    await scorer.settle()  # the recent transactions include batched approvals
    return await cases.get_case(case_id)


@router.get("/{case_id}/events", summary="The audit trail of a case, oldest first")
async def case_events(case_id: CaseId, cases: CaseStoreDep) -> CaseEvents:
    return CaseEvents(case_id=case_id, events=await cases.events(case_id))


@router.post("/{case_id}/decision", summary="Record an analyst's decision, durably")
async def decide_case(
    case_id: CaseId,
    decision: DecisionIn,
    decisions: DecisionsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> DecisionOut:
    result = await decisions.decide(
        DecisionRequest(
            case_id=case_id,
            outcome=decision.outcome,
            analyst=decision.analyst,
            note=decision.note,
            idempotency_key=idempotency_key,
        )
    )
    if result.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return result.decision


@router.post("/{case_id}/release", summary="Give a claimed case back to its queue")
async def release_case(
    case_id: CaseId, release: ReleaseIn, cases: CaseStoreDep
) -> ReleaseOut:
    status = await cases.release(case_id, release.analyst)
    return ReleaseOut(case_id=case_id, status=status)


def _as_utc(moment: datetime | None) -> datetime | None:
    """Query times without a zone are taken as UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
