"""Building blocks every service app shares: health, readiness, metrics, errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from api.common.errors import install_error_handlers
from api.common.metrics import HttpMetrics, RequestMetricsMiddleware


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one readiness check."""

    ok: bool
    detail: str


ReadinessCheck = Callable[[Request], Awaitable[CheckResult]]


def add_operational_routes(
    app: FastAPI,
    service: str,
    registry: CollectorRegistry,
    checks: dict[str, ReadinessCheck],
) -> HttpMetrics:
    """Mount /healthz, /readyz and /metrics plus the request middleware."""
    metrics = HttpMetrics(service, registry)
    install_error_handlers(app)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics, router_app=app)

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @app.get("/readyz", tags=["operations"], summary="Every dependency answers")
    async def readyz(request: Request) -> JSONResponse:
        results = {name: await check(request) for name, check in checks.items()}
        ready = all(result.ok for result in results.values())
        body = {
            "status": "ready" if ready else "not_ready",
            "service": service,
            "checks": {
                name: {"ok": result.ok, "detail": result.detail}
                for name, result in results.items()
            },
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return metrics
