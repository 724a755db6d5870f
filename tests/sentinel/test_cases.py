"""The review queue: lifecycle, filters, sorting, pagination, claims, audit, stats."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.sentinel.support import (
    RegisteredModel,
    running_app,
    sentinel_settings,
    transaction,
)

pytestmark = pytest.mark.integration

START = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)
# Repeated amounts on purpose: pagination must not lose or repeat tied entries.
AMOUNTS = [10.0, 10.0, 10.0, 25.0, 25.0, 40.0, 55.0, 55.0, 70.0, 120.0, 120.0, 300.0]


async def open_cases(
    redis_url: str, model: RegisteredModel, count: int, band: str, first: int = 0
) -> list[str]:
    """Score `count` transactions with thresholds that put them all in `band`."""
    thresholds = {"review": (0.0, 1.0), "block": (0.0, 0.0)}[band]
    settings = sentinel_settings(
        redis_url,
        model,
        review_threshold=thresholds[0],
        block_threshold=thresholds[1],
    )
    case_ids = []
    async with running_app(settings) as client:
        for i in range(first, first + count):
            tx = transaction(
                f"tx-{i:03d}",
                AMOUNTS[i % len(AMOUNTS)],
                customer_id=f"cust-{i % 5}",
                terminal_id=f"term-{i % 7}",
                when=START + timedelta(hours=i),
            )
            answer = (await client.post("/v1/score", json=tx)).json()
            assert answer["band"] == band
            case_ids.append(answer["case_id"])
    return case_ids


async def all_pages(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/cases", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def decide(
    client: httpx.AsyncClient, case_id: str, outcome: str, analyst: str = "alice"
) -> Any:
    return client.post(
        f"/v1/cases/{case_id}/decision",
        json={"outcome": outcome, "analyst": analyst, "note": "checked"},
    )


def test_a_case_goes_from_open_to_claimed_to_closed_with_its_audit_trail(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        [case_id] = await open_cases(sentinel_redis_url, registered_model, 1, "review")
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            claim = await client.post("/v1/cases/claim-next", json={"analyst": "bob"})
            assert claim.json()["case"]["case_id"] == case_id
            assert claim.json()["case"]["status"] == "in_review"
            assert claim.json()["case"]["claimed_by"] == "bob"
            released = await client.post(
                f"/v1/cases/{case_id}/release", json={"analyst": "bob"}
            )
            assert released.json() == {"case_id": case_id, "status": "open"}
            await client.post("/v1/cases/claim-next", json={"analyst": "bob"})
            decided = await decide(client, case_id, "legitimate", "bob")
            assert decided.status_code == 200, decided.text
            assert decided.json()["case_status"] == "closed"
            case = (await client.get(f"/v1/cases/{case_id}")).json()
            events = (await client.get(f"/v1/cases/{case_id}/events")).json()

        assert case["status"] == "closed" and case["outcome"] == "legitimate"
        assert case["decided_by"] == "bob" and case["claimed_by"] is None
        assert [d["decision_id"] for d in case["decisions"]] == [
            decided.json()["decision_id"]
        ]
        kinds = [(e["kind"], e["actor"]) for e in events["events"]]
        assert kinds == [
            ("opened", "sentinel"),
            ("claimed", "bob"),
            ("released", "bob"),
            ("claimed", "bob"),
            ("decided", "bob"),
        ]
        assert [e["sequence"] for e in events["events"]] == [1, 2, 3, 4, 5]
        assert events["events"][-1]["detail"]["note"] == "checked"

    asyncio.run(scenario())


def test_pages_cover_every_case_once_in_order_for_each_sort(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        await open_cases(sentinel_redis_url, registered_model, 12, "review")
        await open_cases(sentinel_redis_url, registered_model, 6, "block", first=12)
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            everything = (await client.get("/v1/cases", params={"limit": 200})).json()
            assert everything["counts"]["open"] == 18
            assert len(everything["items"]) == 18
            for sort, key, newest_first in [
                ("score", "score", True),
                ("amount", "amount", True),
                ("age", "transaction_time", False),
            ]:
                for order in ("desc", "asc"):
                    paged = await all_pages(client, sort=sort, order=order, limit=4)
                    ids = [item["case_id"] for item in paged]
                    assert len(ids) == len(set(ids)) == 18, (sort, order)
                    values = [item[key] for item in paged]
                    descending = newest_first == (order == "desc")
                    assert values == sorted(values, reverse=descending), (sort, order)

    asyncio.run(scenario())


def test_filters_by_status_band_time_and_amount(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        review = await open_cases(sentinel_redis_url, registered_model, 12, "review")
        block = await open_cases(
            sentinel_redis_url, registered_model, 6, "block", first=12
        )
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            await decide(client, review[0], "legitimate")
            await decide(client, block[0], "confirmed_fraud")
            everything = await all_pages(client, limit=5)

            async def ids(**params: Any) -> set[str]:
                return {item["case_id"] for item in await all_pages(client, **params)}

            assert await ids(band="block") == set(block)
            assert await ids(status="closed") == {review[0], block[0]}
            assert await ids(status="open", band="block") == set(block[1:])
            big = {c["case_id"] for c in everything if c["amount"] >= 55.0}
            assert await ids(min_amount=55.0, sort="score", limit=3) == big
            assert await ids(min_amount=55.0, sort="amount", limit=3) == big
            since, until = START + timedelta(hours=3), START + timedelta(hours=8)
            window = {
                c["case_id"]
                for c in everything
                if since <= datetime.fromisoformat(c["transaction_time"]) <= until
            }
            assert len(window) == 6
            for sort in ("age", "amount"):
                found = await ids(
                    since=since.isoformat(), until=until.isoformat(), sort=sort
                )
                assert found == window, sort
            bad = await client.get("/v1/cases", params={"cursor": "garbage"})
            assert bad.status_code == 422

    asyncio.run(scenario())


def test_concurrent_claims_never_share_a_case(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        case_ids = await open_cases(sentinel_redis_url, registered_model, 8, "review")
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            claims = await asyncio.gather(
                *(
                    client.post("/v1/cases/claim-next", json={"analyst": f"a{i}"})
                    for i in range(8)
                ),
                *(
                    client.post("/v1/cases/claim-next", json={"analyst": "a0"})
                    for _ in range(3)
                ),
            )
            late = await client.post("/v1/cases/claim-next", json={"analyst": "z"})
            listed = await all_pages(client, status="in_review")

        by_analyst: dict[str, set[str]] = {}
        for response in claims:
            body = response.json()
            assert body["claimed"] is True
            by_analyst.setdefault(body["case"]["claimed_by"], set()).add(
                body["case"]["case_id"]
            )
        assert all(len(held) == 1 for held in by_analyst.values())
        claimed = [next(iter(held)) for held in by_analyst.values()]
        assert sorted(claimed) == sorted(case_ids)
        assert late.json() == {"claimed": False, "already_held": False, "case": None}
        assert {c["case_id"]: c["claimed_by"] for c in listed} == {
            next(iter(held)): analyst for analyst, held in by_analyst.items()
        }

    asyncio.run(scenario())


def test_claim_next_takes_the_highest_score_and_keeps_it_for_the_analyst(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        await open_cases(sentinel_redis_url, registered_model, 5, "review")
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            items = (await client.get("/v1/cases", params={"sort": "score"})).json()
            first = await client.post("/v1/cases/claim-next", json={"analyst": "eve"})
            again = await client.post("/v1/cases/claim-next", json={"analyst": "eve"})
            other = await decide(client, first.json()["case"]["case_id"], "legitimate")
        assert first.json()["case"]["case_id"] == items["items"][0]["case_id"]
        assert again.json()["already_held"] is True
        assert again.json()["case"]["case_id"] == first.json()["case"]["case_id"]
        assert other.status_code == 409 and "claimed by eve" in other.json()["detail"]

    asyncio.run(scenario())


def test_unknown_closed_and_escalated_cases_get_clear_errors(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        first, second = await open_cases(
            sentinel_redis_url, registered_model, 2, "review"
        )
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            unknown = await decide(client, "c_nothing", "legitimate")
            assert unknown.status_code == 404
            assert unknown.json()["error"] == "not_found"
            assert (await client.get("/v1/cases/c_nothing")).status_code == 404
            assert (await client.get("/v1/cases/c_nothing/events")).status_code == 404

            assert (await decide(client, first, "confirmed_fraud")).status_code == 200
            closed = await decide(client, first, "legitimate", "bob")
            assert closed.status_code == 409
            assert (
                "already closed (confirmed_fraud by alice)" in closed.json()["detail"]
            )

            assert (await decide(client, second, "escalate")).status_code == 200
            again = await decide(client, second, "escalate", "bob")
            assert again.status_code == 409
            claim = await client.post(
                "/v1/cases/claim-next", json={"analyst": "senior", "queue": "escalated"}
            )
            assert claim.json()["case"]["case_id"] == second
            final = await decide(client, second, "confirmed_fraud", "senior")
            assert final.json()["case_status"] == "closed"
            not_claimed = await client.post(
                f"/v1/cases/{second}/release", json={"analyst": "senior"}
            )
            assert not_claimed.status_code == 409

    asyncio.run(scenario())


def test_bulk_decisions_answer_each_case_on_its_own(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> dict[str, Any]:
        first, second = await open_cases(
            sentinel_redis_url, registered_model, 2, "review"
        )
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            body = {
                "analyst": "carol",
                "decisions": [
                    {"case_id": first, "outcome": "legitimate"},
                    {"case_id": second, "outcome": "confirmed_fraud", "note": "card"},
                    {"case_id": "c_unknown", "outcome": "legitimate"},
                ],
            }
            headers = {"Idempotency-Key": "bulk-1"}
            answer = await client.post(
                "/v1/cases/decisions", json=body, headers=headers
            )
            retry = await client.post("/v1/cases/decisions", json=body, headers=headers)
            assert retry.json()["results"][:2] == answer.json()["results"][:2]
            return dict(answer.json())

    answer = asyncio.run(scenario())
    assert answer["applied"] == 2 and answer["failed"] == 1
    codes = [result["status_code"] for result in answer["results"]]
    assert codes == [200, 200, 404]
    assert answer["results"][1]["decision"]["note"] == "card"


def test_stats_count_the_queue_decisions_and_fraud_rate_by_day(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> dict[str, Any]:
        case_ids = await open_cases(sentinel_redis_url, registered_model, 4, "review")
        settings = sentinel_settings(
            sentinel_redis_url,
            registered_model,
            review_threshold=1.0,
            block_threshold=1.0,
        )
        async with running_app(settings) as client:
            for i in range(4):  # same day, approved
                tx = transaction(f"ok-{i}", 5.0, when=START + timedelta(minutes=i))
                assert (await client.post("/v1/score", json=tx)).json()["band"] == (
                    "approve"
                )
            await decide(client, case_ids[0], "confirmed_fraud")
            await decide(client, case_ids[1], "legitimate")
            await decide(client, case_ids[2], "escalate")
            return dict((await client.get("/v1/stats")).json())

    stats = asyncio.run(scenario())
    assert stats["queue"] == {"open": 1, "in_review": 0, "escalated": 1, "closed": 2}
    assert stats["queue_by_band"]["review"] == stats["queue"]
    assert stats["decisions"] == {
        "confirmed_fraud": 1,
        "legitimate": 1,
        "escalate": 1,
    }
    [day] = stats["days"]
    assert day["day"] == "2025-03-03"
    assert (day["scored"], day["approve"], day["review"]) == (8, 4, 4)
    assert day["cases_opened"] == 4
    assert day["fraud_rate"] == pytest.approx(1 / 8)
    assert day["case_fraud_rate"] == pytest.approx(0.5)


def test_every_v1_route_refuses_a_missing_or_wrong_key(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            paths = (await client.get("/openapi.json")).json()["paths"]
            routes = [
                (method.upper(), path.replace("{case_id}", "c_1"))
                for path, operations in paths.items()
                if path.startswith("/v1")
                for method in operations
            ]
            assert len(routes) >= 13
            for method, path in routes:
                for headers in ({"X-API-Key": ""}, {"X-API-Key": "wrong"}):
                    response = await client.request(method, path, headers=headers)
                    assert response.status_code == 401, (method, path)
            assert (await client.get("/healthz", headers={"X-API-Key": ""})).is_success

    asyncio.run(scenario())


def test_an_expired_claim_goes_back_to_the_queue(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> None:
        [case_id] = await open_cases(sentinel_redis_url, registered_model, 1, "review")
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, claim_ttl_s=1
        )
        async with running_app(settings) as client:
            first = await client.post("/v1/cases/claim-next", json={"analyst": "bob"})
            assert first.json()["case"]["case_id"] == case_id
            await asyncio.sleep(1.2)
            second = await client.post("/v1/cases/claim-next", json={"analyst": "eve"})
            late = await decide(client, case_id, "legitimate", "bob")
            events = (await client.get(f"/v1/cases/{case_id}/events")).json()

        assert second.json()["case"]["case_id"] == case_id
        assert second.json()["case"]["claimed_by"] == "eve"
        assert late.status_code == 409 and "claimed by eve" in late.json()["detail"]
        kinds = [(e["kind"], e["actor"]) for e in events["events"]]
        assert kinds == [
            ("opened", "sentinel"),
            ("claimed", "bob"),
            ("claim_expired", "sentinel"),
            ("claimed", "eve"),
        ]

    asyncio.run(scenario())
