"""`python -m devstack run|start|stop|status`: the native stack behind `make run`."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.config import (
    STACK_VARIABLES,
    StackConfig,
    StackConfigError,
    build_config,
    entry_points,
    service_environment,
)
from devstack.envfile import (
    ANALYSTS_VARIABLE,
    FIRST_ANALYST,
    add_first_analyst,
    create_env_file,
    read_env_file,
)
from devstack.processes import (
    REDIS_FSYNC,
    Service,
    StackError,
    Supervisor,
    check_ports,
    http_ready,
    redis_command,
    redis_ready,
    stop_process_group,
)

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP_TIMEOUT_S = 1800.0


def load_config() -> StackConfig:
    """.env (STACK_ENV_FILE names another file); the shell's variables win."""
    env_file = Path(os.environ.get("STACK_ENV_FILE", ROOT / ".env"))
    if create_env_file(ROOT / ".env.example", env_file):
        pass
    if not os.environ.get(ANALYSTS_VARIABLE):
        announce_first_analyst(add_first_analyst(env_file))
    settings = read_env_file(env_file)
    for key, value in os.environ.items():
        if key in settings or key in STACK_VARIABLES:
            settings[key] = value
    return build_config(ROOT, settings)


def announce_first_analyst(password: str | None) -> None:
    """Print the generated workbench password once; only its hash is in .env."""
    if password is None:
        return
    print(
        f"[stack] first workbench analyst: {FIRST_ANALYST}, password: {password}\n"
        "[stack]   shown only now; add analysts with "
        "`.venv/bin/python -m ui.passwords NAME` (see .env.example)",
        flush=True,
    )


def plan_services(config: StackConfig) -> tuple[list[Service], list[Service]]:
    """Infrastructure first (before bootstrap), then the applications."""
    commands = entry_points(config)
    ports = config.ports
    password = config.settings.get("REDIS_PASSWORD")
    infrastructure = [
        Service(
            name,
            redis_command(config, name),
            redis_ready(ports[name], password),
            ready_timeout_s=20,
            port=ports[name],
        )
        for name in REDIS_FSYNC
    ]
    infrastructure += [
        Service(
            "mlflow",
            commands["mlflow"],
            http_ready(f"{config.url('mlflow')}/health"),
            ready_timeout_s=300,
            port=ports["mlflow"],
        ),
    ]
    applications = [
        Service(
            name,
            commands[name],
            http_ready(f"{config.url(name)}{path}"),
            ready_timeout_s=300,
            port=ports[name],
        )
        for name, path in (
            ("sentinel", "/readyz"),
            ("scout", "/readyz"),
            ("ui", "/_stcore/health"),
        )
    ]
    return infrastructure, applications


class StopRequested(Exception):
    """Ctrl-C or SIGTERM (`make stop`) arrived: unwind and stop every child."""


def _request_stop(signum: int, frame: object) -> None:
    # Ignore repeats while we shut down, so a second Ctrl-C cannot orphan children.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise StopRequested


