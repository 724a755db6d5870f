"""Sentinel's configuration, read from the environment (the names compose uses)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from api.common.settings import ServiceSettings, require_real_secret


class SentinelSettings(ServiceSettings):
    """Everything the fraud-scoring service needs to start."""

    redis_url: str = Field(description="Redis holding online features and the queue.")
    mlflow_tracking_uri: str = Field(
        description="MLflow server with the model registry."
    )
    sentinel_api_key: SecretStr = Field(description="Key clients send as X-API-Key.")
    sentinel_model_name: str = Field(
        "sentinel-fraud", description="Registered model name in MLflow."
    )
    sentinel_model_alias: str = Field(
        "champion", description="Registry alias of the model to serve."
    )
    redis_timeout_ms: float = Field(
        20.0, gt=0, description="Time budget of one Redis round trip while scoring."
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _http_uri(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be the http(s) URL of an MLflow server")
        return value.rstrip("/")

    @field_validator("sentinel_api_key")
    @classmethod
    def _real_key(cls, value: SecretStr) -> SecretStr:
        return require_real_secret(value)
