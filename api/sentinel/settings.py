"""Sentinel's configuration, read from the environment (the names compose uses)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator, model_validator

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
    features_redis_url: str | None = Field(
        None,
        description="Redis for the online features when it should not be the "
        "durable one (default: REDIS_URL). Every scored transaction writes its "
        "features; on a Redis with appendfsync always each of those waits for an "
        "fsync. Features can be rebuilt, decisions cannot: a features Redis may "
        "fsync every second.",
    )
    redis_timeout_ms: float = Field(
        20.0, gt=0, description="Time budget of one Redis round trip while scoring."
    )
    redis_store_timeout_ms: float = Field(
        2000.0,
        gt=0,
        description="Time budget of a case or decision write (durable, fsynced).",
    )
    redis_retry_after_ms: float = Field(
        250.0,
        ge=0,
        description="After a Redis failure while scoring, how long to answer in "
        "degraded mode before trying Redis again.",
    )
    review_threshold: float = Field(
        0.5, ge=0, le=1, description="Scores at or above this open a review case."
    )
    block_threshold: float = Field(
        0.9, ge=0, le=1, description="Scores at or above this are blocked."
    )
    degraded_max_approve_amount: float = Field(
        100.0,
        ge=0,
        description="In degraded mode, a transaction above this amount is never "
        "approved (it goes to review instead).",
    )
    reasons_top_k: int = Field(
        5, ge=1, le=50, description="How many feature contributions a score explains."
    )
    tree_shap_tables: bool = Field(
        True,
        description="Explain with TreeSHAP tables built at model load (checked "
        "against XGBoost's pred_contribs first; every answer then carries exact "
        "reasons). false: ask XGBoost itself for every explanation, exact for cases "
        "only (see api/sentinel/treeshap.py).",
    )
    model_retry_s: float = Field(
        5.0,
        gt=0,
        description="While no model is loaded, seconds between attempts to load it.",
    )
    claim_ttl_s: int = Field(
        900, gt=0, description="How long a claimed case stays locked to its analyst."
    )
    idempotency_ttl_s: int = Field(
        7 * 24 * 3600,
        gt=0,
        description="How long a decision's Idempotency-Key is remembered.",
    )
    recent_transactions: int = Field(
        20, ge=1, le=500, description="Recent transactions kept per customer."
    )
    pending_cases_limit: int = Field(
        10_000,
        ge=0,
        description="Cases held in memory while Redis is down, written when it "
        "answers again (lost if the process stops first).",
    )
    require_durable_redis: bool = Field(
        True,
        description="Not ready unless Redis fsyncs every write (appendfsync always).",
    )

    @field_validator("redis_url", "features_redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(
            ("redis://", "rediss://", "unix://")
        ):
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

    @model_validator(mode="after")
    def _ordered_thresholds(self) -> SentinelSettings:
        if self.block_threshold < self.review_threshold:
            raise ValueError(
                "BLOCK_THRESHOLD must be at least REVIEW_THRESHOLD "
                f"({self.block_threshold} < {self.review_threshold})"
            )
        return self
