"""What the native stack runs: ports, folders, entry points and environment."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PORTS = {
    "redis": 6379,
    "redis-features": 6380,
    "mlflow": 5000,
    "sentinel": 8001,
    "scout": 8002,
    "ui": 8501,
}
LOOPBACK = "127.0.0.1"


def port_variable(service: str) -> str:
    """REDIS_PORT, REDIS_FEATURES_PORT, ...: the variable that moves a service."""
    return f"{service.upper().replace('-', '_')}_PORT"


# Variables the shell may set to override .env for one run.
STACK_VARIABLES = {port_variable(name) for name in DEFAULT_PORTS} | {"DATA_DIR"}


class StackConfigError(Exception):
    """A setting of the native stack that cannot be used as given."""


@dataclass(frozen=True)
class StackConfig:
    """Where the native stack keeps its data and which ports it listens on."""

    root: Path
    data_dir: Path
    ports: dict[str, int]
    settings: dict[str, str]

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    def url(self, service: str) -> str:
        return f"http://{LOOPBACK}:{self.ports[service]}"


def build_config(root: Path, settings: dict[str, str]) -> StackConfig:
    """Ports from <SERVICE>_PORT, data under DATA_DIR (default ./data)."""
    ports = {}
    for service, default in DEFAULT_PORTS.items():
        variable = port_variable(service)
        raw = settings.get(variable, str(default))
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise StackConfigError(f"{variable}={raw!r} is not a port number (1-65535)")
        ports[service] = int(raw)
    if len(set(ports.values())) != len(ports):
        raise StackConfigError(f"two services share a port: {ports}")
    data_dir = Path(settings.get("DATA_DIR", "data"))
    if not data_dir.is_absolute():
        data_dir = root / data_dir
    return StackConfig(root=root, data_dir=data_dir, ports=ports, settings=settings)


def service_environment(config: StackConfig) -> dict[str, str]:
    """The variables every process gets: .env, then the URLs of the native stack.

    The names are the ones docker-compose.yml sets, so the code cannot tell the two
    apart; only the hosts differ (loopback here, service names in compose).
    """
    settings = config.settings
    password = settings.get("REDIS_PASSWORD", "")
    env = dict(os.environ)
    env.update(settings)
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            # MLflow's background job workers (GenAI scorers) are not used here; off,
            # the server starts faster and runs no extra processes.
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            "DATA_DIR": str(config.data_dir),
            "REDIS_URL": f"redis://:{password}@{LOOPBACK}:{config.ports['redis']}/0",
            # Online features live on their own Redis (docs/adr/0007).
            "FEATURES_REDIS_URL": (
                f"redis://:{password}@{LOOPBACK}:{config.ports['redis-features']}/0"
            ),
            "MLFLOW_TRACKING_URI": config.url("mlflow"),
            "SENTINEL_URL": config.url("sentinel"),
            "SCOUT_URL": config.url("scout"),
        }
    )
    if not settings.get("QDRANT_URL"):
        env.pop("QDRANT_URL", None)
        env["QDRANT_PATH"] = str(config.data_dir / "qdrant")
    return env


def uvicorn_command(factory: str, port: int, host: str = LOOPBACK) -> list[str]:
    """How every API runs: `uvicorn MODULE:create_app --factory`, no access log
    (the apps log each request themselves, as JSON)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
    ]


def entry_points(config: StackConfig) -> dict[str, list[str]]:
    """The command of each service; compose runs the same modules (parity test)."""
    python = sys.executable
    data = config.data_dir
    ports = config.ports
    return {
        "mlflow": [
            python,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{data / 'mlflow' / 'mlflow.db'}",
            "--artifacts-destination",
            str(data / "mlflow" / "artifacts"),
            "--host",
            LOOPBACK,
            "--port",
            str(ports["mlflow"]),
            "--workers",
            "1",
        ],
        "bootstrap-seed": [python, "-m", "pipelines.bootstrap", "seed"],
        "bootstrap-traffic": [python, "-m", "pipelines.bootstrap", "traffic"],
        "sentinel": uvicorn_command("api.sentinel.main:create_app", ports["sentinel"]),
        "scout": uvicorn_command("api.scout.main:create_app", ports["scout"]),
        "ui": [
            python,
            "-m",
            "streamlit",
            "run",
            str(config.root / "ui" / "app.py"),
            "--server.address",
            LOOPBACK,
            "--server.port",
            str(ports["ui"]),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
    }
