"""Prometheus metrics: per-route latency and counts, recorded by an ASGI middleware."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("api.request")

# Millisecond-scale buckets: the scoring target is a p99 of 5 ms.
LATENCY_BUCKETS = (
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
)
QUIET_PATHS = {"/healthz", "/readyz", "/metrics"}


class HttpMetrics:
    """The request metrics of one service, in that service's own registry."""

    def __init__(self, service: str, registry: CollectorRegistry) -> None:
        self.service = service
        self.registry = registry
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer a request, by route template.",
            ["service", "method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "http_requests",
            "Requests answered, by route template and status.",
            ["service", "method", "route", "status"],
            registry=registry,
        )


class RouteTemplates:
    """The route template of a request ("/v1/cases/{case_id}"), never its raw path.

    Raw paths as label values would create a metric series per case or user id. The
    templates come from the app's OpenAPI document, which spells out the full path of
    every route however routers are nested. Templates without parameters are looked
    up directly; the others are matched in order, static segments first.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._static: dict[tuple[str, str], str] | None = None
        self._patterns: list[tuple[re.Pattern[str], frozenset[str], str]] = []

    def __call__(self, method: str, path: str) -> str:
        static = self._static if self._static is not None else self._build()
        found = static.get((method, path))
        if found is not None:
            return found
        fallback = "unmatched"
        for pattern, methods, template in self._patterns:
            if pattern.fullmatch(path):
                if method in methods:
                    return template
                fallback = template  # the path exists, not with this method
        return fallback

    def _build(self) -> dict[tuple[str, str], str]:
        static: dict[tuple[str, str], str] = {}
        for route in getattr(self.app, "routes", []):  # /docs and others not in it
            path = getattr(route, "path", None)
            if isinstance(path, str) and "{" not in path:
                methods = getattr(route, "methods", None) or {"GET"}
                static.update({(method, path): path for method in methods})
        patterns = []
        paths = self.app.openapi().get("paths", {})
        for template, operations in sorted(paths.items(), key=_static_first):
            methods = frozenset(method.upper() for method in operations)
            if "{" not in template:
                static.update({(method, template): template for method in methods})
            regex, _, _ = compile_path(template)
            patterns.append((regex, methods, template))
        self._patterns = patterns
        self._static = static
        return static


def _static_first(item: tuple[str, Any]) -> tuple[int, str]:
    template = item[0]
    return (template.count("{"), template)


class RequestMetricsMiddleware:
    """Times each HTTP request, labels it by route template and logs one line."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, router_app: Any) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = RouteTemplates(router_app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex[:16]
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self._record(scope, status, started, request_id)

    def _record(
        self, scope: Scope, status: int, started: float, request_id: str
    ) -> None:
        elapsed = time.perf_counter() - started
        route = self.templates(scope["method"], scope["path"])
        labels = (self.metrics.service, scope["method"], route, str(status))
        self.metrics.latency.labels(*labels).observe(elapsed)
        self.metrics.requests.labels(*labels).inc()
        if scope["path"] in QUIET_PATHS and status < 400:
            return
        logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "latency_ms": round(elapsed * 1000, 3),
            },
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))[:64]
    return None
