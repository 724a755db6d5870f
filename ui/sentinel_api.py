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
        self,
        transaction: dict[str, Any],
        overrides: dict[str, float] | None = None,
        case_id: str | None = None,
    ) -> dict[str, Any]:
        """Score an edit; with case_id, from the case's snapshot of its history."""
        body: dict[str, Any] = {
            "transaction": transaction,
            "feature_overrides": overrides or {},
        }
        if case_id:
            body["case_id"] = case_id
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


def case_as_scored(case: dict[str, Any]) -> dict[str, Any]:
    """A case's snapshot in the shape of a what-if answer: the 'before' of an edit."""
    snapshot = case.get("snapshot", {})
    return {
        "score": snapshot.get("score", case.get("score")),
        "band": snapshot.get("band", case.get("band")),
        "model": snapshot.get("model", {}),
        "features": dict(snapshot.get("features", {})),
        "contributions": list(snapshot.get("contributions", [])),
    }


def metric_comparison(
    champion: dict[str, float], challenger: dict[str, float] | None
) -> list[dict[str, Any]]:
    """One row per metric: champion, challenger and challenger minus champion.

    Champion's metrics first in its order, then those only the challenger has; a
    side without the metric leaves it (and the difference) None.
    """
    other = challenger or {}
    names = list(champion) + [name for name in other if name not in champion]
    rows = []
    for name in names:
        mine, theirs = champion.get(name), other.get(name)
        difference = theirs - mine if mine is not None and theirs is not None else None
        rows.append(
            {
                "metric": name,
                "champion": mine,
                "challenger": theirs,
                "difference": difference,
            }
        )
    return rows


def reason_moves(
    before: list[dict[str, Any]], after: list[dict[str, Any]], limit: int = 8
) -> list[dict[str, Any]]:
    """Features whose contribution moved most between two answers, largest first.

    Unmoved features are left out; a feature one side does not report (another
    model version) has None there and no change, and comes last.
    """
    old = {reason["feature"]: reason["contribution"] for reason in before}
    new = {reason["feature"]: reason["contribution"] for reason in after}
    rows = []
    for feature in list(old) + [name for name in new if name not in old]:
        was, now = old.get(feature), new.get(feature)
        change = now - was if was is not None and now is not None else None
        rows.append({"feature": feature, "before": was, "after": now, "change": change})
    rows.sort(key=lambda row: abs(row["change"] or 0.0), reverse=True)
    return [row for row in rows if row["change"] != 0.0][:limit]
