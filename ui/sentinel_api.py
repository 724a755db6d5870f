"""The Sentinel calls the workbench makes: queue, cases, decisions, what-if, stats."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from ui.client import ApiClient

SORTS = ("score", "amount", "age")
STATUSES = ("open", "in_review", "escalated", "closed")
BANDS = ("review", "block")
OUTCOMES = ("confirmed_fraud", "legitimate", "escalate")


@dataclass(frozen=True)
class CaseFilters:
    """The review queue's filters as the analyst set them (dates in local time)."""

    status: str | None = "open"
    band: str | None = None
    first_day: date | None = None
    last_day: date | None = None
    min_amount: float | None = None
    sort: str = "score"
    order: str = "desc"
    page_size: int = 50

    def to_params(self, zone: ZoneInfo, cursor: str | None = None) -> dict[str, Any]:
        """Query parameters of GET /v1/cases; local days become UTC bounds."""
        params: dict[str, Any] = {
            "sort": self.sort,
            "order": self.order,
            "limit": self.page_size,
        }
        if self.status:
            params["status"] = self.status
        if self.band:
            params["band"] = self.band
        if self.first_day:
            params["since"] = _day_bound(self.first_day, time.min, zone)
        if self.last_day:
            params["until"] = _day_bound(self.last_day, time.max, zone)
        if self.min_amount:
            params["min_amount"] = self.min_amount
        if cursor:
            params["cursor"] = cursor
        return params


def _day_bound(day: date, clock: time, zone: ZoneInfo) -> str:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC).isoformat()


def new_idempotency_key() -> str:
    return f"workbench-{uuid.uuid4()}"


class SentinelApi:
    """Thin, typed-by-name wrappers; answers are the API's JSON as dicts."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    def list_cases(
        self, filters: CaseFilters, zone: ZoneInfo, cursor: str | None = None
    ) -> dict[str, Any]:
        params = filters.to_params(zone, cursor)
        return dict(self.client.get("/v1/cases", params=params))

    def stats(self, days: int = 30) -> dict[str, Any]:
        return dict(self.client.get("/v1/stats", params={"days": days}))

    def case(self, case_id: str) -> dict[str, Any]:
        return dict(self.client.get(f"/v1/cases/{case_id}"))

    def events(self, case_id: str) -> list[dict[str, Any]]:
        return list(self.client.get(f"/v1/cases/{case_id}/events")["events"])

    def claim_next(self, analyst: str, band: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"analyst": analyst, "queue": "open"}
        if band:
            body["band"] = band
        return dict(self.client.post("/v1/cases/claim-next", json=body))

    def release(self, case_id: str, analyst: str) -> dict[str, Any]:
        body = {"analyst": analyst}
        return dict(self.client.post(f"/v1/cases/{case_id}/release", json=body))

    def decide(
        self,
        case_id: str,
        outcome: str,
        analyst: str,
        note: str,
        idempotency_key: str,
    ) -> dict[str, Any]:
        return dict(
            self.client.post(
                f"/v1/cases/{case_id}/decision",
                json={"outcome": outcome, "analyst": analyst, "note": note},
                headers={"Idempotency-Key": idempotency_key},
            )
        )

    def decide_many(
        self,
        case_ids: list[str],
        outcome: str,
        analyst: str,
        note: str,
        idempotency_key: str,
    ) -> dict[str, Any]:
        body = {
            "analyst": analyst,
            "decisions": [
                {"case_id": case_id, "outcome": outcome, "note": note}
                for case_id in case_ids
            ],
        }
        return dict(
            self.client.post(
                "/v1/cases/decisions",
                json=body,
                headers={"Idempotency-Key": idempotency_key},
            )
        )

    def what_if(
        self, transaction: dict[str, Any], overrides: dict[str, float] | None = None
    ) -> dict[str, Any]:
        body = {"transaction": transaction, "feature_overrides": overrides or {}}
        return dict(self.client.post("/v1/score/what-if", json=body))

    def model(self) -> dict[str, Any]:
        return dict(self.client.get("/v1/model"))


def transaction_from_case(case: dict[str, Any]) -> dict[str, Any]:
    """The scored transaction of a case, as /v1/score/what-if takes it."""
    source = case.get("snapshot", {}).get("transaction", {})
    fields = ("transaction_id", "timestamp", "customer_id", "terminal_id", "amount")
    transaction = {name: source.get(name, case.get(name)) for name in fields}
    transaction["currency"] = source.get("currency", case.get("currency", "EUR"))
    if source.get("extras"):
        transaction["extras"] = source["extras"]
    return transaction
