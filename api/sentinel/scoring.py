"""Scoring a transaction: online features, the model, a band, reasons, a case.

Hot path: one Redis round trip reads and updates the features; the model's TreeSHAP
tables (api/sentinel/treeshap.py) give the score and its exact explanation in one
pass of 0.19 to 0.40 ms (bench/bench_sentinel.py, as busy as the machine is), so
every answer carries its top reasons; a review or block opens its case in a second
round trip before the answer, while approvals are recorded (day counters, the
customer's recent transactions) every 0.1 s by a background writer, in pipelines
of WRITE_CHUNK.

A model the tables cannot represent (or TREE_SHAP_TABLES=false, or a batch of more
than treeshap.MAX_ROWS) falls back to the flat forest or `inplace_predict` for the
score and to XGBoost's `pred_contribs` on a DMatrix for explanations: exact
TreeSHAP for review and block (the case snapshot keeps every contribution) and for
what-if; nothing for an approval unless the caller asks
(`explain=true`), then XGBoost's cheaper path attribution (approx_contribs).
Each answer says which it got (`explanation`).

Degraded mode: when Redis fails or exceeds its budget, the features fall back to
neutral values, the answer says `degraded: true`, an amount above the configured
limit is never approved, and Redis is skipped for `redis_retry_after_ms` before it is
tried again, so the service recovers by itself. What could not be recorded waits
in memory and is written when Redis answers again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from redis.exceptions import RedisError

from api.common.errors import Conflict, InvalidInput
from api.sentinel.cases import CaseStore, ScoredTransaction
from api.sentinel.features import (
    OnlineFeatureStore,
    TransactionEvent,
    fallback_features,
)
from api.sentinel.metrics import SentinelMetrics
from api.sentinel.model import LoadedModel, ModelHolder
from api.sentinel.schemas import (
    Band,
    CaseDetail,
    CaseOriginal,
    CaseSnapshot,
    Explanation,
    ModelRef,
    Reason,
    ScoreOut,
    TransactionIn,
    WhatIfOut,
)
from api.sentinel.scored_log import ScoredLog
from api.sentinel.settings import SentinelSettings

logger = logging.getLogger(__name__)

REDIS_FAILURES = (RedisError, OSError, TimeoutError)
# Background writes go in pipelines this long, so the loop serves requests between.
WRITE_CHUNK = 8


@dataclass(frozen=True)
class Policy:
    """Bands from thresholds, and the degraded-mode limit on approvals."""

    review_threshold: float
    block_threshold: float
    degraded_max_approve_amount: float
    top_k: int

    def band(self, score: float, amount: float, degraded: bool) -> Band:
        if score >= self.block_threshold:
            return "block"
        if score >= self.review_threshold:
            return "review"
        if degraded and amount > self.degraded_max_approve_amount:
            return "review"
        return "approve"


class RedisBreaker:
    """After a Redis failure, skip Redis for a while so degraded answers stay fast."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        self.reason: str | None = None
        self._skip_until = 0.0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._skip_until

    def trip(self, error: BaseException) -> None:
        detail = str(error) or type(error).__name__
        self.reason = f"redis unavailable: {detail}"[:300]
        self._skip_until = time.monotonic() + self.retry_after_s

    def reset(self) -> None:
        self.reason = None
        self._skip_until = 0.0


@dataclass
class _Scored:
    """One transaction on its way through the pipeline."""

    transaction: TransactionIn
    event: TransactionEvent
    features: dict[str, float]
    degraded_reason: str | None
    started: float


