"""The launcher refuses clearly and leaves nothing running when it cannot start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.config import DEFAULT_PORTS, build_config, port_variable
from devstack.processes import Service, StackError, Supervisor
from tests.support import ROOT, free_port

pytestmark = pytest.mark.integration


def stack_env(tmp_path: Path, ports: dict[str, int]) -> dict[str, str]:
    env = dict(os.environ)
    env.update({port_variable(name): str(port) for name, port in ports.items()})
    env["DATA_DIR"] = str(tmp_path / "data")
    env["STACK_ENV_FILE"] = str(tmp_path / ".env")
    return env


def run_stack(
    tmp_path: Path, ports: dict[str, int]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", "run"],
        cwd=ROOT,
        env=stack_env(tmp_path, ports),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("busy", ["redis", "redis-features", "sentinel"])
def test_a_busy_port_is_named_and_nothing_starts(tmp_path: Path, busy: str) -> None:
    ports = {name: free_port() for name in DEFAULT_PORTS}
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports[busy]))
        holder.listen()

        result = run_stack(tmp_path, ports)

    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1
    assert errors == [
        f"error: {busy}: port {ports[busy]} is already in use; stop what uses it "
        f"or set {port_variable(busy)} in .env"
    ]
    run_dir = tmp_path / "data" / "run"
    assert not list(run_dir.glob("*.pid")), "a process was left behind"
    assert not (tmp_path / "data" / "logs" / "redis.log").exists()


def test_a_bad_port_value_names_the_variable(tmp_path: Path) -> None:
    ports = {name: free_port() for name in DEFAULT_PORTS}
    env = stack_env(tmp_path, ports)
    env["UI_PORT"] = "eighty"

    result = subprocess.run(
        [sys.executable, "-m", "devstack", "run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "error: UI_PORT='eighty' is not a port number (1-65535)"
    )


def test_a_service_that_dies_early_is_named_with_its_log(tmp_path: Path) -> None:
    config = build_config(tmp_path, {"DATA_DIR": str(tmp_path / "data")})
    supervisor = Supervisor(config, dict(os.environ))
    crashing = Service(
        "sentinel",
        [sys.executable, "-c", "import sys; sys.exit(3)"],
        ready=lambda: "not yet",
        ready_timeout_s=10,
    )

    with pytest.raises(StackError) as failure:
        supervisor.start(crashing)
    supervisor.stop_all()

    log = config.logs_dir / "sentinel.log"
    assert str(failure.value) == (
        f"sentinel: exited with code 3 before it was ready; see {log}"
    )


def test_a_service_never_ready_is_stopped_after_its_timeout(tmp_path: Path) -> None:
    config = build_config(tmp_path, {"DATA_DIR": str(tmp_path / "data")})
    supervisor = Supervisor(config, dict(os.environ))
    sleeper = Service(
        "scout",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        ready=lambda: "connection refused",
        ready_timeout_s=1,
    )

    with pytest.raises(
        StackError, match=r"scout: not ready after 1 s \(connection refused\)"
    ):
        supervisor.start(sleeper)
    process = sleeper.process
    supervisor.stop_all()

    assert process is not None and process.poll() is not None
