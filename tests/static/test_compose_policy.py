"""Policy for docker-compose.yml: what every service must do to run safely as built.

Non-root, healthchecked, pinned, ports on loopback, settings the code requires
provided, secrets only from .env, state on named volumes, a start-up order that
cannot deadlock.
"""

from __future__ import annotations

import itertools
import os
import re
from typing import Any
from unittest import mock

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from api.common.settings import describe_error
from tests.static import stackfiles as sf

pytestmark = pytest.mark.static

SERVICES = sorted(sf.services())
# Where each stateful service keeps its state inside the container.
STATE_PATHS = {"redis": "/data", "redis-features": "/data", "qdrant": "/qdrant/storage"}
SECRET_NAME = re.compile(r"KEY|PASSWORD|SECRET|TOKEN|AUTH")
PYTHON_SERVICES = ("sentinel", "scout", "ui", "bootstrap")


def is_one_shot(service: dict[str, Any]) -> bool:
    restart = str(service.get("restart", "no"))
    return restart == "no" or restart.startswith("on-failure")


def has_healthcheck(name: str) -> bool:
    check = sf.services()[name].get("healthcheck")
    if check is not None:
        return not check.get("disable", False) and bool(check.get("test"))
    if "build" in sf.services()[name]:
        image_check = sf.image_of(name).healthcheck
        return image_check is not None and image_check.strip().upper() != "NONE"
    return False


def assert_pinned(reference: str, where: str) -> None:
    if "@sha256:" in reference:
        return
    repository, _, tag = reference.rpartition(":")
    assert repository and "/" not in tag, f"{where}: {reference!r} has no tag"
    assert tag != "latest", f"{where}: {reference!r} uses `latest`"
    assert re.search(r"\d", tag), f"{where}: {reference!r} is not a version tag"


@pytest.mark.parametrize("name", SERVICES)
def test_service_runs_as_a_non_root_user(name: str) -> None:
    service = sf.services()[name]
    user = service.get("user")
    if user is None and "build" in service:
        user = sf.image_of(name).user
    assert user, f"{name}: neither `user:` in compose nor USER in its Dockerfile"
    uid = str(user).split(":")[0]
    assert uid not in {"0", "root"}, f"{name}: runs as root ({user})"


@pytest.mark.parametrize("name", SERVICES)
def test_long_running_service_has_a_healthcheck(name: str) -> None:
    service = sf.services()[name]
    if is_one_shot(service):
        assert name == "bootstrap", f"{name}: only the bootstrap job may be one-shot"
        return
    assert has_healthcheck(name), f"{name}: no healthcheck (compose or Dockerfile)"


@pytest.mark.parametrize("name", SERVICES)
def test_every_image_is_pinned(name: str) -> None:
    service = sf.services()[name]
    if "build" not in service:
        assert "image" in service, f"{name}: neither image nor build"
        assert_pinned(service["image"], name)
        return
    dockerfile = sf.image_of(name)
    stage_names = {stage.name for stage in dockerfile.stages if stage.name}
    for stage in dockerfile.stages:
        base = dockerfile.resolve(stage.base)
        if base not in stage_names:
            assert_pinned(base, f"{dockerfile.path.name} FROM")
    assert "image" in service, f"{name}: a built image needs an `image:` name and tag"
    assert_pinned(service["image"], name)


@pytest.mark.parametrize("name", SERVICES)
def test_published_ports_listen_on_loopback_only(name: str) -> None:
    for port in sf.services()[name].get("ports", []):
        if isinstance(port, dict):
            assert port.get("host_ip") == "127.0.0.1", f"{name}: {port} not loopback"
            continue
        dotenv = sf.sample_dotenv()
        # Scaling mode: an empty *_PORT asks Docker for a random host port.
        scaling = {k: "" if k.endswith("_PORT") else v for k, v in dotenv.items()}
        for env in (dotenv, scaling):
            published = sf.interpolate(str(port), env)
            assert published.startswith("127.0.0.1:"), (
                f"{name}: port {port!r} is published on every interface"
            )


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_has_a_restart_policy(name: str) -> None:
    assert "restart" in sf.services()[name], f"{name}: no restart policy"


