"""Settings shared by every service: read from the environment, fail fast, clearly."""

from __future__ import annotations

import sys
from typing import TypeVar

from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"  # noqa: S105 - the placeholder we refuse

SettingsT = TypeVar("SettingsT", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    """Fields every service reads; subclasses add their own."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", case_sensitive=False, frozen=True
    )

    log_level: str = "INFO"
    """Python logging level name (DEBUG, INFO, WARNING, ERROR)."""

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level


def require_real_secret(value: SecretStr) -> SecretStr:
    """Refuse empty secrets and the placeholder shipped in .env.example."""
    raw = value.get_secret_value()
    if not raw or raw == PLACEHOLDER_SECRET:
        raise ValueError(
            "is empty or still the placeholder; run `make env` or set a random value"
        )
    return value


def describe_error(error: ValidationError) -> str:
    """One line naming each environment variable at fault and why."""
    parts = []
    for item in error.errors():
        variable = "_".join(str(p) for p in item["loc"]).upper() or "?"
        reason = item["msg"]
        if item["type"] == "missing":
            reason = "is required but not set"
        parts.append(f"{variable} {reason}")
    return "; ".join(parts)


def load_settings(cls: type[SettingsT], service: str) -> SettingsT:
    """Build the settings or stop the process with a one-line message."""
    try:
        return cls()
    except ValidationError as error:
        sys.stderr.write(f"{service}: configuration error: {describe_error(error)}\n")
        raise SystemExit(2) from None