class Scorer:
    """Everything `/v1/score*` does, behind one object the routes depend on."""

    scored_log: ScoredLog | None = None  # set by main.wire_services (drift reports)

    def __init__(
        self,
        features: OnlineFeatureStore,
        cases: CaseStore,
        models: ModelHolder,
        metrics: SentinelMetrics,
        settings: SentinelSettings,
    ) -> None:
        self._features = features
        self._cases = cases
        self._models = models
        self._metrics = metrics
        self._budget_s = settings.redis_timeout_ms / 1000
        self.breaker = RedisBreaker(settings.redis_retry_after_ms / 1000)
        self.policy = Policy(
            settings.review_threshold,
            settings.block_threshold,
            settings.degraded_max_approve_amount,
            settings.reasons_top_k,
        )
        self.pending: deque[ScoredTransaction] = deque(
            maxlen=settings.pending_cases_limit
        )
        # Approvals are recorded (counters, recent lists) in batches off the hot
        # path; a crash loses at most one flush interval of them, never a case.
        self.approvals: deque[ScoredTransaction] = deque(
            maxlen=settings.pending_cases_limit
        )

    async def score(
        self, transaction: TransactionIn, explain: bool = False
    ) -> ScoreOut:
        [answer] = await self.score_batch([transaction], explain)
        return answer

    async def score_batch(
        self, transactions: list[TransactionIn], explain: bool = False
    ) -> list[ScoreOut]:
        """Score in order; `explain` adds approximate reasons to approvals too."""
        model = self._models.require()
        items = [await self._with_features(model, tx) for tx in transactions]
        rows = model.rows([item.features for item in items])
        explained = model.predict_explained(rows)
        scores = model.predict(rows) if explained is None else explained[0]
        answers, records = [], []
        bands = [
            self.policy.band(float(s), it.event.amount, it.degraded_reason is not None)
            for s, it in zip(scores, items, strict=True)
        ]
        if explained is None:
            kinds, contributions = _explain(model, rows, bands, explain)
        else:  # every answer explained exactly, at no extra pass
            kinds = ["exact"] * len(items)
            contributions = list(explained[1])
        for i, item in enumerate(items):
            answer, record = self._answer(
                model, item, float(scores[i]), bands[i], kinds[i], contributions[i]
            )
            answers.append(answer)
            records.append(record)
        await self._record(records)
        if self.scored_log is not None:  # drift monitoring: api/sentinel/scored_log.py
            self.scored_log.add(answers, items)
        for answer in answers:
            self._observe(answer)
        return answers

    async def what_if(
        self,
        transaction: TransactionIn,
        overrides: dict[str, float],
        case_id: str | None = None,
    ) -> WhatIfOut:
        """Score an edited transaction: nothing is written, nothing is counted.

        With `case_id` the unedited values are the case's snapshot, not the online
        features (which have moved on since the case opened).
        """
        model = self._models.require()
        unknown = sorted(set(overrides) - set(model.feature_names))
        if unknown:
            raise InvalidInput(
                f"unknown features in feature_overrides: {unknown}; "
                f"the model uses {list(model.feature_names)}",
                field="feature_overrides",
            )
        case = None
        if case_id is None:
            item = await self._with_features(model, transaction, write=False)
        else:
            case = await self._cases.get_case(case_id)  # NotFound names the id
            item = _from_snapshot(model, transaction, case)
        item.features.update(overrides)
        rows = model.rows([item.features])
        score = float(model.predict(rows)[0])
        band = self.policy.band(
            score, item.event.amount, item.degraded_reason is not None
        )
        contributions = model.contributions(rows, exact=True)[0]
        answer, _ = self._answer(
            model, item, score, band, "exact", contributions, record=False
        )
        return WhatIfOut(
            **answer.model_dump(),
            features=item.features,
            overridden=sorted(overrides),
            contributions=_reasons(model, item.features, contributions, limit=None),
            base="online_features" if case is None else "case_snapshot",
            recomputed=[] if case is None else list(TRANSACTION_FEATURES),
            original=None if case is None else _original(case),
            score_change=None if case is None else score - case.snapshot.score,
        )

    # --- steps --------------------------------------------------------------

    async def _with_features(
        self, model: LoadedModel, transaction: TransactionIn, write: bool = True
    ) -> _Scored:
        started = time.perf_counter()
        event = to_event(transaction)
        reason = self.breaker.reason if self.breaker.open else None
        if reason is None:
            try:
                async with asyncio.timeout(self._budget_s):
                    if write:
                        features = await self._features.update_and_read(event)
                    else:
                        features = await self._features.read_only(event)
                self.breaker.reset()
                return _Scored(transaction, event, features, None, started)
            except REDIS_FAILURES as error:
                self.breaker.trip(error)
                reason = self.breaker.reason
                logger.warning(
                    "features_degraded",
                    extra={
                        "transaction_id": transaction.transaction_id,
                        "reason": reason,
                    },
                )
        fallback = fallback_features(event, model.population)
        return _Scored(transaction, event, fallback, reason, started)

    def _answer(
        self,
        model: LoadedModel,
        item: _Scored,
        score: float,
        band: Band,
        explanation: Explanation,
        contributions: npt.NDArray[np.float32] | None,
        record: bool = True,
    ) -> tuple[ScoreOut, ScoredTransaction]:
        tx = item.transaction
        opens_case = band != "approve" and record
        reasons = _reasons(
            model,
            item.features,
            contributions,
            limit=None if opens_case else self.policy.top_k,
        )
        now = datetime.now(UTC)
        model_ref = ModelRef(name=model.name, alias=model.alias, version=model.version)
        degraded = item.degraded_reason is not None
        snapshot = None
        if opens_case and contributions is not None:
            snapshot = CaseSnapshot(
                transaction=tx.model_dump(mode="json"),
                features=item.features,
                contributions=reasons,
                bias=float(contributions[-1]),
                explanation="exact",
                score=score,
                band=band,
                model=model_ref,
                degraded=degraded,
                scored_at=now,
            )
        scored = ScoredTransaction(
            transaction_id=tx.transaction_id,
            customer_id=tx.customer_id,
            terminal_id=tx.terminal_id,
            amount=tx.amount,
            currency=tx.currency,
            timestamp=item.event.timestamp,
            score=score,
            band=band,
            degraded=degraded,
            model_version=model.version,
            scored_at=now,
            snapshot=snapshot,
        )
        answer = ScoreOut(
            transaction_id=tx.transaction_id,
            score=score,
            band=band,
            reasons=reasons[: self.policy.top_k],
            explanation=explanation,
            model=model_ref,
            degraded=degraded,
            degraded_reason=item.degraded_reason,
            case_id=scored.case_id if record else None,
            amount=tx.amount,
            currency=tx.currency,
            scored_at=now,
            latency_ms=round((time.perf_counter() - item.started) * 1000, 3),
        )
        return answer, scored

    async def _record(self, records: list[ScoredTransaction]) -> None:
        """Open the cases now (the answer names them); batch the approvals."""
        cases = [record for record in records if record.snapshot is not None]
        self.approvals.extend(record for record in records if record.snapshot is None)
        if cases:
            await self._write_now(cases)

    async def _write_now(self, records: list[ScoredTransaction]) -> None:
        """Write what was scored; on failure keep it in memory for later."""
        if self.breaker.open:
            self._keep_for_later(records)
            return
        try:
            async with asyncio.timeout(self._budget_s * max(1, len(records))):
                await self._cases.record_many(records)
        except REDIS_FAILURES as error:
            self.breaker.trip(error)
            self._keep_for_later(records)
            logger.warning(
                "record_deferred",
                extra={
                    "transaction_id": records[0].transaction_id,
                    "count": len(records),
                    "reason": self.breaker.reason,
                },
            )

    def _keep_for_later(self, records: list[ScoredTransaction]) -> None:
        dropped = 0
        for record in records:
            if len(self.pending) == self.pending.maxlen:
                dropped += 1
            self.pending.append(record)
        self._metrics.pending_case_writes.set(len(self.pending))
        if dropped:
            logger.error("pending_writes_dropped", extra={"dropped": dropped})

    async def flush_pending(self) -> int:
        """Write what was kept in memory; returns how many were written."""
        written = 0
        while self.pending and not self.breaker.open:
            batch = [self.pending.popleft() for _ in range(min(100, len(self.pending)))]
            try:
                await self._cases.record_many(batch)
            except REDIS_FAILURES as error:
                self.breaker.trip(error)
                self.pending.extendleft(reversed(batch))
                break
            written += len(batch)
        self._metrics.pending_case_writes.set(len(self.pending))
        if written:
            logger.info("pending_writes_flushed", extra={"written": written})
        return written

    async def settle(self) -> None:
        """Write the batched approvals now (reads of counters call this first).

        In pipelines of WRITE_CHUNK: preparing one record costs ~0.2 ms of CPU, and
        a flush of 30 to 60 in one go held the event loop for 3 to 14 ms at 300
        requests a second, a stall every request arriving meanwhile waited out.
        """
        for _ in range(0, len(self.approvals), WRITE_CHUNK):
            count = min(WRITE_CHUNK, len(self.approvals))
            await self._write_now([self.approvals.popleft() for _ in range(count)])

    async def keep_flushing(self, interval_s: float = 0.1) -> None:
        """Write approvals every `interval_s` until the task is cancelled.

        The shutdown once waited for this task forever (1 run in 8 of the reload
        test): cancelled, it was still sleeping in this loop. A cancel that lands
        inside a write can come out of it as an exception the write handles (for
        example a TimeoutError when the write's own budget expires at the same
        moment); that is the likely way, not a proven one. So the loop also stops
        when its task has a cancel pending. 10 runs in 10 passed after.
        """
        ticks = 0
        task = asyncio.current_task()
        while task is None or not task.cancelling():
            await asyncio.sleep(interval_s)
            ticks += 1
            try:
                await self.settle()
                if self.pending and ticks % 10 == 0:
                    await self.flush_pending()
            except Exception:  # keep the writer alive; the log says what broke
                logger.exception("pending_writes_failed")
        raise asyncio.CancelledError

    def _observe(self, answer: ScoreOut) -> None:
        self._metrics.scores.labels(answer.band).inc()
        if answer.degraded:
            self._metrics.degraded_answers.inc()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "transaction_scored",
                extra={
                    "transaction_id": answer.transaction_id,
                    "case_id": answer.case_id,
                    "band": answer.band,
                    "score": answer.score,
                    "degraded": answer.degraded,
                    "model_version": answer.model.version,
                    "latency_ms": answer.latency_ms,
                },
            )


