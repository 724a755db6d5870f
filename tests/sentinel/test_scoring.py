"""Scoring against a real Redis and a model from a real MLflow registry."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import xgboost as xgb

from api.sentinel.features import FEATURE_NAMES
from tests.sentinel.support import (
    RegisteredModel,
    running_app,
    sentinel_settings,
    transaction,
)

pytestmark = pytest.mark.integration


def run(scenario: Any) -> Any:
    return asyncio.run(scenario)


def test_a_score_has_band_reasons_model_and_no_degradation(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> dict[str, Any]:
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            response = await client.post(
                "/v1/score", params={"explain": "true"}, json=transaction("t-1", 42.5)
            )
            assert response.status_code == 200, response.text
            return dict(response.json())

    body = run(scenario())
    assert 0.0 <= body["score"] <= 1.0
    expected_band = (
        "block" if body["score"] >= 0.9 else "review" if body["score"] >= 0.5 else None
    )
    assert body["band"] == (expected_band or "approve")
    assert body["explanation"] == "exact"  # the model's TreeSHAP tables loaded
    assert body["model"] == {
        "name": registered_model.name,
        "alias": "champion",
        "version": registered_model.version,
    }
    assert body["degraded"] is False and body["degraded_reason"] is None
    assert (body["case_id"] is None) == (body["band"] == "approve")
    assert body["amount"] == 42.5 and body["currency"] == "EUR"
    reasons = body["reasons"]
    assert len(reasons) == 5
    sizes = [abs(reason["contribution"]) for reason in reasons]
    assert sizes == sorted(sizes, reverse=True)
    assert {reason["feature"] for reason in reasons} <= set(FEATURE_NAMES)
    for reason in reasons:
        expected = "raises_risk" if reason["contribution"] >= 0 else "lowers_risk"
        assert reason["direction"] == expected
        if reason["feature"] == "amount":
            assert reason["value"] == 42.5


def test_with_tables_every_answer_is_explained_exactly_as_xgboost_would(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    """Approvals carry exact reasons too, and a case's snapshot holds XGBoost's own
    pred_contribs for the features it records."""

    async def scenario(review: float) -> tuple[list[dict[str, Any]], Any, Any]:
        settings = sentinel_settings(
            sentinel_redis_url,
            registered_model,
            review_threshold=review,
            block_threshold=1.0,
        )
        async with running_app(settings) as client:
            batch = {"transactions": [transaction(f"t-{review}-{i}") for i in "abc"]}
            answers = (await client.post("/v1/score/batch", json=batch)).json()
            cases = [
                (await client.get(f"/v1/cases/{a['case_id']}")).json()
                for a in answers["results"]
                if a["case_id"] is not None
            ]
            model = client.app.state.models.current  # type: ignore[attr-defined]
            return answers["results"], cases, model

    approvals, _, model = run(scenario(1.0))
    assert model.tree_shap is not None
    assert [(a["band"], a["explanation"]) for a in approvals] == [
        ("approve", "exact")
    ] * 3
    assert all(len(a["reasons"]) == 5 for a in approvals)

    _, cases, model = run(scenario(0.0))
    booster = model.booster
    assert len(cases) == 3
    for case in cases:
        snapshot = case["snapshot"]
        names = booster.feature_names
        assert names is not None
        row = np.array([[snapshot["features"][n] for n in names]], dtype=np.float32)
        matrix = xgb.DMatrix(row, feature_names=names)
        expected = booster.predict(matrix, pred_contribs=True)[0]
        got = {c["feature"]: c["contribution"] for c in snapshot["contributions"]}
        assert snapshot["explanation"] == "exact"
        assert [got[n] for n in names] == pytest.approx(expected[:-1], abs=1e-4)
        assert snapshot["bias"] == pytest.approx(float(expected[-1]), abs=1e-4)


def test_without_tables_approvals_are_explained_only_when_asked_and_cases_exactly(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    """TREE_SHAP_TABLES=false: XGBoost explains, exactly for cases only."""

    async def scenario(review: float) -> list[dict[str, Any]]:
        settings = sentinel_settings(
            sentinel_redis_url,
            registered_model,
            review_threshold=review,
            block_threshold=1.0,
            tree_shap_tables=False,
        )
        async with running_app(settings) as client:
            batch = {"transactions": [transaction(f"e-{review}-{i}") for i in "ab"]}
            plain = await client.post("/v1/score/batch", json=batch)
            batch = {"transactions": [transaction(f"x-{review}-{i}") for i in "ab"]}
            asked = await client.post(
                "/v1/score/batch", params={"explain": "true"}, json=batch
            )
            return [*plain.json()["results"], *asked.json()["results"]]

    approvals = run(scenario(1.0))
    assert [a["band"] for a in approvals] == ["approve"] * 4
    assert [a["explanation"] for a in approvals] == ["none"] * 2 + ["approximate"] * 2
    assert [len(a["reasons"]) for a in approvals] == [0, 0, 5, 5]
    reviews = run(scenario(0.0))
    assert {(a["band"], a["explanation"]) for a in reviews} == {("review", "exact")}
    assert all(len(a["reasons"]) == 5 for a in reviews)


@pytest.mark.parametrize(
    ("review", "block", "band"),
    [(0.0, 0.0, "block"), (0.0, 1.0, "review"), (1.0, 1.0, "approve")],
)
def test_bands_follow_the_configured_thresholds(
    sentinel_redis_url: str,
    registered_model: RegisteredModel,
    review: float,
    block: float,
    band: str,
) -> None:
    async def scenario() -> list[str]:
        settings = sentinel_settings(
            sentinel_redis_url,
            registered_model,
            review_threshold=review,
            block_threshold=block,
        )
        async with running_app(settings) as client:
            bands = []
            for i, amount in enumerate([1.0, 80.0, 2500.0]):
                tx = transaction(f"band-{i}", amount)
                bands.append((await client.post("/v1/score", json=tx)).json()["band"])
            return bands

    assert run(scenario()) == [band] * 3


def test_a_case_snapshot_holds_exact_contributions_that_add_up_to_the_score(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            score = (await client.post("/v1/score", json=transaction("s-1"))).json()
            case = await client.get(f"/v1/cases/{score['case_id']}")
            assert case.status_code == 200, case.text
            return score, case.json()

    score, case = run(scenario())
    assert score["band"] == "review" and score["explanation"] == "exact"
    snapshot = case["snapshot"]
    assert snapshot["transaction"]["transaction_id"] == "s-1"
    assert set(snapshot["features"]) == set(FEATURE_NAMES)
    assert len(snapshot["contributions"]) == len(FEATURE_NAMES)
    margin = snapshot["bias"] + sum(
        c["contribution"] for c in snapshot["contributions"]
    )
    assert 1 / (1 + math.exp(-margin)) == pytest.approx(score["score"], abs=1e-4)
    assert snapshot["model"]["version"] == registered_model.version
    assert case["status"] == "open" and case["score"] == score["score"]
    assert [t["transaction_id"] for t in case["recent_transactions"]] == ["s-1"]


def test_a_batch_scores_in_order_and_each_transaction_updates_the_features(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    start = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            batch = [
                transaction(f"b-{i}", 10.0 + i, when=start + timedelta(minutes=i))
                for i in range(4)
            ]
            scored = await client.post("/v1/score/batch", json={"transactions": batch})
            probe = transaction("probe", 10.0, when=start + timedelta(minutes=9))
            what_if = await client.post(
                "/v1/score/what-if", json={"transaction": probe}
            )
            return scored.json(), what_if.json()

    scored, what_if = run(scenario())
    assert scored["count"] == 4 and scored["degraded_count"] == 0
    assert [r["transaction_id"] for r in scored["results"]] == [
        f"b-{i}" for i in range(4)
    ]
    assert what_if["features"]["customer_count_10min"] == 4.0
    assert what_if["features"]["customer_mean_amount_1d"] == pytest.approx(11.5)


def test_what_if_changes_nothing(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> dict[str, Any]:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            edited = {"transaction": transaction("w-1", 9000.0)}
            first = (await client.post("/v1/score/what-if", json=edited)).json()
            second = (await client.post("/v1/score/what-if", json=edited)).json()
            stats = (await client.get("/v1/stats")).json()
            cases = (await client.get("/v1/cases")).json()
            metrics = (await client.get("/metrics")).text
            return {
                "first": first,
                "second": second,
                "stats": stats,
                "cases": cases,
                "metrics": metrics,
            }

    seen = run(scenario())
    assert seen["first"]["band"] == "review" and seen["first"]["case_id"] is None
    assert seen["first"]["features"] == seen["second"]["features"]
    assert seen["first"]["features"]["customer_count_30d"] == 0.0
    assert seen["cases"]["items"] == []
    assert seen["stats"]["days"] == []
    assert sum(seen["stats"]["queue"].values()) == 0
    assert 'sentinel_scores_total{band="review"} 0.0' in seen["metrics"]


def test_what_if_applies_feature_overrides_and_names_unknown_ones(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], int]:
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            tx = transaction("w-2", 30.0)
            plain = await client.post("/v1/score/what-if", json={"transaction": tx})
            forced = await client.post(
                "/v1/score/what-if",
                json={"transaction": tx, "feature_overrides": {"terminal_risk_1d": 1}},
            )
            unknown = await client.post(
                "/v1/score/what-if",
                json={"transaction": tx, "feature_overrides": {"shoe_size": 44}},
            )
            assert "shoe_size" in unknown.json()["detail"]
            return plain.json(), forced.json(), unknown.status_code

    plain, forced, unknown_status = run(scenario())
    assert plain["features"]["terminal_risk_1d"] == 0.0
    assert forced["features"]["terminal_risk_1d"] == 1.0
    assert forced["overridden"] == ["terminal_risk_1d"]
    assert unknown_status == 422


def test_a_retried_transaction_is_recorded_once(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            tx = transaction("r-1", 70.0)
            answers = [(await client.post("/v1/score", json=tx)).json() for _ in "ab"]
            return answers, (await client.get("/v1/stats")).json()

    answers, stats = run(scenario())
    assert answers[0]["case_id"] == answers[1]["case_id"]
    assert answers[0]["score"] == answers[1]["score"]
    assert stats["days"][0]["scored"] == 1 and stats["days"][0]["cases_opened"] == 1
    assert stats["queue"]["open"] == 1


def test_invalid_transactions_get_every_problem_by_field(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> tuple[int, dict[str, Any]]:
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            bad = transaction("bad-1", -5.0)
            bad["timestamp"] = "2025-03-03T12:00:00"  # no timezone
            bad["customer_id"] = ""
            response = await client.post("/v1/score", json=bad)
            return response.status_code, response.json()

    status, body = run(scenario())
    assert status == 422
    fields = {problem["field"] for problem in body["problems"]}
    assert fields == {"amount", "timestamp", "customer_id"}


def test_a_body_that_is_no_transaction_gets_a_422_naming_the_problem(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    """/v1/score parses its body itself (one pydantic pass from bytes): broken JSON,
    an unknown field and an empty body get the same 422 as any other route."""

    async def scenario() -> list[tuple[int, dict[str, Any]]]:
        settings = sentinel_settings(sentinel_redis_url, registered_model)
        async with running_app(settings) as client:
            broken = await client.post(
                "/v1/score",
                content=b'{"transaction_id": "x",',
                headers={"Content-Type": "application/json"},
            )
            extra = await client.post(
                "/v1/score", json={**transaction("extra-1", 5.0), "pin": "1234"}
            )
            empty = await client.post("/v1/score", content=b"")
            return [(r.status_code, r.json()) for r in (broken, extra, empty)]

    broken, extra, empty = run(scenario())
    assert broken[0] == 422 and broken[1]["error"] == "invalid_input"
    assert "JSON" in broken[1]["detail"]
    assert extra[0] == 422 and extra[1]["problems"][0]["field"] == "pin"
    assert empty[0] == 422 and empty[1]["error"] == "invalid_input"


def test_confirmed_fraud_raises_the_terminal_risk_of_later_payments(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)

    async def scenario() -> tuple[float, float]:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            fraud = transaction(
                "f-1", 300.0, "cust-a", "term-x", now - timedelta(hours=1)
            )
            case_id = (await client.post("/v1/score", json=fraud)).json()["case_id"]
            later = transaction(
                "f-2", 20.0, "cust-b", "term-x", now + timedelta(minutes=5)
            )
            before = await client.post("/v1/score/what-if", json={"transaction": later})
            decided = await client.post(
                f"/v1/cases/{case_id}/decision",
                json={"outcome": "confirmed_fraud", "analyst": "alice"},
            )
            assert decided.status_code == 200, decided.text
            after = await client.post("/v1/score/what-if", json={"transaction": later})
            return (
                before.json()["features"]["terminal_risk_1d"],
                after.json()["features"]["terminal_risk_1d"],
            )

    risk_before, risk_after = run(scenario())
    assert risk_before == 0.0
    assert risk_after == 1.0


def test_metrics_count_scores_and_name_the_model(
    sentinel_redis_url: str, registered_model: RegisteredModel
) -> None:
    async def scenario() -> str:
        settings = sentinel_settings(
            sentinel_redis_url, registered_model, review_threshold=0.0
        )
        async with running_app(settings) as client:
            for i in range(3):
                await client.post("/v1/score", json=transaction(f"m-{i}"))
            return (await client.get("/metrics")).text

    text = run(scenario())
    assert 'sentinel_scores_total{band="review"} 3.0' in text
    assert "sentinel_degraded_answers_total 0.0" in text
    assert (
        f'sentinel_model_info{{alias="champion",name="{registered_model.name}",'
        f'version="{registered_model.version}"}} 1.0'
    ) in text
    assert "sentinel_drift_share NaN" in text
    assert (
        'route="/v1/score"' in text and "http_request_duration_seconds_bucket" in text
    )