def settings_classes_of(name: str) -> list[type[BaseSettings]]:
    graph = sf.import_graph(*sf.image_import_roots(name))
    classes = []
    for module_name, class_name in sorted(graph.settings_classes):
        module = __import__(module_name, fromlist=[class_name])
        candidate = getattr(module, class_name)
        if isinstance(candidate, type) and issubclass(candidate, BaseSettings):
            classes.append(candidate)
    return classes


def environment_names(cls: type[BaseSettings]) -> dict[str, bool]:
    """Each field's variable name and whether the field is required."""
    names = {}
    for field_name, info in cls.model_fields.items():
        alias = info.validation_alias or info.alias
        variable = alias if isinstance(alias, str) else field_name
        names[variable.upper()] = info.is_required()
    return names


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_settings_the_code_requires_are_provided(name: str) -> None:
    classes = settings_classes_of(name)
    if name != "bootstrap":
        assert classes, f"{name}: found no settings class in its import graph"
    environment = sf.resolved_environment(name, sf.sample_dotenv())
    for cls in classes:
        required = [v for v, needed in environment_names(cls).items() if needed]
        missing = sorted(set(required) - set(environment))
        assert not missing, f"{name}: {cls.__name__} requires {missing}, not set"
        with mock.patch.dict(os.environ, environment, clear=True):
            try:
                cls()
            except ValidationError as error:
                pytest.fail(f"{name}: {cls.__name__}: {describe_error(error)}")


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_settings_named_in_env_example_reach_the_service(name: str) -> None:
    """A value changed in .env must change the container, as it does natively."""
    in_example = set(sf.read_env_example())
    given = set(sf.environment_of(sf.services()[name]))
    for cls in settings_classes_of(name):
        wanted = set(environment_names(cls)) & in_example
        missing = sorted(wanted - given)
        assert not missing, f"{name}: {cls.__name__} reads {missing} from .env"


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_variables_the_code_reads_are_provided(name: str) -> None:
    """os.environ reads of names the native stack sets must be set here too."""
    graph = sf.import_graph(*sf.image_import_roots(name))
    native = sf.native_variable_names()
    environment = sf.resolved_environment(name, sf.sample_dotenv())
    missing = {
        variable: sorted(modules)
        for variable, modules in graph.environment_reads.items()
        if variable in native and variable not in environment
    }
    assert not missing, f"{name}: read by the code but not provided: {missing}"


def secret_bearing_values() -> list[tuple[str, str]]:
    """(where, raw value) of every environment value or argument that holds a secret."""
    found = []
    for name, service in sf.services().items():
        for key, value in sf.environment_of(service).items():
            if SECRET_NAME.search(key) or ("://" in value and "@" in value):
                found.append((f"{name}.environment.{key}", value))
        command = service.get("command") or []
        for flag, value in itertools.pairwise(command):
            if str(flag) == "--requirepass":
                found.append((f"{name}.command --requirepass", str(value)))
    return found


def test_secrets_come_from_the_env_file_only() -> None:
    values = secret_bearing_values()
    assert values, "found no secret-bearing value to check"
    for where, value in values:
        secret = value.split("://", 1)[1].split("@", 1)[0] if "://" in value else value
        assert sf.variables_referenced(secret), f"{where}: literal secret {value!r}"
        for variable in sf.variables_referenced(secret):
            example = sf.read_env_example().get(variable)
            assert example == sf.PLACEHOLDER, (
                f"{where}: {variable} is not a secret of .env.example"
            )


def redis_flags(name: str) -> dict[str, str]:
    command = [str(part) for part in sf.services()[name]["command"]]
    assert command[0] == "redis-server"
    pairs = dict(zip(command[1::2], command[2::2], strict=False))
    assert sf.variables_referenced(pairs.get("--requirepass", "")) == {"REDIS_PASSWORD"}
    assert pairs.get("--appendonly") == "yes", f"{name}: AOF is off"
    return pairs


