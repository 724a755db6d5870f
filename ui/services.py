"""The workbench's settings and API clients, built once per server process."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx
import streamlit as st
from pydantic import ValidationError

from api.common.logging import configure_logging
from api.common.settings import describe_error
from ui.client import ApiClient
from ui.scout_api import ScoutApi
from ui.sentinel_api import SentinelApi
from ui.settings import WorkbenchSettings


@dataclass(frozen=True)
class Services:
    settings: WorkbenchSettings
    sentinel: ApiClient
    scout: ApiClient

    @property
    def sentinel_api(self) -> SentinelApi:
        return SentinelApi(self.sentinel)

    @property
    def scout_api(self) -> ScoutApi:
        return ScoutApi(self.scout)


class ConfigurationProblem(Exception):
    """The workbench cannot start its clients; the message names the variable."""


@st.cache_resource
def get_services() -> Services:
    try:
        settings = WorkbenchSettings()
    except ValidationError as error:
        raise ConfigurationProblem(describe_error(error)) from None
    configure_logging("ui", settings.log_level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per call is noise
    timeout = settings.api_timeout_s
    return Services(
        settings=settings,
        sentinel=ApiClient(
            "Sentinel",
            settings.sentinel_url,
            settings.sentinel_api_key.get_secret_value(),
            timeout,
        ),
        scout=ApiClient(
            "Scout",
            settings.scout_url,
            settings.scout_api_key.get_secret_value(),
            timeout,
        ),
    )


def readiness(client: ApiClient) -> dict[str, Any]:
    """The service's /readyz body, or a synthetic one saying why it cannot be read."""
    try:
        response = httpx.get(f"{client.base_url}/readyz", timeout=client.timeout_s)
    except httpx.HTTPError as error:
        return {
            "status": "unreachable",
            "checks": {
                "connection": {"ok": False, "detail": str(error) or "no answer"}
            },
        }
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {"status": f"HTTP {response.status_code}", "checks": {}}
    return body
