"""The review queue in Redis: cases, their index, claims, decisions and audit trail.

A case is a Redis hash: an immutable `snapshot` (JSON written once when the case
opens) plus the fields that change (status, claim, decision). Sorted sets index the
cases by status and band for each sort key, so a page is a range read. Every change
runs as one Lua script (api.sentinel.case_scripts), atomic and fsynced by Redis
(appendfsync always) before Redis answers, hence before we acknowledge it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from api.common.errors import Conflict, InvalidInput, NotFound
from api.sentinel import case_scripts
from api.sentinel.durability import DurableWrites
from api.sentinel.schemas import (
    CaseDetail,
    CaseEvent,
    CasePage,
    CaseSnapshot,
    CaseSort,
    CaseSummary,
    DayStats,
    DecisionOut,
    Outcome,
    RecentTransaction,
    SortOrder,
    StatsOut,
)

logger = logging.getLogger(__name__)

PREFIX = "sentinel:"
STATUSES = ("open", "in_review", "escalated", "closed")
CASE_BANDS = ("review", "block")
OUTCOMES = ("confirmed_fraud", "legitimate", "escalate")
SORT_INDEX = {"score": "score", "amount": "amount", "age": "created"}
SUMMARY_FIELDS = (
    "status",
    "band",
    "score",
    "amount",
    "currency",
    "transaction_id",
    "customer_id",
    "terminal_id",
    "tx_ms",
    "opened_at_ms",
    "model_version",
    "degraded",
    "claimed_by",
    "claim_expires_ms",
    "outcome",
    "decided_by",
    "decided_at_ms",
)
PAGE_CHUNK = 200
# A page examines at most this many index entries; the cursor then resumes there.
SCAN_BUDGET = 5000
SEEN_TTL_MS = 3_600_000
RECENT_TTL_MS = 31 * 24 * 3_600_000


def case_id_for(transaction_id: str) -> str:
    """Deterministic: scoring the same transaction twice finds the same case."""
    return "c_" + hashlib.sha256(transaction_id.encode()).hexdigest()[:20]


def utc_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(value: str | int | float) -> datetime:
    return datetime.fromtimestamp(int(float(value)) / 1000, UTC)


@dataclass(frozen=True)
class ScoredTransaction:
    """What the queue records about one scored transaction."""

    transaction_id: str
    customer_id: str
    terminal_id: str
    amount: float
    currency: str
    timestamp: datetime
    score: float
    band: str
    degraded: bool
    model_version: str
    scored_at: datetime
    snapshot: CaseSnapshot | None

    @property
    def case_id(self) -> str | None:
        return case_id_for(self.transaction_id) if self.band != "approve" else None


@dataclass(frozen=True)
class CaseQuery:
    status: str | None
    band: str | None
    since: datetime | None
    until: datetime | None
    min_amount: float | None
    sort: CaseSort
    order: SortOrder
    limit: int
    cursor: str | None


@dataclass(frozen=True)
class DecisionResult:
    """A decision as stored, whether it was applied now or replayed from a retry."""

    decision: DecisionOut
    replayed: bool
    snapshot: CaseSnapshot | None


@dataclass(frozen=True)
class DecisionRequest:
    case_id: str
    outcome: Outcome
    analyst: str
    note: str
    idempotency_key: str | None

    def fingerprint(self) -> str:
        body = [self.case_id, self.outcome, self.analyst, self.note]
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()


class CaseStore:
    """Every read and write of the review queue."""

    def __init__(
        self,
        redis: aioredis.Redis,
        durable: DurableWrites,
        claim_ttl_s: int,
        idempotency_ttl_s: int,
        recent_limit: int,
    ) -> None:
        self._redis = redis
        self._durable = durable
        self._claim_ttl_ms = claim_ttl_s * 1000
        self._idempotency_ttl_s = idempotency_ttl_s
        self._recent_limit = recent_limit
        self._record = redis.register_script(case_scripts.RECORD_SCORE)
        self._claim = redis.register_script(case_scripts.CLAIM_NEXT)
        self._release = redis.register_script(case_scripts.RELEASE)
        self._decide = redis.register_script(case_scripts.DECIDE)

    # --- writes -------------------------------------------------------------

    async def record_many(self, records: Sequence[ScoredTransaction]) -> int:
        """Count each transaction, remember it for its customer, open its case.

        Returns how many were new (a retried transaction id is recorded once).
        """
        now = datetime.now(UTC)
        calls = [self._record_args(scored, now) for scored in records]
        if len(calls) == 1:
            return int(await self._record(args=calls[0]) > 0)
        async with self._redis.pipeline(transaction=False) as pipe:
            for args in calls:
                await self._record(args=args, client=pipe)
            replies = await pipe.execute()
        return sum(int(reply) > 0 for reply in replies)

    def _record_args(self, scored: ScoredTransaction, now: datetime) -> list[Any]:
        return [
            PREFIX,
            scored.transaction_id,
            SEEN_TTL_MS,
            scored.timestamp.strftime("%Y-%m-%d"),
            utc_ms(scored.timestamp) // 86_400_000,
            scored.band,
            scored.customer_id,
            _recent_entry(scored),
            self._recent_limit,
            RECENT_TTL_MS,
            utc_ms(now),
            now.isoformat(),
            scored.case_id or "",
            *_case_fields(scored),
        ]

    async def claim_next(
        self, analyst: str, queue: str, band: str | None
    ) -> tuple[str | None, bool]:
        """Lock the best case to the analyst: (case id or None, already held).

        Expired claims return to their queue lazily, on the next claim, release or
        decision; until then a listing still shows them in_review.
        """
        now = datetime.now(UTC)
        args = [
            PREFIX,
            analyst,
            utc_ms(now),
            now.isoformat(),
            self._claim_ttl_ms,
            queue,
            band or "any",
        ]
        reply = await self._durable.run(self._redis, self._claim, args)
        if reply[0] == "empty":
            return None, False
        case_id = str(reply[1])
        logger.info(
            "case_claimed",
            extra={"case_id": case_id, "analyst": analyst, "held": reply[0]},
        )
        return case_id, reply[0] == "existing"

    async def release(self, case_id: str, analyst: str) -> str:
        """Give a claimed case back to its queue; returns the new status."""
        now = datetime.now(UTC)
        args = [PREFIX, case_id, analyst, utc_ms(now), now.isoformat()]
        reply = await self._durable.run(self._redis, self._release, args)
        if reply[0] == "not_found":
            raise NotFound(f"case {case_id} does not exist", case_id=case_id)
        if reply[0] == "not_claimed":
            raise Conflict(
                f"case {case_id} is {reply[1]}, not claimed", case_id=case_id
            )
        if reply[0] == "claimed":
            raise Conflict(
                f"case {case_id} is claimed by {reply[1]}, not {analyst}",
                case_id=case_id,
            )
        logger.info("case_released", extra={"case_id": case_id, "analyst": analyst})
        return str(reply[1])

    async def decide_many(
        self, requests: Sequence[DecisionRequest]
    ) -> list[DecisionResult | NotFound | Conflict | InvalidInput]:
        """Apply decisions in one round trip; each succeeds or fails on its own."""
        now = datetime.now(UTC)
        calls = [self._decision_args(request, now) for request in requests]
        replies = await self._durable.run_many(self._redis, self._decide, calls)
        return [
            _decision_result(request, reply)
            for request, reply in zip(requests, replies, strict=True)
        ]

    def _decision_args(self, request: DecisionRequest, now: datetime) -> list[Any]:
        status = "escalated" if request.outcome == "escalate" else "closed"
        record = {
            "decision_id": uuid.uuid4().hex,
            "case_id": request.case_id,
            "outcome": request.outcome,
            "analyst": request.analyst,
            "note": request.note,
            "decided_at": now.isoformat(),
            "case_status": status,
        }
        return [
            PREFIX,
            request.case_id,
            request.outcome,
            request.analyst,
            utc_ms(now),
            now.isoformat(),
            request.idempotency_key or "",
            request.fingerprint(),
            self._idempotency_ttl_s,
            json.dumps(record),
            status,
            request.outcome,
        ]

    # --- reads --------------------------------------------------------------

    async def get_case(self, case_id: str) -> CaseDetail:
        key = _case_key(case_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(key, [*SUMMARY_FIELDS, "snapshot"])
            pipe.lrange(f"{key}:decisions", 0, -1)
            fields, decisions = await pipe.execute()
        summary = _summary(case_id, fields[:-1])
        if summary is None or fields[-1] is None:
            raise NotFound(f"case {case_id} does not exist", case_id=case_id)
        recent = await self._redis.lrange(
            f"{PREFIX}customer:{summary.customer_id}:recent", 0, -1
        )
        return CaseDetail(
            **summary.model_dump(),
            snapshot=CaseSnapshot.model_validate_json(fields[-1]),
            decisions=[DecisionOut.model_validate_json(d) for d in decisions],
            recent_transactions=[
                RecentTransaction.model_validate_json(entry) for entry in recent
            ],
        )

    async def events(self, case_id: str) -> list[CaseEvent]:
        key = _case_key(case_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.lrange(f"{key}:events", 0, -1)
            exists, raw = await pipe.execute()
        if not exists:
            raise NotFound(f"case {case_id} does not exist", case_id=case_id)
        return [CaseEvent.model_validate_json(item) for item in raw]

    async def list_cases(self, query: CaseQuery) -> CasePage:
        """One page in index order, resumed from the cursor (sort value, case id).

        Known shortcoming: a case that changes status while a page is being read can
        be missed or shown twice across pages (the index is read in chunks).
        """
        index = _index_key(query.status or "all", query.band or "any", query.sort)
        descending = query.order == "desc"
        if query.sort == "age":  # oldest first means the smallest time first
            descending = not descending
        low, high = _bounds(query)
        position = _decode_cursor(query.cursor, query.sort)
        if position is not None:
            if descending:
                high = min(high, position[0])
            else:
                low = max(low, position[0])
        found, last_seen = await self._scan(
            index, low, high, descending, position, query
        )
        page = found[: query.limit]
        if len(found) > query.limit:
            last = page[-1]
            next_cursor: str | None = _encode_cursor(
                query.sort, _sort_value(last, query.sort), last.case_id
            )
        elif last_seen is not None:  # budget spent: resume after what was examined
            next_cursor = _encode_cursor(query.sort, *last_seen)
        else:
            next_cursor = None
        return CasePage(
            items=page,
            next_cursor=next_cursor,
            counts=await self.counts(query.band),
            sort=query.sort,
            order=query.order,
            limit=query.limit,
        )

    async def _scan(
        self,
        index: str,
        low: float,
        high: float,
        descending: bool,
        position: tuple[float, str] | None,
        query: CaseQuery,
    ) -> tuple[list[CaseSummary], tuple[float, str] | None]:
        """Walk the index in order; (matches, where the budget stopped us or None)."""
        found: list[CaseSummary] = []
        offset = examined = 0
        while examined < SCAN_BUDGET:
            start, end = (high, low) if descending else (low, high)
            rows = await self._redis.zrange(  # type: ignore[call-overload]
                index,
                start,
                end,
                desc=descending,
                withscores=True,
                byscore=True,
                offset=offset,
                num=PAGE_CHUNK,
            )
            if not rows:
                return found, None
            offset += len(rows)
            summaries = await self._summaries([str(member) for member, _ in rows])
            for (member, value), summary in zip(rows, summaries, strict=True):
                examined += 1
                if _before_cursor(position, float(value), str(member), descending):
                    continue
                if summary is not None and _matches(summary, query):
                    found.append(summary)
                    if len(found) > query.limit:
                        return found, None
                if examined >= SCAN_BUDGET:
                    return found, (float(value), str(member))
        return found, None

    async def _summaries(self, case_ids: list[str]) -> list[CaseSummary | None]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for case_id in case_ids:
                pipe.hmget(_case_key(case_id), list(SUMMARY_FIELDS))
            rows = await pipe.execute()
        return [_summary(cid, row) for cid, row in zip(case_ids, rows, strict=True)]

    async def counts(self, band: str | None) -> dict[str, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for status in STATUSES:
                pipe.zcard(_index_key(status, band or "any", "score"))
            sizes = await pipe.execute()
        return dict(zip(STATUSES, (int(size) for size in sizes), strict=True))

    async def stats(self, days: int) -> StatsOut:
        queue = await self.counts(None)
        by_band = {band: await self.counts(band) for band in CASE_BANDS}
        decisions = await self._redis.hgetall(f"{PREFIX}stats:decisions")
        recent_days = await self._redis.zrange(
            f"{PREFIX}stats:days", 0, days - 1, desc=True
        )
        async with self._redis.pipeline(transaction=False) as pipe:
            for day in recent_days:
                pipe.hgetall(f"{PREFIX}stats:day:{day}")
            day_rows = await pipe.execute()
        return StatsOut(
            queue=queue,
            queue_by_band=by_band,
            decisions={o: int(decisions.get(o, 0)) for o in OUTCOMES},
            days=[
                _day_stats(str(day), row)
                for day, row in zip(recent_days, day_rows, strict=True)
            ],
            generated_at=datetime.now(UTC),
        )


# --- helpers: keys, encoding and decoding --------------------------------------


def _case_key(case_id: str) -> str:
    return f"{PREFIX}case:{case_id}"


def _index_key(status: str, band: str, sort: str) -> str:
    return f"{PREFIX}cases:{status}:{band}:{SORT_INDEX[sort]}"


def _recent_entry(scored: ScoredTransaction) -> str:
    return RecentTransaction(
        transaction_id=scored.transaction_id,
        timestamp=scored.timestamp,
        amount=scored.amount,
        currency=scored.currency,
        terminal_id=scored.terminal_id,
        score=scored.score,
        band=scored.band,
        degraded=scored.degraded,
        case_id=scored.case_id,
    ).model_dump_json()


def _case_fields(scored: ScoredTransaction) -> list[Any]:
    if scored.snapshot is None:
        return []
    fields = {
        "snapshot": scored.snapshot.model_dump_json(),
        "band": scored.band,
        "score": repr(scored.score),
        "amount": repr(scored.amount),
        "currency": scored.currency,
        "transaction_id": scored.transaction_id,
        "customer_id": scored.customer_id,
        "terminal_id": scored.terminal_id,
        "tx_ms": utc_ms(scored.timestamp),
        "tx_day": scored.timestamp.strftime("%Y-%m-%d"),
        "opened_at_ms": utc_ms(scored.scored_at),
        "model_version": scored.model_version,
        "degraded": "1" if scored.degraded else "0",
    }
    return [item for pair in fields.items() for item in pair]


def _summary(case_id: str, row: Sequence[Any]) -> CaseSummary | None:
    values = dict(zip(SUMMARY_FIELDS, row, strict=True))
    if values["status"] is None:
        return None
    return CaseSummary(
        case_id=case_id,
        status=values["status"],
        band=values["band"],
        score=float(values["score"]),
        amount=float(values["amount"]),
        currency=values["currency"],
        transaction_id=values["transaction_id"],
        customer_id=values["customer_id"],
        terminal_id=values["terminal_id"],
        transaction_time=from_ms(values["tx_ms"]),
        opened_at=from_ms(values["opened_at_ms"]),
        model_version=values["model_version"],
        degraded=values["degraded"] == "1",
        claimed_by=values["claimed_by"],
        claim_expires_at=_optional_time(values["claim_expires_ms"]),
        outcome=values["outcome"],
        decided_by=values["decided_by"],
        decided_at=_optional_time(values["decided_at_ms"]),
    )


def _optional_time(value: str | None) -> datetime | None:
    return None if value is None else from_ms(value)


def _bounds(query: CaseQuery) -> tuple[float, float]:
    """Range of the sort key itself that the filters allow (others are checked)."""
    low, high = float("-inf"), float("inf")
    if query.sort == "amount" and query.min_amount is not None:
        low = query.min_amount
    if query.sort == "age":
        if query.since is not None:
            low = utc_ms(query.since)
        if query.until is not None:
            high = utc_ms(query.until)
    return low, high


def _matches(summary: CaseSummary, query: CaseQuery) -> bool:
    if query.status is not None and summary.status != query.status:
        return False
    if query.min_amount is not None and summary.amount < query.min_amount:
        return False
    if query.since is not None and summary.transaction_time < query.since:
        return False
    return query.until is None or summary.transaction_time <= query.until


def _sort_value(summary: CaseSummary, sort: CaseSort) -> float:
    if sort == "score":
        return summary.score
    if sort == "amount":
        return summary.amount
    return float(utc_ms(summary.transaction_time))


def _before_cursor(
    position: tuple[float, str] | None, value: float, member: str, descending: bool
) -> bool:
    """True for entries the previous page already returned (ties by member)."""
    if position is None:
        return False
    last_value, last_member = position
    if value != last_value:
        return False
    return member >= last_member if descending else member <= last_member


def _encode_cursor(sort: str, value: float, case_id: str) -> str:
    raw = json.dumps({"sort": sort, "value": value, "case_id": case_id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, sort: str) -> tuple[float, str] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position = (float(data["value"]), str(data["case_id"]))
        cursor_sort = data["sort"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise InvalidInput(
            "cursor is not one this API returned", field="cursor"
        ) from error
    if cursor_sort != sort:
        raise InvalidInput(
            f"cursor belongs to sort={cursor_sort}, not sort={sort}", field="cursor"
        )
    return position


def _decision_result(
    request: DecisionRequest, reply: Sequence[Any]
) -> DecisionResult | NotFound | Conflict | InvalidInput:
    kind, case_id = str(reply[0]), request.case_id
    if kind in {"applied", "replayed"}:
        snapshot = reply[2] if kind == "applied" else None
        return DecisionResult(
            decision=DecisionOut.model_validate_json(reply[1]),
            replayed=kind == "replayed",
            snapshot=CaseSnapshot.model_validate_json(snapshot) if snapshot else None,
        )
    if kind == "idempotency_mismatch":
        return InvalidInput(
            "Idempotency-Key was already used for a different decision",
            field="Idempotency-Key",
            case_id=case_id,
        )
    if kind == "not_found":
        return NotFound(f"case {case_id} does not exist", case_id=case_id)
    if kind == "closed":
        return Conflict(
            f"case {case_id} is already closed ({reply[1]} by {reply[2]})",
            case_id=case_id,
        )
    if kind == "claimed":
        return Conflict(
            f"case {case_id} is claimed by {reply[1]}, not {request.analyst}",
            case_id=case_id,
        )
    return Conflict(f"case {case_id} is already escalated", case_id=case_id)


def _day_stats(day: str, row: dict[str, str]) -> DayStats:
    def count(name: str) -> int:
        return int(row.get(name, 0))

    fraud, legitimate, scored = (
        count("confirmed_fraud"),
        count("legitimate"),
        count("scored"),
    )
    decided = fraud + legitimate
    return DayStats(
        day=day,
        scored=scored,
        approve=count("band_approve"),
        review=count("band_review"),
        block=count("band_block"),
        cases_opened=count("cases_opened"),
        confirmed_fraud=fraud,
        legitimate=legitimate,
        escalate=count("escalate"),
        fraud_rate=fraud / scored if scored else 0.0,
        case_fraud_rate=fraud / decided if decided else None,
    )