# Features that are functions of the transaction alone (fallback_features computes
# them from the event); every other feature is a history aggregate.
TRANSACTION_FEATURES = (
    "amount",
    "hour_of_day",
    "is_weekend",
    "amount_to_customer_mean_30d",
)


def _from_snapshot(
    model: LoadedModel, transaction: TransactionIn, case: CaseDetail
) -> _Scored:
    """The case's history as it was, with the edited transaction's own features.

    Known shortcoming: an edited time moves hour and weekend only; the history
    windows stay those of the original time (they cannot be rebuilt from a snapshot).
    """
    started = time.perf_counter()
    for name in ("customer_id", "terminal_id"):
        if getattr(transaction, name) != getattr(case, name):
            raise InvalidInput(
                f"{name} cannot change in a what-if from case {case.case_id}: its "
                f"history features belong to {getattr(case, name)}; start without "
                "case_id to score another customer or terminal",
                field=f"transaction.{name}",
            )
    snapshot = case.snapshot
    missing = sorted(
        set(model.feature_names) - set(snapshot.features) - set(TRANSACTION_FEATURES)
    )
    if missing:
        raise Conflict(
            f"case {case.case_id} was scored by model version "
            f"{snapshot.model.version}, whose snapshot lacks features the served "
            f"version {model.version} uses: {missing}",
            case_id=case.case_id,
        )
    event = to_event(transaction)
    # fallback_features keeps the given values and recomputes TRANSACTION_FEATURES
    # from the event: the one definition of those, shared with degraded mode.
    features = fallback_features(event, snapshot.features)
    reason = None
    if snapshot.degraded:
        reason = f"case {case.case_id} was scored in degraded mode: neutral history"
    return _Scored(transaction, event, features, reason, started)


