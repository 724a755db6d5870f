"""Scout: the recommendation and semantic-search API (run with `uvicorn --factory`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import CollectorRegistry
from qdrant_client import QdrantClient

from api.common.app import CheckResult, add_operational_routes
from api.common.auth import api_key_guard
from api.common.logging import configure_logging
from api.common.settings import load_settings
from api.scout.qdrant import connect_qdrant
from api.scout.settings import ScoutSettings

logger = logging.getLogger(__name__)


async def check_qdrant(request: Request) -> CheckResult:
    client: QdrantClient = request.app.state.qdrant
    try:
        collections = await asyncio.to_thread(client.get_collections)
    except Exception as error:  # any failure means "not ready", with its reason
        return CheckResult(False, f"qdrant unreachable: {error}")
    return CheckResult(True, f"{len(collections.collections)} collection(s)")


def create_app(settings: ScoutSettings | None = None) -> FastAPI:
    """Build the Scout app; settings come from the environment when not given."""
    settings = settings or load_settings(ScoutSettings, "scout")
    configure_logging("scout", settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.qdrant = connect_qdrant(settings)
        mode = "server" if settings.qdrant_url else "embedded"
        logger.info("scout_started", extra={"qdrant_mode": mode})
        yield
        app.state.qdrant.close()

    app = FastAPI(title="Scout", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    registry = CollectorRegistry()
    app.state.registry = registry
    add_operational_routes(app, "scout", registry, {"qdrant": check_qdrant})

    v1 = APIRouter(
        prefix="/v1", dependencies=[Depends(api_key_guard(settings.scout_api_key))]
    )

    @v1.get("/whoami", summary="Confirms the API key is accepted")
    async def whoami() -> dict[str, str]:
        return {"service": "scout", "authenticated": "true"}

    app.include_router(v1)
    return app
