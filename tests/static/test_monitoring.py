"""Prometheus and Grafana files: valid, consistent with compose, complete.

promtool (Debian's `prometheus` package; .ci/run installs it) checks the scrape
configuration and the PromQL syntax of every dashboard query. Whether the queried
metrics really exist is tested against running services in
test_metrics_exported.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.static import stackfiles as sf

pytestmark = pytest.mark.static

PROMETHEUS_CONFIG = sf.MONITORING / "prometheus.yml"
PROVISIONING = sf.MONITORING / "grafana" / "provisioning"
# The figures issue 8 asks the dashboard to show, by the metric behind each.
REQUIRED_METRICS = {
    "http_requests_total",  # request rate per service
    "http_request_duration_seconds_bucket",  # p99 latency per service
    "sentinel_scores_total",  # scores by band
    "sentinel_decisions_total",  # decisions by outcome
    "sentinel_degraded_answers_total",  # degraded answers
    "scout_degraded_answers_total",
    "sentinel_model_info",  # model version
    "scout_model_info",
    "sentinel_drift_share",  # drift share
    "scout_drift_share",
}
# Grafana's macros, given a value so promtool can parse the expressions.
GRAFANA_MACROS = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}
PANEL_TYPES = {"row", "timeseries", "table", "stat", "gauge", "bargauge", "text"}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: apt-get install prometheus (see .ci/run)")
    return found


def run_promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_promtool_accepts_the_prometheus_configuration() -> None:
    result = run_promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rejects_a_broken_configuration(tmp_path: Path) -> None:
    """The check can fail: an unknown field is an error."""
    broken = tmp_path / "prometheus.yml"
    broken.write_text("scrape_configs:\n  - job_name: x\n    scrape_every: 5s\n")
    assert run_promtool("check", "config", str(broken)).returncode != 0


def scrape_jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


@pytest.mark.parametrize("service", ["sentinel", "scout"])
def test_prometheus_scrapes_every_replica_of_each_api(service: str) -> None:
    job = scrape_jobs()[service]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == [service] and discovery["type"] == "A"
    command = sf.effective_command(service)
    assert str(discovery["port"]) == command[command.index("--port") + 1]


def test_prometheus_mounts_this_configuration() -> None:
    mounts = dict(sf.volume_mounts(sf.services()["prometheus"]))
    command = sf.services()["prometheus"]["command"]
    config_flag = next(c for c in command if c.startswith("--config.file="))
    target = config_flag.split("=", 1)[1]
    assert mounts.get("./monitoring/prometheus.yml") == target


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    rules = []
    for index, (where, expression) in enumerate(sf.dashboard_expressions()):
        for macro, value in GRAFANA_MACROS.items():
            expression = expression.replace(macro, value)
        assert "$" not in expression, f"{where}: unknown variable in {expression}"
        rules.append({"record": f"dashboard:query_{index}", "expr": expression})
    assert rules, "no dashboard query found"
    rule_file = tmp_path / "dashboard-rules.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "q", "rules": rules}]}))
    result = run_promtool("check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_shows_every_figure_the_issue_asks_for() -> None:
    queried = set().union(
        *(sf.queried_metrics(e) for _, e in sf.dashboard_expressions())
    )
    missing = sorted(REQUIRED_METRICS - queried)
    assert not missing, f"no panel queries {missing}"


def test_metric_names_are_read_from_promql() -> None:
    """The extractor the export test relies on, on the shapes our panels use."""
    expression = (
        "histogram_quantile(0.99, sum by (service, le) (rate("
        'http_request_duration_seconds_bucket{route!~"/healthz|x_total"}[5m])))'
        " / on(service) group_left sum(scout_model_info offset 1h) + 1e3"
    )
    assert sf.queried_metrics(expression) == {
        "http_request_duration_seconds_bucket",
        "scout_model_info",
    }


def provisioned_datasource_uids() -> set[str]:
    uids = set()
    for path in (PROVISIONING / "datasources").glob("*.yml"):
        for source in yaml.safe_load(path.read_text())["datasources"]:
            assert source["url"] == "http://prometheus:9090", path.name
            uids.add(source["uid"])
    return uids


def test_dashboard_json_is_well_formed() -> None:
    uids = provisioned_datasource_uids()
    assert sf.dashboards(), "no dashboard under monitoring/grafana/dashboards"
    for path, dashboard in sf.dashboards().items():
        assert dashboard.get("uid") and dashboard.get("title"), path.name
        assert isinstance(dashboard.get("schemaVersion"), int), path.name
        ids = [panel["id"] for panel in sf.dashboard_panels(dashboard)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in sf.dashboard_panels(dashboard):
            check_panel(path.name, panel, uids)


def check_panel(name: str, panel: dict[str, Any], uids: set[str]) -> None:
    where = f"{name} / {panel.get('title')}"
    assert panel.get("type") in PANEL_TYPES, f"{where}: type {panel.get('type')}"
    grid = panel["gridPos"]
    assert all(isinstance(grid[k], int) for k in ("x", "y", "w", "h")), where
    assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, f"{where}: off the grid"
    if panel["type"] in {"row", "text"}:
        return
    targets = panel.get("targets", [])
    assert targets, f"{where}: no query"
    references = [target["refId"] for target in targets]
    assert len(references) == len(set(references)), f"{where}: duplicate refId"
    for target in targets:
        source = target.get("datasource") or panel.get("datasource")
        assert source and source.get("uid") in uids, f"{where}: datasource {source}"
        assert target.get("expr"), f"{where}: empty query"


def test_grafana_loads_the_dashboards_from_the_mounted_folder() -> None:
    provider_file = PROVISIONING / "dashboards" / "sentinel-scout.yml"
    (provider,) = yaml.safe_load(provider_file.read_text())["providers"]
    mounts = dict(sf.volume_mounts(sf.services()["grafana"]))
    assert mounts.get("./monitoring/grafana/dashboards") == provider["options"]["path"]
    environment = sf.environment_of(sf.services()["grafana"])
    home = environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    relative = Path(home).relative_to(provider["options"]["path"])
    assert (sf.DASHBOARDS / relative).exists(), home
