"""Sentinel: the real-time fraud-scoring API (run with `uvicorn --factory`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import CollectorRegistry

from api.common.app import CheckResult, add_operational_routes
from api.common.auth import api_key_guard
from api.common.logging import configure_logging
from api.common.settings import load_settings
from api.sentinel.settings import SentinelSettings

logger = logging.getLogger(__name__)


async def check_redis(request: Request) -> CheckResult:
    client: aioredis.Redis = request.app.state.redis
    try:
        await client.ping()
    except Exception as error:  # any failure means "not ready", with its reason
        return CheckResult(False, f"redis unreachable: {error}")
    return CheckResult(True, "ping ok")


def create_app(settings: SentinelSettings | None = None) -> FastAPI:
    """Build the Sentinel app; settings come from the environment when not given."""
    settings = settings or load_settings(SentinelSettings, "sentinel")
    configure_logging("sentinel", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = settings.redis_timeout_ms / 1000
        app.state.redis = aioredis.Redis.from_url(
            settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        logger.info("sentinel_started", extra={"model": settings.sentinel_model_name})
        yield
        await app.state.redis.aclose()

    app = FastAPI(title="Sentinel", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    registry = CollectorRegistry()
    app.state.registry = registry
    add_operational_routes(app, "sentinel", registry, {"redis": check_redis})

    v1 = APIRouter(
        prefix="/v1", dependencies=[Depends(api_key_guard(settings.sentinel_api_key))]
    )

    @v1.get("/whoami", summary="Confirms the API key is accepted")
    async def whoami() -> dict[str, str]:
        return {"service": "sentinel", "authenticated": "true"}

    app.include_router(v1)
    return app
