"""The native stack (`python -m devstack run`) started for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack.config import DEFAULT_PORTS, port_variable
from devstack.envfile import read_env_file
from devstack.processes import stop_process_group
from tests.support import ROOT, free_port

SERVICES = tuple(DEFAULT_PORTS)


@dataclass
class NativeStack:
    """A whole stack in a temporary folder, on free ports, with its own .env."""

    folder: Path
    ready_timeout_s: float = 1800.0
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.ports = {name: free_port() for name in SERVICES}

    @property
    def env_file(self) -> Path:
        return self.folder / ".env"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def settings(self) -> dict[str, str]:
        return read_env_file(self.env_file)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {port_variable(name): str(port) for name, port in self.ports.items()}
        )
        env["DATA_DIR"] = str(self.data_dir)
        env["STACK_ENV_FILE"] = str(self.env_file)
        return env

    def start(self) -> float:
        """Start and wait until every service is ready; returns the seconds it took."""
        started = time.monotonic()
        ready = self.data_dir / "run" / "stack.ready"
        ready.unlink(missing_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / "stack.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devstack", "run"],
            cwd=ROOT,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = started + self.ready_timeout_s
        while time.monotonic() < deadline:
            if ready.exists():
                return time.monotonic() - started
            if self.process.poll() is not None:
                raise RuntimeError(f"stack failed:\n{self.log_tail()}")
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(
            f"stack not ready in {self.ready_timeout_s} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the way `make stop` does, then prove no process was left behind."""
        if self.process is None:
            return
        children = [
            int(path.read_text()) for path in (self.data_dir / "run").glob("*.pid")
        ]
        subprocess.run(
            [sys.executable, "-m", "devstack", "stop"],
            cwd=ROOT,
            env=self.environment(),
            capture_output=True,
            timeout=120,
            check=True,
        )
        self.process.wait(timeout=30)
        self.process = None
        survivors = [pid for pid in children if _group_alive(pid)]
        if survivors:
            for pid in survivors:
                stop_process_group(pid, grace_s=5)
            raise AssertionError(f"`devstack stop` left processes running: {survivors}")

    def log_tail(self, lines: int = 40) -> str:
        text = (self.folder / "stack.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
