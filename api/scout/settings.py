"""Scout's configuration, read from the environment (the names compose uses)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

from api.common.settings import ServiceSettings, require_real_secret


class QdrantSettings(ServiceSettings):
    """Where the item collection lives; shared by the service and the training job."""

    qdrant_url: str | None = Field(
        None, description="Qdrant server URL; when unset, embedded mode at QDRANT_PATH."
    )
    qdrant_path: str | None = Field(
        None, description="Folder of the embedded (local-mode) Qdrant storage."
    )
    qdrant_api_key: SecretStr | None = Field(
        None, description="API key of the Qdrant server (server mode only)."
    )
    scout_collection: str = Field("scout-items", description="Qdrant collection name.")

    @model_validator(mode="after")
    def _one_qdrant(self) -> QdrantSettings:
        if not self.qdrant_url and not self.qdrant_path:
            raise ValueError("QDRANT_URL or QDRANT_PATH must be set")
        return self

    @property
    def qdrant_mode(self) -> str:
        return "server" if self.qdrant_url else "embedded"


class ScoutSettings(QdrantSettings):
    """Everything the recommendation service needs to start."""

    mlflow_tracking_uri: str = Field(
        description="MLflow server with the model registry."
    )
    scout_api_key: SecretStr = Field(description="Key clients send as X-API-Key.")
    scout_model_name: str = Field(
        "scout-recommender", description="Registered model the service loads."
    )
    scout_model_alias: str = Field(
        "champion", description="Alias of the registered model version to load."
    )
    scout_model_dir: str | None = Field(
        None,
        description="Load the model from this folder instead of the registry "
        "(benchmarks, offline runs); /v1/model then reports version 'local'.",
    )
    scout_model_retry_s: float = Field(
        10.0, gt=0, description="Seconds between attempts to load the model."
    )

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
