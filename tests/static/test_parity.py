"""Parity: compose runs the entry points the native stack runs, with the same names.

The native stack (devstack.config) is what the test suite exercises; compose is what
users deploy. Only bind addresses, ports and data paths may differ between them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import pytest

from devstack.config import build_config, entry_points, service_environment
from tests.static import stackfiles as sf

pytestmark = pytest.mark.static

# compose service -> the native entry points it stands for
NATIVE_OF = {
    "mlflow": ["mlflow"],
    "bootstrap": ["bootstrap-seed", "bootstrap-traffic"],
    "sentinel": ["sentinel"],
    "scout": ["scout"],
    "ui": ["ui"],
}
# Options whose values are where a process listens or keeps data: they differ.
LOCATION_OPTIONS = {
    "--host",
    "--port",
    "--server.address",
    "--server.port",
    "--backend-store-uri",
    "--artifacts-destination",
}
# Options only the container needs, and why.
CONTAINER_ONLY_OPTIONS = {
    # MLflow 3 checks the Host header; natively clients use loopback, allowed
    # by default, in compose they use the service name.
    "--allowed-hosts",
}


@dataclass
class Invocation:
    """A command line split into the module it runs, positionals and options."""

    module: str
    positionals: list[str] = field(default_factory=list)
    options: dict[str, str | None] = field(default_factory=dict)


def parse_invocation(argv: list[str]) -> Invocation:
    assert "-m" in argv, f"not `python -m ...`: {argv}"
    interpreter = Path(argv[0]).name
    assert interpreter.startswith("python"), f"not run by python: {argv}"
    rest = argv[argv.index("-m") + 1 :]
    invocation = Invocation(module=rest[0])
    index = 1
    while index < len(rest):
        token = rest[index]
        if token.startswith("--"):
            following = rest[index + 1] if index + 1 < len(rest) else None
            if following is not None and not following.startswith("--"):
                invocation.options[token] = following
                index += 2
                continue
            invocation.options[token] = None
        else:
            invocation.positionals.append(_relative(token))
        index += 1
    return invocation


def _relative(token: str) -> str:
    path = Path(token)
    if path.is_absolute() and path.is_relative_to(sf.ROOT):
        return str(path.relative_to(sf.ROOT))
    return token


def native_commands() -> dict[str, list[str]]:
    return entry_points(build_config(sf.ROOT, sf.read_env_example()))


@pytest.mark.parametrize("name", sorted(NATIVE_OF))
def test_compose_runs_the_native_entry_point(name: str) -> None:
    container = parse_invocation(sf.effective_command(name))
    for native_name in NATIVE_OF[name]:
        native = parse_invocation(native_commands()[native_name])
        assert container.module == native.module, f"{name}: {container.module}"
        if name == "bootstrap":
            continue  # positionals are phases: see the next test
        assert container.positionals == native.positionals, name
        extra = set(container.options) - set(native.options)
        assert extra <= CONTAINER_ONLY_OPTIONS, f"{name}: only in compose: {extra}"
        missing = set(native.options) - set(container.options)
        assert not missing, f"{name}: options the native stack passes: {missing}"
        differing = {
            option: (native.options[option], container.options[option])
            for option in native.options
            if option not in LOCATION_OPTIONS
            and native.options[option] != container.options[option]
        }
        assert not differing, f"{name}: option values differ: {differing}"


def test_compose_bootstrap_runs_every_native_phase() -> None:
    from pipelines.bootstrap import STEPS

    container = parse_invocation(sf.effective_command("bootstrap"))
    native_phases = {
        parse_invocation(native_commands()[entry]).positionals[0]
        for entry in NATIVE_OF["bootstrap"]
    }
    assert native_phases == set(STEPS), "the native stack skips a phase"
    assert container.positionals in (["all"], []), container.positionals


@pytest.mark.parametrize("name", ["sentinel", "scout", "ui"])
def test_compose_listens_where_the_api_urls_point(name: str) -> None:
    """SENTINEL_URL/SCOUT_URL given to others must reach the port the app binds."""
    options = parse_invocation(sf.effective_command(name)).options
    port = options.get("--port") or options.get("--server.port")
    address = options.get("--host") or options.get("--server.address")
    assert address == "0.0.0.0", f"{name} is unreachable from other containers"
    for other, service in sf.services().items():
        url = sf.environment_of(service).get(f"{name.upper()}_URL")
        if url is not None:
            assert url == f"http://{name}:{port}", f"{other}: {name.upper()}_URL"
    published = [str(p) for p in sf.services()[name].get("ports", [])]
    assert all(p.endswith(f":{port}") for p in published), published


def test_compose_uses_the_native_variable_names() -> None:
    """No variable exists only in compose: the code cannot tell the two apart."""
    native = sf.native_variable_names()
    for name in NATIVE_OF:
        if name == "mlflow":
            continue
        given = set(sf.environment_of(sf.services()[name]))
        only_compose = sorted(given - native)
        assert not only_compose, (
            f"{name}: names the native stack never sets: {only_compose}"
        )


def test_bootstrap_gets_every_connection_the_native_job_gets() -> None:
    """The native job inherits every variable; compose must not drop a connection."""
    given = set(sf.environment_of(sf.services()["bootstrap"]))
    with mock.patch.dict(os.environ, {}, clear=True):
        config = build_config(
            sf.ROOT, {**sf.read_env_example(), "QDRANT_URL": "http://qdrant:6333"}
        )
        native = set(service_environment(config))
    not_for_the_job = {
        name
        for name in native
        if name.endswith("_PORT")
        or "PASSWORD" in name  # Redis's travels inside REDIS_URL
        or name.startswith(("WORKBENCH_", "GRAFANA_", "MLFLOW_SERVER_"))
    } | {"PYTHONUNBUFFERED", "QDRANT_PATH"}
    missing = sorted(native - not_for_the_job - given)
    assert not missing, f"bootstrap lacks {missing}"


def test_mlflow_container_gets_the_native_server_settings() -> None:
    """MLFLOW_SERVER_* variables the native stack sets reach the MLflow container."""
    with mock.patch.dict(os.environ, {}, clear=True):
        native = service_environment(build_config(sf.ROOT, sf.read_env_example()))
    wanted = {k: v for k, v in native.items() if k.startswith("MLFLOW_SERVER_")}
    container = sf.resolved_environment("mlflow", sf.sample_dotenv())
    differing = {
        k: container.get(k) for k, v in wanted.items() if container.get(k) != v
    }
    assert not differing, f"mlflow container: {differing}, native: {wanted}"
