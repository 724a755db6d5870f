"""What Sentinel's API takes and returns: amounts, currency, ISO times in UTC, ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

Band = Literal["approve", "review", "block"]
CaseBand = Literal["review", "block"]
CaseStatus = Literal["open", "in_review", "escalated", "closed"]
Queue = Literal["open", "escalated"]
Outcome = Literal["confirmed_fraud", "legitimate", "escalate"]
CaseSort = Literal["score", "amount", "age"]
SortOrder = Literal["asc", "desc"]
Explanation = Literal["exact", "approximate", "none"]
WhatIfBase = Literal["case_snapshot", "online_features"]

MAX_BATCH = 1000
MAX_BULK_DECISIONS = 500
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=IDENTIFIER)]
AnalystName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=IDENTIFIER,
        description="Who acts: letters, digits and . _ : @ - (e.g. alice@bank).",
    ),
]
ExtraValue = str | float | int | bool | None
FeatureValue = Annotated[float, Field(ge=-1e9, le=1e9, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransactionIn(_Strict):
    """One card payment to score."""

    transaction_id: Identifier
    timestamp: AwareDatetime = Field(
        description="When the payment happened, with a timezone (stored in UTC)."
    )
    customer_id: Identifier
    terminal_id: Identifier
    amount: float = Field(ge=0, le=1e9, allow_inf_nan=False)
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    extras: dict[Annotated[str, Field(max_length=64)], ExtraValue] = Field(
        default_factory=dict,
        max_length=50,
        description="Other attributes kept with the case (not used by the model).",
    )

    @field_validator("timestamp")
    @classmethod
    def _utc_in_range(cls, value: datetime) -> datetime:
        try:
            moment = value.astimezone(UTC)
        except (OverflowError, ValueError) as error:
            raise ValueError("is outside the supported range") from error
        if not 1970 <= moment.year <= 2999:
            raise ValueError("must be between 1970 and 2999 (UTC)")
        return moment


class BatchIn(_Strict):
    transactions: list[TransactionIn] = Field(min_length=1, max_length=MAX_BATCH)


class WhatIfIn(_Strict):
    """An edited transaction, optionally with feature values forced by the analyst."""

    transaction: TransactionIn
    feature_overrides: dict[str, FeatureValue] = Field(
        default_factory=dict,
        description="Feature name -> value to use instead of the computed one.",
    )
    case_id: Identifier | None = Field(
        None,
        description="Start from this case's snapshot (the features at scoring time) "
        "instead of the current online features: the transaction's own features "
        "(amount, hour, weekend, amount to 30-day mean) are recomputed from the "
        "edit, the history aggregates stay as they were. The customer and terminal "
        "cannot change (the history is theirs).",
    )


class Reason(BaseModel):
    """One feature's contribution to the score, in log-odds."""

    feature: str
    value: float
    contribution: float
    direction: Literal["raises_risk", "lowers_risk"]


class ModelRef(BaseModel):
    name: str
    alias: str
    version: str


class ScoreOut(BaseModel):
    transaction_id: str
    score: float = Field(description="Probability of fraud from the model (0-1).")
    band: Band
    reasons: list[Reason] = Field(
        description="Largest contributions first; empty when explanation is none."
    )
    explanation: Explanation = Field(
        description="exact: XGBoost's TreeSHAP values (every answer when the "
        "model's TreeSHAP tables loaded and the batch is at most 64 rows; otherwise "
        "review, block and what-if); approximate: XGBoost's path attribution "
        "(other approvals with explain=true); none: such an approval, not asked."
    )
    model: ModelRef
    degraded: bool = Field(
        description="True when Redis was not used: features are neutral fallbacks."
    )
    degraded_reason: str | None = None
    case_id: str | None = Field(
        description="The review case this transaction opened (review or block)."
    )
    amount: float
    currency: str
    scored_at: datetime
    latency_ms: float


class BatchOut(BaseModel):
    count: int
    degraded_count: int
    results: list[ScoreOut]


class CaseOriginal(BaseModel):
    """What the case's model said when the case opened (from its snapshot)."""

    case_id: str
    score: float
    band: CaseBand
    model: ModelRef
    scored_at: datetime
    reasons: list[Reason] = Field(description="Every feature, largest first.")


class WhatIfOut(ScoreOut):
    features: dict[str, float] = Field(description="The values the model was given.")
    overridden: list[str]
    contributions: list[Reason] = Field(
        description="Every feature's contribution, largest first (reasons: top k)."
    )
    base: WhatIfBase = Field(
        description="Where the unedited feature values came from: the case's "
        "snapshot (with case_id) or the online features as they are now."
    )
    recomputed: list[str] = Field(
        description="With a case: features recomputed from the edited transaction."
    )
    original: CaseOriginal | None = Field(
        None, description="With a case: its score when it opened."
    )
    score_change: float | None = Field(
        None, description="With a case: this score minus the original score."
    )


