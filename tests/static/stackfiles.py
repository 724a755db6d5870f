"""Readers for the container files: compose, Dockerfiles, .env.example, imports.

The static tests share these so each test states a policy, not a parser. Compose
interpolation and Dockerfile parsing cover the subset our files use; anything else
is reported as an error rather than guessed.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKER_DIR = ROOT / "docker"
ENV_EXAMPLE = ROOT / ".env.example"
FIRST_PARTY = ("api", "pipelines", "ui", "devstack", "bench")
PLACEHOLDER = "change-me"

# The compose services we build, and the native entry point each one mirrors.
BUILT_SERVICES = {
    "mlflow": "mlflow",
    "bootstrap": "pipelines",
    "sentinel": "sentinel",
    "scout": "scout",
    "ui": "ui",
}


# --- compose ---------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict), "docker-compose.yml is not a mapping"
    return loaded


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_BRACED = re.compile(
    r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$"
)


class InterpolationError(ValueError):
    """A ${VAR:?message} whose variable is unset, or a form we do not model."""


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:?e}."""

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("bare"):
            return env.get(match.group("bare"), "")
        return _braced(match.group("braced"), env)

    return _VARIABLE.sub(substitute, text)


def _braced(expression: str, env: dict[str, str]) -> str:
    parsed = _BRACED.match(expression)
    if not parsed:
        raise InterpolationError(f"unsupported interpolation ${{{expression}}}")
    name, op, arg = parsed.group("name"), parsed.group("op"), parsed.group("arg")
    value = env.get(name)
    unset_or_empty = value is None or (value == "" and op and op.startswith(":"))
    if op in (":-", "-"):
        return arg if unset_or_empty else str(value)
    if op in (":?", "?"):
        if unset_or_empty:
            raise InterpolationError(f"{name}: {arg}")
        return str(value)
    if op in (":+", "+"):
        return "" if unset_or_empty else arg
    return value or ""


