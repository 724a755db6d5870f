"""Real services for tests and benchmarks, on free ports: redis-server, an MLflow
server, and our APIs under uvicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devstack.config import uvicorn_command
from devstack.processes import find_redis_server, stop_process_group

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout_s} s")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class RunningProcess:
    """A server process started by a fixture; `stop()` ends its whole group."""

    process: subprocess.Popen[bytes]
    port: int
    folder: Path

    def stop(self) -> None:
        stop_process_group(self.process.pid)
        self.process.wait()


@dataclass
class RedisServer(RunningProcess):
    password: str = "test-redis-password"

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def kill_hard(self) -> None:
        """kill -9: no shutdown, no final fsync beyond what AOF already did."""
        self.process.kill()
        self.process.wait()

    def restart(self) -> None:
        self.process = start_redis_process(self.folder, self.port, self.password)


def start_redis_process(
    folder: Path, port: int, password: str
) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        find_redis_server(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(folder),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
        "--requirepass",
        password,
    ]
    log = (folder / "redis.log").open("ab")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    import redis

    def answers() -> bool:
        try:
            return bool(redis.Redis(port=port, password=password).ping())
        except redis.RedisError:
            return False

    wait_until(answers, 15, "redis-server")
    return process


def start_redis(folder: Path) -> RedisServer:
    port = free_port()
    process = start_redis_process(folder, port, RedisServer.password)
    return RedisServer(process=process, port=port, folder=folder)


@dataclass
class MlflowServer(RunningProcess):
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_mlflow(folder: Path) -> MlflowServer:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log = (folder / "mlflow.log").open("ab")
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
    )
    server = MlflowServer(process=process, port=port, folder=folder)
    try:
        wait_until(lambda: _http_ok(f"{server.url}/health"), 120, "mlflow server")
    except TimeoutError:
        server.stop()
        raise
    return server


@dataclass(frozen=True)
class LiveApi:
    url: str
    port: int
    pid: int


@contextmanager
def running_api(
    factory: str,
    settings: dict[str, str],
    log: Path | None = None,
    timeout_s: float = 120,
) -> Iterator[LiveApi]:
    """`factory` (e.g. "api.sentinel.main:create_app") under uvicorn in its own
    process group with `settings` added to the environment; yields it once /readyz
    answers 200, and stops the whole group on the way out."""
    port = free_port()
    output = log.open("ab") if log is not None else subprocess.DEVNULL
    process = subprocess.Popen(
        uvicorn_command(factory, port),
        cwd=ROOT,
        env={**os.environ, **settings},
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            where = f"; see {log}" if log is not None else ""
            raise RuntimeError(f"{factory} exited with {process.returncode}{where}")
        return _http_ok(f"{url}/readyz")

    try:
        wait_until(ready, timeout_s, factory)
        yield LiveApi(url, port, process.pid)
    finally:
        stop_process_group(process.pid)
        process.wait()
        if log is not None:
            output.close()  # type: ignore[union-attr]
