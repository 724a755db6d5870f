"""Loads the champion model (MLflow registry, or a folder) in a background thread.

The service starts and answers /healthz at once; /readyz and /v1 say "model not
loaded" with the last error until a load succeeds. Attempts repeat every
SCOUT_MODEL_RETRY_S seconds, so Scout recovers when MLflow comes up after it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from api.scout.model import ScoutModel, load_model_folder
from api.scout.settings import ScoutSettings

logger = logging.getLogger(__name__)


def load_champion(settings: ScoutSettings) -> ScoutModel:
    """The model folder of SCOUT_MODEL_DIR, or of the registered alias in MLflow."""
    if settings.scout_model_dir:
        model = load_model_folder(Path(settings.scout_model_dir))
        model.version = {
            "name": settings.scout_model_name,
            "alias": settings.scout_model_alias,
            "version": "local",
            "run_id": "",
            "source": settings.scout_model_dir,
        }
        return model
    import mlflow
    from mlflow import MlflowClient

    # Fail in seconds rather than minutes so readiness shows the reason soon;
    # an operator's own values win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")
    name, alias = settings.scout_model_name, settings.scout_model_alias
    client = MlflowClient(settings.mlflow_tracking_uri)
    version = client.get_model_version_by_alias(name, alias)
    with tempfile.TemporaryDirectory(prefix="scout-model-") as folder:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version.version}",
            dst_path=folder,
            tracking_uri=settings.mlflow_tracking_uri,
        )
        model = load_model_folder(Path(path))
    model.version = {
        "name": name,
        "alias": alias,
        "version": str(version.version),
        "run_id": version.run_id or "",
        "source": f"models:/{name}@{alias}",
    }
    return model


class ModelLoader:
    """Retries load_champion until it succeeds; hands the model to `on_loaded`."""

    def __init__(
        self,
        settings: ScoutSettings,
        on_loaded: Callable[[ScoutModel], None],
    ) -> None:
        self.settings = settings
        self.on_loaded = on_loaded
        self.status = "loading"
        self._stop = threading.Event()
        # A daemon thread: a hanging MLflow call never blocks the process exit.
        self._thread = threading.Thread(
            target=self._run, name="scout-model-loader", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                model = load_champion(self.settings)
                self.on_loaded(model)
            except Exception as error:  # any failure: report it and try again
                self.status = f"model not loaded: {type(error).__name__}: {error}"[:400]
                logger.warning("scout_model_load_failed", extra={"error": self.status})
                self._stop.wait(self.settings.scout_model_retry_s)
                continue
            self.status = "loaded"
            logger.info(
                "scout_model_loaded",
                extra={
                    **model.version,
                    "items": model.size,
                    "seconds": round(time.perf_counter() - started, 2),
                },
            )
            return
