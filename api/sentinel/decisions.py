"""Analyst decisions: recorded once and durably, then fed back as labels."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime

from api.common.errors import Conflict, InvalidInput, NotFound
from api.sentinel.cases import CaseStore, DecisionRequest, DecisionResult
from api.sentinel.features import OnlineFeatureStore, TransactionRef
from api.sentinel.metrics import SentinelMetrics
from api.sentinel.schemas import CaseSnapshot, DecisionOut

logger = logging.getLogger(__name__)

LABELS = {"confirmed_fraud": True, "legitimate": False}
DecisionAnswer = DecisionResult | NotFound | Conflict | InvalidInput


class Decisions:
    """Applies decisions, counts them and tells the feature store about labels."""

    def __init__(
        self,
        cases: CaseStore,
        features: OnlineFeatureStore,
        metrics: SentinelMetrics,
    ) -> None:
        self._cases = cases
        self._features = features
        self._metrics = metrics

    async def decide(self, request: DecisionRequest) -> DecisionResult:
        [answer] = await self.decide_many([request])
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def decide_many(
        self, requests: Sequence[DecisionRequest]
    ) -> list[DecisionAnswer]:
        started = time.perf_counter()
        answers = await self._cases.decide_many(requests)
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        for request, answer in zip(requests, answers, strict=True):
            if isinstance(answer, DecisionResult):
                await self._after(request, answer, latency_ms)
        return answers

    async def _after(
        self, request: DecisionRequest, result: DecisionResult, latency_ms: float
    ) -> None:
        snapshot = result.snapshot
        if not result.replayed:
            self._metrics.decisions.labels(result.decision.outcome).inc()
            if snapshot is not None:
                await self._feed_label(result.decision, snapshot)
        logger.info(
            "decision_recorded",
            extra={
                "case_id": request.case_id,
                "transaction_id": _field(snapshot, "transaction_id"),
                "analyst": request.analyst,
                "outcome": request.outcome,
                "decision_id": result.decision.decision_id,
                "model_version": snapshot.model.version if snapshot else None,
                "replayed": result.replayed,
                "idempotency_key": request.idempotency_key,
                "latency_ms": latency_ms,
            },
        )

    async def _feed_label(self, decision: DecisionOut, snapshot: CaseSnapshot) -> None:
        """Confirmed labels update the terminal risk windows from now on."""
        is_fraud = LABELS.get(decision.outcome)
        if is_fraud is None:
            return
        transaction = TransactionRef(
            transaction_id=str(snapshot.transaction["transaction_id"]),
            timestamp=_timestamp(snapshot),
            terminal_id=str(snapshot.transaction["terminal_id"]),
        )
        known_at = max(decision.decided_at, transaction.timestamp)
        try:
            await self._features.record_label(transaction, is_fraud, known_at)
        except Exception as error:  # the decision is stored; only the feed missed
            logger.error(
                "label_feed_failed",
                extra={
                    "case_id": decision.case_id,
                    "transaction_id": transaction.transaction_id,
                    "reason": str(error),
                },
            )


def _field(snapshot: CaseSnapshot | None, name: str) -> str | None:
    return None if snapshot is None else str(snapshot.transaction.get(name))


def _timestamp(snapshot: CaseSnapshot) -> datetime:
    return datetime.fromisoformat(str(snapshot.transaction["timestamp"]))
