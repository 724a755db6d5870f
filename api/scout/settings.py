"""Scout's configuration, read from the environment (the names compose uses)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from api.common.settings import ServiceSettings, require_real_secret


class ScoutSettings(ServiceSettings):
    """Everything the recommendation service needs to start."""

    qdrant_url: str | None = Field(
        None, description="Qdrant server URL; when unset, embedded mode at QDRANT_PATH."
    )
    qdrant_path: str | None = Field(
        None, description="Folder of the embedded (local-mode) Qdrant storage."
    )
    qdrant_api_key: SecretStr | None = Field(
        None, description="API key of the Qdrant server (server mode only)."
    )
    mlflow_tracking_uri: str = Field(
        description="MLflow server with the model registry."
    )
    scout_api_key: SecretStr = Field(description="Key clients send as X-API-Key.")
    scout_collection: str = Field("scout-items", description="Qdrant collection name.")

    @field_validator("scout_api_key")
    @classmethod
    def _real_key(cls, value: SecretStr) -> SecretStr:
        return require_real_secret(value)

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _http_uri(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be the http(s) URL of an MLflow server")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_qdrant(self) -> ScoutSettings:
        if not self.qdrant_url and not self.qdrant_path:
            raise ValueError("QDRANT_URL or QDRANT_PATH must be set")
        return self
