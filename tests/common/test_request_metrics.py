"""Request metrics are labelled by route template, never by the raw path."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from api.common.app import add_operational_routes

pytestmark = pytest.mark.unit


def nested_app() -> tuple[FastAPI, CollectorRegistry]:
    """Routers nested two deep, as Sentinel's /v1 -> /cases are."""
    cases = APIRouter(prefix="/cases")

    @cases.get("/{case_id}")
    async def one_case(case_id: str) -> dict[str, str]:
        return {"case_id": case_id}

    @cases.post("/claim-next")
    async def claim_next() -> dict[str, str]:
        return {}

    @cases.post("/{case_id}/decision")
    async def decide(case_id: str) -> dict[str, str]:
        return {"case_id": case_id}

    v1 = APIRouter(prefix="/v1")
    v1.include_router(cases)
    app = FastAPI()
    registry = CollectorRegistry()
    add_operational_routes(app, "test", registry, {})
    app.include_router(v1)
    return app, registry


def routes_counted(registry: CollectorRegistry) -> dict[tuple[str, str, str], float]:
    counted = {}
    for metric in registry.collect():
        if metric.name != "http_requests":
            continue
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                labels = sample.labels
                key = (labels["method"], labels["route"], labels["status"])
                counted[key] = sample.value
    return counted


def test_ids_in_paths_share_one_series_per_route_template() -> None:
    app, registry = nested_app()
    with TestClient(app) as client:
        for case_id in ("c-1", "c-2", "c-3"):
            client.get(f"/v1/cases/{case_id}")
            client.post(f"/v1/cases/{case_id}/decision")
        client.post("/v1/cases/claim-next")
        client.put("/v1/cases/c-9")  # the path exists, not with this method
        client.get("/v1/elsewhere/c-1")
        client.get("/docs")

    assert routes_counted(registry) == {
        ("GET", "/v1/cases/{case_id}", "200"): 3.0,
        ("POST", "/v1/cases/{case_id}/decision", "200"): 3.0,
        ("POST", "/v1/cases/claim-next", "200"): 1.0,
        ("PUT", "/v1/cases/{case_id}", "405"): 1.0,
        ("GET", "unmatched", "404"): 1.0,
        ("GET", "/docs", "200"): 1.0,
    }