class CaseSummary(BaseModel):
    case_id: str
    status: CaseStatus
    band: CaseBand
    score: float
    amount: float
    currency: str
    transaction_id: str
    customer_id: str
    terminal_id: str
    transaction_time: datetime
    opened_at: datetime
    model_version: str
    degraded: bool
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    outcome: Outcome | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
    counts: dict[str, int] = Field(
        description="Cases per status for the band filter (other filters ignored)."
    )
    sort: CaseSort
    order: SortOrder
    limit: int


class CaseSnapshot(BaseModel):
    """What the model saw and said when the case opened; never changes."""

    transaction: dict[str, Any]
    features: dict[str, float]
    contributions: list[Reason] = Field(description="Every feature, largest first.")
    bias: float
    explanation: Explanation
    score: float
    band: CaseBand
    model: ModelRef
    degraded: bool
    scored_at: datetime


class DecisionIn(_Strict):
    outcome: Outcome
    analyst: AnalystName
    note: str = Field("", max_length=2000)


class DecisionOut(BaseModel):
    decision_id: str
    case_id: str
    outcome: Outcome
    analyst: str
    note: str
    decided_at: datetime
    case_status: CaseStatus


class RecentTransaction(BaseModel):
    transaction_id: str
    timestamp: datetime
    amount: float
    currency: str
    terminal_id: str
    score: float
    band: Band
    degraded: bool
    case_id: str | None


class CaseDetail(CaseSummary):
    snapshot: CaseSnapshot
    decisions: list[DecisionOut]
    recent_transactions: list[RecentTransaction] = Field(
        description="The customer's latest scored transactions, newest first."
    )


class CaseEvent(BaseModel):
    sequence: int
    kind: str = Field(
        description="opened, claimed, released, claim_expired or decided."
    )
    actor: str
    at: datetime
    detail: dict[str, Any]


class CaseEvents(BaseModel):
    case_id: str
    events: list[CaseEvent]


class ClaimIn(_Strict):
    analyst: AnalystName
    queue: Queue = "open"
    band: CaseBand | None = None


class ClaimOut(BaseModel):
    claimed: bool
    already_held: bool = Field(
        description="True when the analyst already held this case (one at a time)."
    )
    case: CaseDetail | None


class ReleaseIn(_Strict):
    analyst: AnalystName


class ReleaseOut(BaseModel):
    case_id: str
    status: CaseStatus


class BulkDecisionItem(_Strict):
    case_id: Identifier
    outcome: Outcome
    note: str = Field("", max_length=2000)


class BulkDecisionIn(_Strict):
    analyst: AnalystName
    decisions: list[BulkDecisionItem] = Field(
        min_length=1, max_length=MAX_BULK_DECISIONS
    )


class BulkDecisionResult(BaseModel):
    case_id: str
    status_code: int = Field(description="What a single decision call would answer.")
    decision: DecisionOut | None = None
    error: str | None = None
    detail: str | None = None


class BulkDecisionOut(BaseModel):
    applied: int
    failed: int
    results: list[BulkDecisionResult]


class DayStats(BaseModel):
    day: str = Field(description="UTC day of the transactions (YYYY-MM-DD).")
    scored: int
    approve: int
    review: int
    block: int
    cases_opened: int
    confirmed_fraud: int
    legitimate: int
    escalate: int
    fraud_rate: float = Field(description="confirmed_fraud / scored.")
    case_fraud_rate: float | None = Field(
        description="confirmed_fraud / (confirmed_fraud + legitimate)."
    )


class StatsOut(BaseModel):
    queue: dict[str, int] = Field(description="Cases per status.")
    queue_by_band: dict[str, dict[str, int]]
    decisions: dict[str, int] = Field(description="Decisions per outcome, all time.")
    days: list[DayStats] = Field(description="Most recent days first.")
    generated_at: datetime


class ChallengerOut(BaseModel):
    """A registered version under the challenger alias (not served, not loaded)."""

    name: str
    alias: str
    version: str
    run_id: str | None
    metrics: dict[str, float] = Field(description="From the version's training run.")
    registered_at: datetime | None = Field(
        description="When the version was created (the registry keeps no alias time)."
    )


class ModelOut(BaseModel):
    name: str
    alias: str
    version: str
    run_id: str | None
    metrics: dict[str, float]
    loaded_at: datetime
    feature_names: list[str]
    thresholds: dict[str, float]
    challenger: ChallengerOut | None = Field(
        None, description="The version under the challenger alias; null without one."
    )
    challenger_error: str | None = Field(
        None, description="Why the challenger could not be looked up (if it could not)."
    )


class ReloadOut(BaseModel):
    previous_version: str | None
    version: str
    changed: bool
    model: ModelOut
