"""Scout fixtures: a small generated dataset, trained into a real MLflow server and a
Qdrant local-mode folder, served by the real app (one app holds the folder's lock)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.scout.main import create_app
from api.scout.settings import QdrantSettings, ScoutSettings
from pipelines.generate_interactions import GeneratorConfig, generate, write_dataset
from pipelines.train_scout import TrainConfig, TrainingResult, run
from tests.support import MlflowServer, wait_until

KEY = "scout-test-key"
HEADERS = {"X-API-Key": KEY}
SMALL = GeneratorConfig(items=400, users=300, mean_views_per_user=20, seed=11)
SMALL_TRAINING = TrainConfig(dims=32, text_dims=48)


@dataclass(frozen=True)
class TrainedScout:
    data: Path
    qdrant_path: Path
    tracking_uri: str
    result: TrainingResult


@pytest.fixture(scope="session")
def scout_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scout-data")
    write_dataset(generate(SMALL), folder)
    return folder


@pytest.fixture(scope="session")
def trained_scout(
    scout_data: Path,
    mlflow_server: MlflowServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> TrainedScout:
    qdrant_path = tmp_path_factory.mktemp("scout-qdrant") / "qdrant"
    result = run(
        scout_data,
        mlflow_server.url,
        QdrantSettings(qdrant_path=str(qdrant_path)),
        SMALL_TRAINING,
    )
    return TrainedScout(scout_data, qdrant_path, mlflow_server.url, result)


def scout_settings(**overrides: object) -> ScoutSettings:
    values: dict[str, object] = {
        "scout_api_key": SecretStr(KEY),
        "scout_model_retry_s": 0.5,
        "log_level": "WARNING",
        **overrides,
    }
    return ScoutSettings(**values)  # type: ignore[arg-type]


def wait_for_model(client: TestClient) -> None:
    def decided() -> bool:
        detail = client.get("/readyz").json()["checks"]["model"]["detail"]
        return bool(detail != "loading")

    wait_until(decided, 60, "scout model load attempt")


@pytest.fixture(scope="session")
def scout_client(trained_scout: TrainedScout) -> Iterator[TestClient]:
    """The app on the trained collection, model loaded from the MLflow registry."""
    settings = scout_settings(
        qdrant_path=str(trained_scout.qdrant_path),
        mlflow_tracking_uri=trained_scout.tracking_uri,
    )
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 60, "scout ready")
        yield client
