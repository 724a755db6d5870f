"""The container commands and probes, run here as native processes.

Sentinel, Scout and the workbench start from their Dockerfile CMD (only the
bind address and port swapped for local ones) with the environment
compose gives them (store URLs pointed at the session's redis-server and MLflow).
Then: every metric the Grafana dashboard queries must be on their /metrics pages,
and each healthcheck command must say "healthy" exactly when the service is.
MLflow's command is parsed by its own CLI rather than started (its first start
migrates a database and is slow on a shared machine).
"""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.processes import stop_process_group
from tests.static import stackfiles as sf
from tests.support import MlflowServer, RedisServer, free_port, wait_until

pytestmark = pytest.mark.integration

LISTEN_OPTIONS = {"--host": "127.0.0.1", "--server.address": "127.0.0.1"}
PORT_OPTIONS = {"--port", "--server.port"}


@dataclass
class LocalService:
    """A container command running as a local process."""

    name: str
    port: int
    container_port: str
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def local_command(argv: list[str], port: int) -> list[str]:
    """The container argv with our interpreter, on loopback and a free port."""
    command = [sys.executable if argv[0] == "python" else argv[0]]
    previous = ""
    for token in argv[1:]:
        if previous in LISTEN_OPTIONS:
            token = LISTEN_OPTIONS[previous]
        elif previous in PORT_OPTIONS:
            token = str(port)
        command.append(token)
        previous = token if token.startswith("--") else ""
    return command


def container_port(argv: list[str]) -> str:
    option = next(o for o in PORT_OPTIONS if o in argv)
    return argv[argv.index(option) + 1]


def local_environment(name: str, overrides: dict[str, str]) -> dict[str, str]:
    """Compose's environment for the service; none of the developer's stack names."""
    stack_names = sf.native_variable_names()
    env = {k: v for k, v in os.environ.items() if k not in stack_names}
    for key, value in sf.environment_of(sf.services()[name]).items():
        env[key] = sf.interpolate(value, sf.sample_dotenv())
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def start(name: str, folder: Path, overrides: dict[str, str]) -> LocalService:
    argv = sf.effective_command(name)
    port = free_port()
    log = folder / f"{name}.log"
    environment = local_environment(name, overrides)
    process = subprocess.Popen(
        local_command(argv, port),
        cwd=sf.ROOT,
        env=environment,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return LocalService(name, port, container_port(argv), process, log)


def wait_for(service: LocalService, path: str, timeout_s: float = 120) -> None:
    try:
        wait_until(lambda: status_of(service.url(path)) == 200, timeout_s, service.name)
    except TimeoutError:
        stop_process_group(service.process.pid)
        log = service.log_tail()
        raise AssertionError(f"{service.name} never answered:\n{log}") from None


def status_of(url: str, host: str | None = None) -> int:
    headers = {"Host": host} if host else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def scrape(service: LocalService) -> str:
    with urllib.request.urlopen(service.url("/metrics"), timeout=5) as response:  # noqa: S310
        return str(response.read().decode())


@pytest.fixture(scope="module")
def apis(
    redis_server: RedisServer,
    mlflow_server: MlflowServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, LocalService]]:
    folder = tmp_path_factory.mktemp("containers")
    overrides = {
        "REDIS_URL": redis_server.url,
        "MLFLOW_TRACKING_URI": mlflow_server.url,
        "QDRANT_URL": "",
        "QDRANT_API_KEY": "",
        "QDRANT_PATH": str(folder / "qdrant"),
        "DATA_DIR": str(folder / "data"),
        "LOG_LEVEL": "WARNING",
    }
    running: dict[str, LocalService] = {}
    try:
        for name in ("sentinel", "scout"):
            running[name] = start(name, folder, overrides)
        for service in running.values():
            wait_for(service, "/healthz")
        yield running
    finally:
        for service in running.values():
            stop_process_group(service.process.pid)


def test_every_metric_the_dashboard_queries_is_exported(
    apis: dict[str, LocalService],
) -> None:
    exported = {}
    for name, service in apis.items():
        status_of(service.url("/healthz"))  # one request, so request metrics exist
        exported[name] = sf.exported_metric_names(scrape(service))
    missing: dict[str, list[str]] = {}
    for _, expression in sf.dashboard_expressions():
        for metric in sf.queried_metrics(expression):
            owners = [n for n in apis if metric.startswith(f"{n}_")] or list(apis)
            for owner in owners:
                if metric not in exported[owner]:
                    missing.setdefault(owner, [])
                    if metric not in missing[owner]:
                        missing[owner].append(metric)
    assert not missing, f"queried by the dashboard, not exported: {missing}"


