"""The workbench's configuration: where the two APIs are and their keys."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from api.common.settings import ServiceSettings, require_real_secret


class WorkbenchSettings(ServiceSettings):
    """The workbench talks only to Sentinel and Scout, never to their stores."""

    sentinel_url: str = Field(description="Base URL of the Sentinel API.")
    scout_url: str = Field(description="Base URL of the Scout API.")
    sentinel_api_key: SecretStr = Field(description="Key for Sentinel's /v1 routes.")
    scout_api_key: SecretStr = Field(description="Key for Scout's /v1 routes.")
    api_timeout_s: float = Field(5.0, gt=0, description="Timeout of one API call.")

    @field_validator("sentinel_url", "scout_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("sentinel_api_key", "scout_api_key")
    @classmethod
    def _real_key(cls, value: SecretStr) -> SecretStr:
        return require_real_secret(value)