@pytest.mark.parametrize(
    ("variable", "service", "fsync"),
    [
        ("REDIS_URL", "redis", "always"),
        ("FEATURES_REDIS_URL", "redis-features", "everysec"),
    ],
)
def test_each_redis_persists_as_its_data_needs(
    variable: str, service: str, fsync: str
) -> None:
    """Decisions survive a crash (fsync per write); features lose at most ~1 s."""
    assert redis_flags(service).get("--appendfsync") == fsync
    users = []
    for name, spec in sf.services().items():
        url = sf.environment_of(spec).get(variable)
        if url is not None:
            users.append(name)
            assert "REDIS_PASSWORD" in sf.variables_referenced(url), name
            assert f"@{service}:6379" in url, f"{name}: {variable} is not {service}"
            assert conditions(name).get(service) == "service_healthy", name
    assert sorted(users) == ["bootstrap", "sentinel"]


@pytest.mark.parametrize(
    "name", ["redis", "redis-features", "qdrant", "mlflow", "bootstrap"]
)
def test_state_lives_on_a_named_volume(name: str) -> None:
    service = sf.services()[name]
    mounts = sf.volume_mounts(service)
    if name in STATE_PATHS:
        state = STATE_PATHS[name]
    elif name == "mlflow":
        command = sf.effective_command(name)
        store = command[command.index("--backend-store-uri") + 1]
        state = store.removeprefix("sqlite:///").rsplit("/", 1)[0]
        artifacts = command[command.index("--artifacts-destination") + 1]
        assert artifacts.startswith(state), "artifacts outside the store's volume"
    else:
        state = sf.resolved_environment(name, sf.sample_dotenv())["DATA_DIR"]
    holding = [src for src, target in mounts if state.startswith(target.rstrip("/"))]
    assert holding, f"{name}: nothing mounted at {state}"
    assert holding[0] in sf.named_volumes(), (
        f"{name}: {state} is on {holding[0]!r}, not a named volume"
    )


def test_bind_mounts_point_at_files_in_the_repository() -> None:
    for name, service in sf.services().items():
        for source, _ in sf.volume_mounts(service):
            if source.startswith((".", "/")):
                assert (sf.ROOT / source).exists(), f"{name}: {source} does not exist"


def conditions(name: str) -> dict[str, str]:
    depends = sf.services()[name].get("depends_on") or {}
    assert isinstance(depends, dict), f"{name}: depends_on without conditions"
    return {target: spec.get("condition", "") for target, spec in depends.items()}


@pytest.mark.parametrize("name", SERVICES)
def test_dependencies_wait_for_a_meaningful_condition(name: str) -> None:
    for target, condition in conditions(name).items():
        assert target in sf.services(), f"{name} depends on unknown {target}"
        if condition == "service_healthy":
            assert has_healthcheck(target), f"{name} waits for {target}'s health"
        elif condition == "service_completed_successfully":
            assert is_one_shot(sf.services()[target]), f"{target} never completes"
        else:
            pytest.fail(f"{name} -> {target}: condition {condition!r}")


def test_start_up_order_matches_the_bootstrap_phases() -> None:
    """Seed needs the stores; the APIs never wait for the job (its traffic phase
    waits for them); the workbench waits for both APIs."""
    assert conditions("bootstrap") == {
        "redis": "service_healthy",
        "redis-features": "service_healthy",
        "qdrant": "service_healthy",
        "mlflow": "service_healthy",
    }
    for api in ("sentinel", "scout"):
        assert "bootstrap" not in conditions(api), f"{api} would deadlock"
    assert conditions("ui") == {
        "sentinel": "service_healthy",
        "scout": "service_healthy",
    }


def test_monitoring_runs_only_under_its_profile() -> None:
    profiles = {
        name: service.get("profiles", []) for name, service in sf.services().items()
    }
    assert {n for n, p in profiles.items() if p} == {"prometheus", "grafana"}
    assert profiles["prometheus"] == profiles["grafana"] == ["monitoring"]