def run_probe(argv: list[str], service_port: str, port: int) -> int:
    """Run a container's exec-form probe against a local port."""
    command = [sys.executable if argv[0] == "python" else argv[0]]
    command += [part.replace(f":{service_port}/", f":{port}/") for part in argv[1:]]
    return subprocess.run(
        command, capture_output=True, check=False, timeout=30
    ).returncode


def image_probe(name: str) -> list[str]:
    check = sf.image_of(name).healthcheck or ""
    return sf.exec_form(check[check.index("CMD ") :])


def compose_probe(name: str) -> list[str]:
    test = sf.services()[name]["healthcheck"]["test"]
    assert test[0] == "CMD", f"{name}: expected an exec-form healthcheck"
    return [str(part) for part in test[1:]]


@pytest.mark.parametrize("name", ["sentinel", "scout"])
@pytest.mark.parametrize(
    "probe", [image_probe, compose_probe], ids=["image", "compose"]
)
def test_api_probe_is_healthy_exactly_when_ready(
    apis: dict[str, LocalService], name: str, probe: Callable[[str], list[str]]
) -> None:
    service = apis[name]
    argv = probe(name)
    ready = status_of(service.url("/readyz")) == 200
    exit_code = run_probe(argv, service.container_port, service.port)
    assert (exit_code == 0) == ready, f"probe exit {exit_code}, ready={ready}"
    assert run_probe(argv, service.container_port, free_port()) != 0, "dead port"


def test_workbench_command_starts_and_its_probe_passes(
    apis: dict[str, LocalService], tmp_path: Path
) -> None:
    overrides = {
        "SENTINEL_URL": apis["sentinel"].url(""),
        "SCOUT_URL": apis["scout"].url(""),
        "HOME": str(tmp_path),
    }
    workbench = start("ui", tmp_path, overrides)
    try:
        wait_for(workbench, "/_stcore/health")
        port = workbench.container_port
        assert run_probe(image_probe("ui"), port, workbench.port) == 0
    finally:
        stop_process_group(workbench.process.pid)


def test_mlflow_command_parses_and_allows_the_compose_host_name_only() -> None:
    """The image's `mlflow server` arguments, parsed by the installed MLflow CLI,
    and its Host-header allow-list, judged by MLflow's own matcher."""
    from mlflow.cli import cli
    from mlflow.server.security_utils import is_allowed_host_header

    argv = sf.effective_command("mlflow")
    assert argv[:4] == ["python", "-m", "mlflow", "server"], argv
    context = cli.commands["server"].make_context("server", argv[4:])
    allowed = [host.strip() for host in context.params["allowed_hosts"].split(",")]
    for host in ("mlflow:5000", "mlflow", "localhost:5000", "127.0.0.1:5000"):
        assert is_allowed_host_header(allowed, host), host
    for host in ("attacker.example:5000", "mlflow.attacker.example"):
        assert not is_allowed_host_header(allowed, host), host


class _Readiness(http.server.BaseHTTPRequestHandler):
    status = 200
    key = "qdrant-test-key"

    def do_GET(self) -> None:
        if self.headers.get("api-key") != self.key:
            self.send_response(401)
        else:
            self.send_response(self.status if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("status", [200, 503])
def test_qdrant_probe_follows_readyz(status: int) -> None:
    """The bash /dev/tcp probe (Qdrant's image has no curl): status line and key."""
    handler = type("Handler", (_Readiness,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        script = sf.interpolate(compose_probe("qdrant")[2], {})
        port = server.server_address[1]
        command = ["bash", "-c", script.replace("127.0.0.1/6333", f"127.0.0.1/{port}")]
        for key, healthy in ((_Readiness.key, status == 200), ("wrong", False)):
            env = {**os.environ, "QDRANT__SERVICE__API_KEY": key}
            run = subprocess.run(
                command, env=env, capture_output=True, check=False, timeout=30
            )
            assert (run.returncode == 0) == healthy, (key, run.stderr)
    finally:
        server.shutdown()
        server.server_close()


def test_redis_probe_needs_the_password(redis_server: RedisServer) -> None:
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed here (Debian: redis-tools)")
    (kind, command) = sf.services()["redis"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    local = command.replace("redis-cli", f"redis-cli -p {redis_server.port}", 1)
    for password, healthy in ((redis_server.password, True), ("wrong", False)):
        env = {**os.environ, "REDISCLI_AUTH": password}
        run = subprocess.run(
            ["sh", "-c", local], env=env, capture_output=True, check=False, timeout=30
        )
        assert (run.returncode == 0) == healthy, (password, run.stdout, run.stderr)