def run(config: StackConfig) -> int:
    """Start everything, print the URLs, wait for Ctrl-C or `make stop`."""
    started_at = time.monotonic()
    (config.data_dir / "mlflow").mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(config, service_environment(config))
    pid_file = config.run_dir / "stack.pid"
    pid_file.write_text(str(os.getpid()))
    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    try:
        _start_everything(config, supervisor)
        _print_urls(config, time.monotonic() - started_at)
        (config.run_dir / "stack.ready").write_text(str(os.getpid()))
        return _watch(supervisor)
    except StopRequested:
        _say("stop requested")
        return 0
    except (StackError, StackConfigError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        (config.run_dir / "stack.ready").unlink(missing_ok=True)
        supervisor.stop_all(report=_say)
        pid_file.unlink(missing_ok=True)
        _say("stopped")


def _start_everything(config: StackConfig, supervisor: Supervisor) -> None:
    infrastructure, applications = plan_services(config)
    check_ports(infrastructure + applications)
    commands = entry_points(config)
    for service in infrastructure:
        supervisor.start(service)
        _say(f"{service.name} ready")
    supervisor.run_once("bootstrap", commands["bootstrap-seed"], BOOTSTRAP_TIMEOUT_S)
    _say("bootstrap (seed phase) done")
    for service in applications:
        supervisor.start(service)
        _say(f"{service.name} ready")
    supervisor.run_once("bootstrap", commands["bootstrap-traffic"], BOOTSTRAP_TIMEOUT_S)
    _say("bootstrap (traffic phase) done")


def _watch(supervisor: Supervisor) -> int:
    """Block until a stop is requested (raises) or a child dies on its own."""
    while True:
        ended = supervisor.exited()
        if ended is not None:
            print(
                f"error: {ended.name} exited unexpectedly; see "
                f"{supervisor.log_path(ended.name)}",
                file=sys.stderr,
                flush=True,
            )
            return 1
        time.sleep(0.5)


def _say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def _print_urls(config: StackConfig, elapsed_s: float) -> None:
    lines = [
        f"Sentinel & Scout is ready in {elapsed_s:.1f} s:",
        f"  workbench  {config.url('ui')}",
        f"  sentinel   {config.url('sentinel')}/docs",
        f"  scout      {config.url('scout')}/docs",
        f"  mlflow     {config.url('mlflow')}",
        f"  redis      redis://127.0.0.1:{config.ports['redis']} (queue, decisions)",
        f"             redis://127.0.0.1:{config.ports['redis-features']} (features)",
        f"  logs       {config.logs_dir}",
        "Ctrl-C or `make stop` stops everything.",
    ]
    print("\n" + "\n".join(lines) + "\n", flush=True)


def start_detached(config: StackConfig, timeout_s: float) -> int:
    """Run the stack in the background and return once it is ready (or failed)."""
    config.logs_dir.mkdir(parents=True, exist_ok=True)
    ready_file = config.run_dir / "stack.ready"
    ready_file.unlink(missing_ok=True)
    log = (config.logs_dir / "stack.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "run"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready_file.exists():
            print(f"stack ready; URLs and progress in {config.logs_dir / 'stack.log'}")
            return 0
        if process.poll() is not None:
            print(
                f"error: the stack did not start; see {config.logs_dir / 'stack.log'}",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.5)
    stop_process_group(process.pid, grace_s=30)
    print(f"error: the stack was not ready after {timeout_s:.0f} s", file=sys.stderr)
    return 1


def stop(config: StackConfig) -> int:
    """Stop the supervisor, then anything a crashed supervisor left behind."""
    stopped = []
    pid_file = config.run_dir / "stack.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.2)
            stopped.append("stack")
        except ProcessLookupError:
            pass
        pid_file.unlink(missing_ok=True)
    for leftover in (
        sorted(config.run_dir.glob("*.pid")) if config.run_dir.exists() else []
    ):
        if stop_process_group(int(leftover.read_text())) != "absent":
            stopped.append(leftover.stem)
        leftover.unlink(missing_ok=True)
    print("stopped: " + ", ".join(stopped) if stopped else "nothing was running")
    return 0


def status(config: StackConfig) -> int:
    infrastructure, applications = plan_services(config)
    all_ready = True
    for service in infrastructure + applications:
        reason = service.ready()
        all_ready &= reason is None
        print(f"{service.name:14} {'ready' if reason is None else 'down: ' + reason}")
    return 0 if all_ready else 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "start", "stop", "status", "env"])
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="start: seconds to wait for the stack to be ready",
    )
    args = parser.parse_args(argv)
    try:
        config = load_config()
    except (StackConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "run":
        return run(config)
    if args.command == "start":
        return start_detached(config, args.timeout)
    if args.command == "stop":
        return stop(config)
    if args.command == "status":
        return status(config)
    return 0  # "env": load_config already created .env when it was missing


if __name__ == "__main__":
    sys.exit(main())
