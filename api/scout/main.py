"""Scout: the recommendation and semantic-search API (run with `uvicorn --factory`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import CollectorRegistry
from threadpoolctl import threadpool_limits

from api.common.app import CheckResult, add_operational_routes
from api.common.auth import api_key_guard
from api.common.heap import settle_heap
from api.common.logging import configure_logging
from api.common.settings import load_settings
from api.scout.drift import scout_drift_router
from api.scout.index import IndexUnavailable, VectorIndex
from api.scout.loader import ModelLoader
from api.scout.model import ScoutModel
from api.scout.qdrant import connect_qdrant
from api.scout.recommender import Recommender
from api.scout.routes import ScoutState, router, users_by_activity
from api.scout.settings import ScoutSettings
from api.scout.telemetry import ScoutMetrics

logger = logging.getLogger(__name__)


async def check_qdrant(request: Request) -> CheckResult:
    """The collection answers and holds one point per item of the loaded model."""
    state: ScoutState = request.app.state.scout
    try:
        count = await asyncio.to_thread(state.index.point_count)
    except IndexUnavailable as error:
        return CheckResult(False, f"qdrant unreachable or collection missing: {error}")
    collection = state.settings.scout_collection
    if state.recommender is not None and count != state.recommender.model.size:
        items = state.recommender.model.size
        return CheckResult(
            False, f"collection {collection} has {count} points, model has {items}"
        )
    return CheckResult(True, f"collection {collection}: {count} points")


async def check_model(request: Request) -> CheckResult:
    state: ScoutState = request.app.state.scout
    if state.recommender is None:
        status = state.loader.status if state.loader else "not started"
        return CheckResult(False, status)
    version = state.recommender.model.version
    return CheckResult(
        True, f"{version['name']}@{version['alias']} version {version['version']}"
    )


def create_app(settings: ScoutSettings | None = None) -> FastAPI:
    """Build the Scout app; settings come from the environment when not given."""
    settings = settings or load_settings(ScoutSettings, "scout")
    configure_logging("scout", settings.log_level)
    registry = CollectorRegistry()
    metrics = ScoutMetrics(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One BLAS thread: a multi-threaded OpenBLAS spins on a busy 2-core machine
        # and turns a 0.1 ms dot product into 10 ms; requests run in parallel anyway.
        blas = threadpool_limits(limits=1, user_api="blas")
        client = connect_qdrant(settings)
        state = ScoutState(
            settings=settings,
            index=VectorIndex(client, settings.scout_collection),
            metrics=metrics,
        )
        state.loader = ModelLoader(settings, lambda model: _serve(state, model))
        app.state.scout = state
        app.state.qdrant = client
        state.loader.start()
        logger.info("scout_started", extra={"qdrant_mode": settings.qdrant_mode})
        yield
        state.loader.stop()
        client.close()
        blas.restore_original_limits()

    app = FastAPI(title="Scout", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.registry = registry
    app.state.metrics = metrics
    add_operational_routes(
        app, "scout", registry, {"qdrant": check_qdrant, "model": check_model}
    )

    v1 = APIRouter(
        prefix="/v1", dependencies=[Depends(api_key_guard(settings.scout_api_key))]
    )

    @v1.get("/whoami", summary="Confirms the API key is accepted")
    async def whoami() -> dict[str, str]:
        return {"service": "scout", "authenticated": "true"}

    v1.include_router(router)
    v1.include_router(scout_drift_router(app))  # drift reports
    app.include_router(v1)
    return app


def _serve(state: ScoutState, model: ScoutModel) -> None:
    """Swap in a freshly loaded model (called from the loader thread)."""
    state.users_by_activity = users_by_activity(model)
    state.recommender = Recommender(model, state.index)
    state.current_lists.clear()
    version = model.version
    state.metrics.serving(version["name"], version["alias"], version["version"])
    settle_heap("model_loaded")