def _original(case: CaseDetail) -> CaseOriginal:
    snapshot = case.snapshot
    return CaseOriginal(
        case_id=case.case_id,
        score=snapshot.score,
        band=snapshot.band,
        model=snapshot.model,
        scored_at=snapshot.scored_at,
        reasons=snapshot.contributions,
    )


def to_event(transaction: TransactionIn) -> TransactionEvent:
    return TransactionEvent(
        transaction_id=transaction.transaction_id,
        timestamp=transaction.timestamp,
        customer_id=transaction.customer_id,
        terminal_id=transaction.terminal_id,
        amount=transaction.amount,
        extras=transaction.extras,
    )


def _explain(
    model: LoadedModel,
    rows: npt.NDArray[np.float32],
    bands: list[Band],
    explain_approved: bool,
) -> tuple[list[Explanation], list[npt.NDArray[np.float32] | None]]:
    """Exact contributions where a case opens; approvals only when asked."""
    approved: Explanation = "approximate" if explain_approved else "none"
    kinds: list[Explanation] = [
        "exact" if band != "approve" else approved for band in bands
    ]
    out: list[npt.NDArray[np.float32] | None] = [None] * len(bands)
    for kind in ("exact", "approximate"):
        chosen = [i for i, k in enumerate(kinds) if k == kind]
        if chosen:
            values = model.contributions(rows[chosen], exact=kind == "exact")
            for position, i in enumerate(chosen):
                out[i] = values[position]
    return kinds, out


def _reasons(
    model: LoadedModel,
    features: dict[str, float],
    contributions: npt.NDArray[np.float32] | None,
    limit: int | None,
) -> list[Reason]:
    """Feature contributions, the largest in absolute value first (all: no limit)."""
    if contributions is None:
        return []
    order = np.argsort(-np.abs(contributions[:-1]), kind="stable")[:limit]
    return [
        Reason(
            feature=model.feature_names[i],
            value=features[model.feature_names[i]],
            contribution=float(contributions[i]),
            direction="raises_risk" if contributions[i] >= 0 else "lowers_risk",
        )
        for i in order
    ]
