"""Settings fail fast with one line naming the variable at fault."""

from __future__ import annotations

import pytest

from api.common.settings import load_settings
from api.scout.settings import ScoutSettings
from api.sentinel.settings import SentinelSettings
from ui.settings import WorkbenchSettings

pytestmark = pytest.mark.unit

SENTINEL_ENV = {
    "REDIS_URL": "redis://:pw@127.0.0.1:6379/0",
    "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000",
    "SENTINEL_API_KEY": "a-real-key",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*SENTINEL_ENV, "QDRANT_URL", "QDRANT_PATH", "SCOUT_API_KEY"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_sentinel_reads_the_compose_variable_names(
    clean_env: pytest.MonkeyPatch,
) -> None:
    for name, value in SENTINEL_ENV.items():
        clean_env.setenv(name, value)

    settings = load_settings(SentinelSettings, "sentinel")

    assert settings.redis_url == SENTINEL_ENV["REDIS_URL"]
    assert settings.sentinel_api_key.get_secret_value() == "a-real-key"


def test_missing_variable_stops_with_its_name(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("REDIS_URL", SENTINEL_ENV["REDIS_URL"])
    clean_env.setenv("SENTINEL_API_KEY", "a-real-key")

    with pytest.raises(SystemExit) as stopped:
        load_settings(SentinelSettings, "sentinel")

    message = capsys.readouterr().err
    assert stopped.value.code == 2
    assert message.count("\n") == 1
    assert "MLFLOW_TRACKING_URI is required but not set" in message


def test_malformed_url_is_named(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in SENTINEL_ENV.items():
        clean_env.setenv(name, value)
    clean_env.setenv("REDIS_URL", "localhost:6379")

    with pytest.raises(SystemExit):
        load_settings(SentinelSettings, "sentinel")

    assert "REDIS_URL" in capsys.readouterr().err


def test_placeholder_secret_is_refused(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in SENTINEL_ENV.items():
        clean_env.setenv(name, value)
    clean_env.setenv("SENTINEL_API_KEY", "change-me")

    with pytest.raises(SystemExit):
        load_settings(SentinelSettings, "sentinel")

    assert "SENTINEL_API_KEY" in capsys.readouterr().err


def test_scout_needs_a_qdrant_location(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    clean_env.setenv("SCOUT_API_KEY", "a-real-key")

    with pytest.raises(SystemExit):
        load_settings(ScoutSettings, "scout")

    assert "QDRANT_URL or QDRANT_PATH" in capsys.readouterr().err


def test_workbench_names_every_missing_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("SENTINEL_URL", "SCOUT_URL", "SENTINEL_API_KEY", "SCOUT_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(SystemExit):
        load_settings(WorkbenchSettings, "ui")

    message = capsys.readouterr().err
    for name in ("SENTINEL_URL", "SCOUT_URL", "SENTINEL_API_KEY", "SCOUT_API_KEY"):
        assert name in message
