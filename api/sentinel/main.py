"""Sentinel: the real-time fraud-scoring API (run with `uvicorn --factory`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from api.common.app import CheckResult, ReadinessCheck, add_operational_routes
from api.common.auth import api_key_guard
from api.common.errors import error_body
from api.common.logging import configure_logging
from api.common.settings import load_settings
from api.sentinel.cases import CaseStore
from api.sentinel.decisions import Decisions
from api.sentinel.drift import scored_log_for, sentinel_drift_router
from api.sentinel.durability import DurableWrites
from api.sentinel.features import OnlineFeatureStore, TransactionEvent
from api.sentinel.metrics import SentinelMetrics
from api.sentinel.model import ModelHolder
from api.sentinel.routes import cases, model, scoring, stats
from api.sentinel.scoring import Scorer
from api.sentinel.settings import SentinelSettings

logger = logging.getLogger(__name__)


def redis_client(url: str, timeout_ms: float, retries: int) -> aioredis.Redis:
    """A client whose every command fails within its time budget (no long retry)."""
    timeout = timeout_ms / 1000
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), retries),
        decode_responses=True,
    )


# How long the shutdown waits for the background tasks it cancelled.
SHUTDOWN_WAIT_S = 5.0


def connect_redis(
    settings: SentinelSettings,
) -> tuple[aioredis.Redis, aioredis.Redis, aioredis.Redis]:
    """(fast, store, labels): features while scoring, within the scoring budget;
    the durable queue; label writes to the features Redis, worth waiting for."""
    features_url = settings.features_redis_url or settings.redis_url
    fast = redis_client(features_url, settings.redis_timeout_ms, retries=1)
    store = redis_client(settings.redis_url, settings.redis_store_timeout_ms, retries=2)
    if features_url == settings.redis_url:
        return fast, store, store
    labels = redis_client(features_url, settings.redis_store_timeout_ms, retries=2)
    return fast, store, labels


async def check_redis(request: Request) -> CheckResult:
    """Redis answers and fsyncs every write (unless that is switched off)."""
    durable: DurableWrites = request.app.state.durable
    settings: SentinelSettings = request.app.state.settings
    try:
        durability = await durable.inspect()
    except Exception as error:  # any failure means "not ready", with its reason
        return CheckResult(False, f"redis unreachable: {error}")
    if settings.require_durable_redis and not durability.fsync_every_write:
        return CheckResult(
            False,
            f"{durability.describe()}: decisions would not survive a crash; run "
            "Redis with appendonly yes and appendfsync always "
            "(or set REQUIRE_DURABLE_REDIS=false)",
        )
    return CheckResult(True, durability.describe())


async def check_features_redis(request: Request) -> CheckResult:
    client: aioredis.Redis = request.app.state.labels
    try:
        await client.ping()
    except Exception as error:  # any failure means "not ready", with its reason
        return CheckResult(False, f"features redis unreachable: {error}")
    return CheckResult(True, "ping ok")


async def check_model(request: Request) -> CheckResult:
    models: ModelHolder = request.app.state.models
    current = models.current
    if current is None:
        return CheckResult(False, f"{models.name}@{models.alias}: {models.last_error}")
    return CheckResult(True, f"{current.name} version {current.version}")


async def redis_unavailable(request: Request, error: Exception) -> JSONResponse:
    """Queue reads and writes need Redis: 503 with the reason, not a bare 500."""
    logger.warning(
        "redis_unavailable", extra={"path": request.url.path, "reason": str(error)}
    )
    body = error_body("dependency_unavailable", f"redis unavailable: {error}")
    return JSONResponse(body, status_code=503)


def create_app(settings: SentinelSettings | None = None) -> FastAPI:
    """Build the Sentinel app; settings come from the environment when not given."""
    settings = settings or load_settings(SentinelSettings, "sentinel")
    configure_logging("sentinel", settings.log_level)
    registry = CollectorRegistry()
    metrics = SentinelMetrics(registry)
    models = ModelHolder(
        settings.mlflow_tracking_uri,
        settings.sentinel_model_name,
        settings.sentinel_model_alias,
        settings.model_retry_s,
        on_swap=metrics.model_swapped,
        tree_shap=settings.tree_shap_tables,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        fast, store, labels = connect_redis(settings)
        wire_services(app, settings, metrics, models, fast, store, labels)
        with contextlib.suppress(Exception):  # readiness reports what is wrong
            await app.state.durable.inspect()
            await warm_up_redis(app.state.features)
        tasks = [
            _background(models.keep_loading(), "model_loader"),
            _background(app.state.scorer.keep_flushing(), "pending_writer"),
        ]
        logger.info(
            "sentinel_started",
            extra={
                "model_name": settings.sentinel_model_name,
                "alias": settings.sentinel_model_alias,
            },
        )
        yield
        for task in tasks:
            task.cancel()
        _, stuck = await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT_S)
        for task in stuck:  # the shutdown goes on; what they held is written below
            logger.error("background_task_stuck", extra={"task": task.get_name()})
        await write_pending(app.state.scorer)
        for client in {id(c): c for c in (fast, store, labels)}.values():
            await client.aclose()  # type: ignore[attr-defined]  # stubs predate it

    app = FastAPI(title="Sentinel", version="0.2.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.registry = registry
    app.state.metrics = metrics
    app.state.models = models
    checks: dict[str, ReadinessCheck] = {"redis": check_redis, "model": check_model}
    if settings.features_redis_url:
        checks["features_redis"] = check_features_redis
    add_operational_routes(app, "sentinel", registry, checks)
    app.add_exception_handler(RedisError, redis_unavailable)
    v1 = APIRouter(
        prefix="/v1",
        dependencies=[Depends(api_key_guard(settings.sentinel_api_key))],
    )

    @v1.get("/whoami", summary="Confirms the API key is accepted")
    async def whoami() -> dict[str, str]:
        return {"service": "sentinel", "authenticated": "true"}

    for module in (scoring, cases, model, stats):
        v1.include_router(module.router)
    v1.include_router(sentinel_drift_router(app, settings))  # drift reports
    app.include_router(v1)
    return app


def wire_services(
    app: FastAPI,
    settings: SentinelSettings,
    metrics: SentinelMetrics,
    models: ModelHolder,
    fast: aioredis.Redis,
    store: aioredis.Redis,
    labels: aioredis.Redis,
) -> None:
    """Build the objects the routes depend on (see api.sentinel.dependencies)."""
    durable = DurableWrites(
        store, waitaof_timeout_ms=int(settings.redis_store_timeout_ms)
    )
    case_store = CaseStore(
        store,
        durable,
        claim_ttl_s=settings.claim_ttl_s,
        idempotency_ttl_s=settings.idempotency_ttl_s,
        recent_limit=settings.recent_transactions,
    )
    features = OnlineFeatureStore(fast)
    app.state.redis = store
    app.state.durable = durable
    app.state.cases = case_store
    app.state.features = features
    app.state.scorer = Scorer(features, case_store, models, metrics, settings)
    app.state.scorer.scored_log = scored_log_for(app, store)  # drift reports
    app.state.labels = labels
    app.state.decisions = Decisions(case_store, OnlineFeatureStore(labels), metrics)


async def warm_up_redis(features: OnlineFeatureStore, connections: int = 4) -> None:
    """Open a few connections and load the feature script before the first request,
    which would otherwise spend its time budget on that."""
    probe = TransactionEvent(
        transaction_id="sentinel-warm-up",
        timestamp=datetime.now(UTC),
        customer_id="sentinel-warm-up",
        terminal_id="sentinel-warm-up",
        amount=0.0,
    )
    await asyncio.gather(*(features.read_only(probe) for _ in range(connections)))


async def write_pending(scorer: Scorer, timeout_s: float = 5.0) -> None:
    """On shutdown, one last attempt to write what Redis could not take earlier."""
    if not scorer.pending and not scorer.approvals:
        return
    scorer.breaker.reset()
    try:
        async with asyncio.timeout(timeout_s):
            await scorer.settle()
            await scorer.flush_pending()
    except Exception as error:  # the log names what is lost
        logger.warning("pending_writes_lost_on_shutdown", extra={"reason": str(error)})
    if scorer.pending:
        logger.error(
            "pending_writes_lost_on_shutdown", extra={"count": len(scorer.pending)}
        )


def _background(work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    async def guarded() -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("background_task_failed", extra={"task": name})

    return asyncio.create_task(guarded(), name=name)