def variables_referenced(text: str) -> set[str]:
    """Names of the variables a compose value interpolates."""
    names = set()
    for match in _VARIABLE.finditer(text):
        if match.group("bare"):
            names.add(match.group("bare"))
        elif match.group("braced") is not None:
            parsed = _BRACED.match(match.group("braced"))
            if parsed:
                names.add(parsed.group("name"))
    return names


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment`, raw (uninterpolated), as a mapping."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = [item.split("=", 1) for item in raw]
        return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


@cache
def sample_dotenv() -> dict[str, str]:
    """A .env as `make env` writes it: fresh secrets, a first workbench analyst."""
    from devstack import envfile

    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / ".env"
        envfile.create_env_file(ENV_EXAMPLE, target)
        # Present once the workbench sign-in lands in devstack.
        add_first_analyst = getattr(envfile, "add_first_analyst", None)
        if add_first_analyst is not None:
            add_first_analyst(target)
        return envfile.read_env_file(target)


def read_env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def resolved_environment(name: str, dotenv: dict[str, str]) -> dict[str, str]:
    """What a container's process sees: the image's ENV, then compose's values."""
    env = dict(image_of(name).env) if name in BUILT_SERVICES else {}
    for key, value in environment_of(services()[name]).items():
        env[key] = interpolate(value, dotenv)
    return env


def native_variable_names() -> set[str]:
    """Every variable the native stack gives its processes (server or local Qdrant)."""
    from devstack.config import build_config, service_environment

    names: set[str] = set()
    with mock.patch.dict(os.environ, {}, clear=True):
        for extra in ({}, {"QDRANT_URL": "http://qdrant:6333"}):
            config = build_config(ROOT, {**read_env_example(), **extra})
            names |= set(service_environment(config))
    return names


def named_volumes() -> set[str]:
    return set((compose().get("volumes") or {}).keys())


def volume_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume, short or long syntax."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, str):
            parts = entry.split(":")
            mounts.append((parts[0], parts[1]))
        else:
            mounts.append((str(entry.get("source", "")), str(entry["target"])))
    return mounts


def effective_command(name: str) -> list[str]:
    """The argv a compose service runs: its `command`, else the image's CMD."""
    service = services()[name]
    command = service.get("command")
    if command is None:
        return list(image_of(name).cmd)
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


# --- Dockerfiles -------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    path: Path
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def resolve(self, text: str) -> str:
        return interpolate(text, self.global_args)

    @property
    def cmd(self) -> list[str]:
        return exec_form(self.final.all("CMD")[-1].arguments)

    @property
    def user(self) -> str | None:
        users = self.final.all("USER")
        return users[-1].arguments.strip() if users else None

    @property
    def healthcheck(self) -> str | None:
        checks = self.final.all("HEALTHCHECK")
        return checks[-1].arguments if checks else None

    @property
    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for instruction in self.final.all("ENV"):
            for token in shlex.split(instruction.arguments):
                key, _, value = token.partition("=")
                values[key] = value
        return values

    def copied_sources(self) -> list[str]:
        """Sources of the final stage's COPY instructions from the build context."""
        sources: list[str] = []
        for instruction in self.final.all("COPY"):
            tokens = shlex.split(instruction.arguments)
            if any(token.startswith("--from") for token in tokens):
                continue
            paths = [token for token in tokens if not token.startswith("--")]
            sources.extend(path.rstrip("/") for path in paths[:-1])
        return sources


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form CMD/HEALTHCHECK, or an AssertionError."""
    text = arguments.strip()
    if text.startswith("CMD "):
        text = text[4:].strip()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        raise AssertionError(f"not exec form (a JSON array): {arguments!r}") from None
    assert isinstance(parsed, list), f"not exec form: {arguments!r}"
    return [str(part) for part in parsed]


def parse_dockerfile(path: Path) -> Dockerfile:
    """Instructions with continuation lines joined; comments dropped."""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in _instructions(path.read_text()):
        if instruction.keyword == "FROM":
            parts = instruction.arguments.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base=parts[0], name=name))
        elif not stages and instruction.keyword == "ARG":
            key, _, default = instruction.arguments.partition("=")
            global_args[key.strip()] = default.strip()
        elif stages:
            stages[-1].instructions.append(instruction)
    return Dockerfile(path=path, global_args=global_args, stages=stages)


def _instructions(text: str) -> list[Instruction]:
    instructions = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if buffer and line.startswith("#"):
            continue
        if not buffer:
            start = number
        continued = line.endswith("\\")
        buffer.append(line[:-1].strip() if continued else line)
        if not continued:
            joined = " ".join(part for part in buffer if part)
            keyword, _, arguments = joined.partition(" ")
            instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
            buffer = []
    return instructions


def dockerfile_of(name: str) -> Path:
    build = services()[name]["build"]
    return ROOT / build.get("context", ".") / build["dockerfile"]


@cache
def image_of(name: str) -> Dockerfile:
    return parse_dockerfile(dockerfile_of(name))


def uv_sync_arguments(dockerfile: Dockerfile) -> list[str]:
    """The arguments after `uv sync` in the build stages (exactly one such RUN)."""
    found = []
    for stage in dockerfile.stages:
        for instruction in stage.all("RUN"):
            tokens = shlex.split(instruction.arguments)
            for index in range(len(tokens) - 1):
                if tokens[index : index + 2] == ["uv", "sync"]:
                    found.append(tokens[index + 2 :])
    assert len(found) == 1, (
        f"{dockerfile.path.name}: expected one `uv sync`, got {found}"
    )
    return found[0]


# --- dependencies and imports ----------------------------------------------------


def uv_command() -> list[str]:
    uv = shutil.which("uv")
    if uv:
        return [uv]
    probe = subprocess.run(
        [sys.executable, "-m", "uv", "--version"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return [sys.executable, "-m", "uv"]
    raise AssertionError("uv is not installed; `make install` installs it")


def installed_distributions(sync_arguments: list[str]) -> set[str]:
    """Distributions `uv sync <arguments>` installs, read from uv.lock by uv export."""
    keep = []
    tokens = iter(sync_arguments)
    for token in tokens:
        if token in {"--group", "--only-group", "--no-group"}:
            keep += [token, next(tokens)]
        elif token in {"--frozen", "--no-default-groups", "--no-dev", "--only-dev"}:
            keep.append(token)
    command = [
        *uv_command(),
        "export",
        *keep,
        "--no-hashes",
        "--no-emit-project",
        "--no-header",
        "--no-annotate",
        "--format",
        "requirements.txt",
    ]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    names = set()
    for line in result.stdout.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "-")):
            names.add(normalize_distribution(re.split(r"[=<>!~; \[]", line)[0]))
    return names


def normalize_distribution(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class ImportGraph:
    """First-party modules reachable from some roots, and what they import."""

    modules: dict[str, Path] = field(default_factory=dict)
    third_party: dict[str, set[str]] = field(default_factory=dict)
    environment_reads: dict[str, set[str]] = field(default_factory=dict)
    settings_classes: set[tuple[str, str]] = field(default_factory=set)

    def add_third_party(self, top: str, where: str) -> None:
        self.third_party.setdefault(top, set()).add(where)


def module_path(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def import_graph(root_modules: list[str], root_files: list[Path]) -> ImportGraph:
    """Walk imports from the roots through our own packages (statically, by AST)."""
    graph = ImportGraph()
    pending: list[tuple[str, Path]] = [
        (name, path) for name in root_modules if (path := module_path(name))
    ]
    missing = [name for name in root_modules if module_path(name) is None]
    assert not missing, f"entry modules not found: {missing}"
    pending += [(_module_name(path), path) for path in root_files]
    while pending:
        name, path = pending.pop()
        if name in graph.modules:
            continue
        graph.modules[name] = path
        for imported in _imports_of(path, name, graph):
            target = module_path(imported)
            if target is not None:
                pending.append((imported, target))
    return graph


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports_of(path: Path, name: str, graph: ImportGraph) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    _collect_environment_reads(tree, name, graph)
    _collect_settings_classes(tree, name, graph)
    found: list[str] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, name, path)
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            top = candidate.split(".")[0]
            if top in FIRST_PARTY:
                found.append(candidate)
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                graph.add_third_party(top, name)
    return found


def _absolute(node: ast.ImportFrom, name: str, path: Path) -> str:
    if not node.level:
        return node.module or ""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` or an ImportError guard."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
        if isinstance(node, ast.Try) and any(
            "ImportError" in ast.unparse(handler.type or ast.Constant(None))
            or "ModuleNotFoundError" in ast.unparse(handler.type or ast.Constant(None))
            for handler in node.handlers
        ):
            for child in node.body:
                skipped.update(id(grandchild) for grandchild in ast.walk(child))
    return [node for node in ast.walk(tree) if id(node) not in skipped]


