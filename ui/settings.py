"""The workbench's configuration: where the two APIs are, their keys, the analysts."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from api.common.settings import ServiceSettings, require_real_secret
from ui.passwords import PasswordFormatError, parse_analysts


class WorkbenchSettings(ServiceSettings):
    """The workbench talks only to Sentinel and Scout, never to their stores."""

    sentinel_url: str = Field(description="Base URL of the Sentinel API.")
    scout_url: str = Field(description="Base URL of the Scout API.")
    sentinel_api_key: SecretStr = Field(description="Key for Sentinel's /v1 routes.")
    scout_api_key: SecretStr = Field(description="Key for Scout's /v1 routes.")
    api_timeout_s: float = Field(5.0, gt=0, description="Timeout of one API call.")
    workbench_analysts: SecretStr = Field(
        description="Who may sign in: NAME:HASH pairs separated by commas; make an "
        "entry with `python -m ui.passwords NAME`."
    )
    workbench_cookie_secret: SecretStr = Field(
        description="Signs the sign-in cookie, so a reload keeps the analyst signed in."
    )
    workbench_session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="How long a sign-in lasts."
    )
    workbench_page_size: int = Field(
        50, ge=10, le=200, description="Cases per page of the review queue."
    )
    workbench_signin_max_failures: int = Field(
        5,
        ge=1,
        le=100,
        description="Failed sign-ins for one analyst name (or from one browser "
        "session) within WORKBENCH_SIGNIN_WINDOW_S that lock further attempts out.",
    )
    workbench_signin_window_s: float = Field(
        15 * 60, gt=0, description="Period over which failed sign-ins are counted."
    )
    workbench_signin_lockout_s: float = Field(
        15 * 60, gt=0, description="How long a locked-out name or session waits."
    )
    data_dir: Path | None = Field(
        None, description="The stack's data folder; the default home of the state."
    )
    workbench_state_dir: Path | None = Field(
        None,
        description="Where the workbench keeps signed-out sessions; default "
        "DATA_DIR/workbench, else ./workbench-state.",
    )

    @field_validator("sentinel_url", "scout_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("sentinel_api_key", "scout_api_key", "workbench_cookie_secret")
    @classmethod
    def _real_key(cls, value: SecretStr) -> SecretStr:
        return require_real_secret(value)

    @field_validator("workbench_analysts")
    @classmethod
    def _readable_analysts(cls, value: SecretStr) -> SecretStr:
        try:
            analysts = parse_analysts(value.get_secret_value())
        except PasswordFormatError as error:
            raise ValueError(str(error)) from None
        if not analysts:
            raise ValueError(
                "lists no analyst; add NAME:HASH (python -m ui.passwords NAME)"
            )
        return value

    @property
    def state_dir(self) -> Path:
        if self.workbench_state_dir is not None:
            return self.workbench_state_dir
        if self.data_dir is not None:
            return self.data_dir / "workbench"
        return Path("workbench-state")

    @property
    def analysts(self) -> dict[str, str]:
        """Analyst name -> password hash."""
        return parse_analysts(self.workbench_analysts.get_secret_value())