def _collect_environment_reads(tree: ast.AST, name: str, graph: ImportGraph) -> None:
    """os.environ["X"], os.environ.get("X", ...), os.getenv("X") with literal names."""
    for node in ast.walk(tree):
        variable = None
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
            variable = node.slice
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in {
            "os.environ.get",
            "os.getenv",
        }:
            variable = node.args[0] if node.args else None
        if isinstance(variable, ast.Constant) and isinstance(variable.value, str):
            graph.environment_reads.setdefault(variable.value, set()).add(name)


def _collect_settings_classes(tree: ast.AST, name: str, graph: ImportGraph) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(
            ast.unparse(base).endswith("Settings") for base in node.bases
        ):
            graph.settings_classes.add((name, node.name))


def image_import_roots(name: str) -> tuple[list[str], list[Path]]:
    """The modules and scripts a built service starts from (from its command)."""
    command = effective_command(name)
    if "-m" not in command:
        raise AssertionError(f"{name}: command does not run a module: {command}")
    module = command[command.index("-m") + 1]
    if module == "uvicorn":
        target = next(part for part in command if ":" in part and "." in part)
        return [target.split(":")[0]], []
    if module == "streamlit":
        script = ROOT / command[command.index("run") + 1]
        pages = sorted((script.parent / "pages").glob("*.py"))
        return [], [script, *pages]
    if module == "pipelines.bootstrap":
        return [module, *bootstrap_step_modules()], []
    return [], []  # a third-party server (mlflow): none of our code


def bootstrap_step_modules() -> list[str]:
    """The "module:function" targets listed in pipelines/bootstrap.py STEPS."""
    tree = ast.parse((ROOT / "pipelines" / "bootstrap.py").read_text())
    for node in ast.walk(tree):
        targets: list[ast.expr]
        if isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        if value is not None and any(
            isinstance(t, ast.Name) and t.id == "STEPS" for t in targets
        ):
            steps = ast.literal_eval(value)
            return sorted(
                {
                    target.split(":")[0]
                    for phase in steps.values()
                    for _, target in phase
                }
            )
    raise AssertionError("pipelines/bootstrap.py has no STEPS literal")


# --- monitoring --------------------------------------------------------------------

MONITORING = ROOT / "monitoring"
DASHBOARDS = MONITORING / "grafana" / "dashboards"
PROMQL_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
}


def dashboards() -> dict[Path, dict[str, Any]]:
    return {
        path: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))
    }


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def dashboard_expressions() -> list[tuple[str, str]]:
    """(where, PromQL) of every query of every provisioned dashboard."""
    found = []
    for path, dashboard in dashboards().items():
        for panel in dashboard_panels(dashboard):
            for target in panel.get("targets", []):
                where = f"{path.name} / {panel.get('title')} / {target.get('refId')}"
                found.append((where, str(target.get("expr", ""))))
    return found


def queried_metrics(expression: str) -> set[str]:
    """Metric names a PromQL expression selects (our dashboards' subset of PromQL).

    Strings, label matchers, ranges and grouping clauses are removed first; what
    remains that is an identifier not followed by "(" and not a keyword is a metric.
    """
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expression)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("("):
            continue
        if match.group(0).lower() not in PROMQL_KEYWORDS:
            names.add(match.group(0))
    return names


def exported_metric_names(exposition: str) -> set[str]:
    """Sample names a /metrics page declares, including families with no sample yet.

    A labelled counter has no sample until it is first incremented, but its
    `# TYPE` line is there from start-up; Prometheus sees the samples once traffic
    flows, so a declared family counts as exported.
    """
    suffixes = {
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("", "_sum", "_count"),
    }
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            for suffix in suffixes.get(kind.strip(), ("",)):
                names.add(family + suffix)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names
