"""Scout figures: offline nDCG@10 on the sample data, and API latency over a
10,000-item catalogue in embedded (local-mode) Qdrant, measured over HTTP.

Latency: a uvicorn process serves a model trained on a generated 10,000-item
catalogue (SCOUT_MODEL_DIR, so no MLflow server is needed) with its collection in a
local-mode folder; one client sends requests one after another and times each round
trip. The machine is shared, so the 1-minute load average is reported alongside,
and the server's CPU time per request (from /proc), which others' load barely moves.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from api.scout.settings import QdrantSettings
from pipelines.generate_interactions import GeneratorConfig, generate, write_dataset
from pipelines.train_scout import TrainConfig, build_collection, train

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "scout"
LARGE = GeneratorConfig(items=10_000, users=4_000, mean_views_per_user=24, seed=21)
REQUESTS = 300
WARM_UP = 20
KEY = "bench-scout-key"
QUERIES = (
    "waterproof hiking boots",
    "noise-cancelling headphones for travel",
    "cast iron skillet",
    "vegan face serum",
    "board game for family game night",
    "detective thriller paperback",
    "running shoes for marathon training",
    "linen summer dress",
)


def main() -> dict[str, float]:
    figures = offline_figures()
    with tempfile.TemporaryDirectory(prefix="bench-scout-") as folder:
        figures.update(latency_figures(Path(folder)))
    figures["scout_bench_load_avg_1m"] = round(os.getloadavg()[0], 2)
    return figures


def offline_figures() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-scout-model-") as folder:
        result = train(SAMPLE, Path(folder), TrainConfig())
    assert result.test is not None
    metrics = result.test.metrics
    figures = {
        "scout_ndcg10_model": metrics["model"]["ndcg_at_10"],
        "scout_ndcg10_popularity": metrics["popularity"]["ndcg_at_10"],
        "scout_ndcg10_itemknn": metrics["itemknn"]["ndcg_at_10"],
    }
    figures = {name: round(value, 4) for name, value in figures.items()}
    figures["scout_ndcg10_model_over_popularity"] = round(
        figures["scout_ndcg10_model"] / figures["scout_ndcg10_popularity"], 2
    )
    print(f"[bench] scout method {result.method}: {figures}", flush=True)
    return figures


def latency_figures(folder: Path) -> dict[str, float]:
    data, model, qdrant = folder / "data", folder / "model", folder / "qdrant"
    write_dataset(generate(LARGE), data)
    train(data, model, TrainConfig(evaluate=False))
    build_collection(QdrantSettings(qdrant_path=str(qdrant)), model, 1_000)
    from tests.support import running_api

    settings = {
        "SCOUT_API_KEY": KEY,
        "SCOUT_MODEL_DIR": str(model),
        "QDRANT_PATH": str(qdrant),
        "QDRANT_URL": "",  # the embedded store, whatever the shell says
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # unused: model from a folder
        "LOG_LEVEL": "WARNING",
    }
    log = folder / "scout.log"
    with (
        running_api("api.scout.main:create_app", settings, log, 180) as api,
        httpx.Client(base_url=api.url, headers={"X-API-Key": KEY}) as client,
    ):
        return _measure_all(client, api.pid)


def _measure_all(client: httpx.Client, pid: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    listed = _get(client, "/v1/users?limit=1")["total"]
    users = [f"U{n:05d}" for n in rng.permutation(listed) + 1]
    items = np.array([f"I{n:05d}" for n in range(1, LARGE.items + 1)])
    # Users are not repeated (the service keeps users' current lists), except
    # `viewed`: the workbench shows a user's list before any what-if.
    viewed = users[:50]
    listing = iter(users[50:450])
    fresh = iter(users[450:])

    def recommend() -> None:
        _get(client, f"/v1/users/{next(listing)}/recommendations?k=10")

    def what_if(strategy: str, user: Callable[[], str]) -> Callable[[], None]:
        def call() -> None:
            picked = rng.choice(items, size=4, replace=False).tolist()
            body = {
                "user_id": user(),
                "liked": picked[:3],
                "disliked": picked[3:],
                "strategy": strategy,
                "k": 10,
            }
            _post(client, "/v1/recommendations/what-if", body)

        return call

    for user in viewed:
        _get(client, f"/v1/users/{user}/recommendations?k=10")

    def search() -> None:
        _get(client, "/v1/items/search", params={"q": rng.choice(QUERIES), "k": 10})

    figures = {}
    for name, call, count in (
        ("scout_recommend", recommend, REQUESTS),
        ("scout_whatif", what_if("average_vector", lambda: next(fresh)), REQUESTS),
        (
            "scout_whatif_list_viewed",
            what_if("average_vector", lambda: str(rng.choice(viewed))),
            REQUESTS,
        ),
        ("scout_whatif_sum_scores", what_if("sum_scores", lambda: next(fresh)), 100),
        ("scout_search", search, REQUESTS),
        ("scout_whatif_best_score", what_if("best_score", lambda: next(fresh)), 40),
    ):
        cpu_before = _cpu_seconds(pid)
        p50, p99 = _percentiles(call, count)
        cpu_ms = (_cpu_seconds(pid) - cpu_before) * 1000 / (count + min(WARM_UP, count))
        figures[f"{name}_p50_ms"] = p50
        figures[f"{name}_p99_ms"] = p99
        figures[f"{name}_server_cpu_ms"] = round(cpu_ms, 2)
        print(
            f"[bench] {name}: p50 {p50} ms, p99 {p99} ms, "
            f"server CPU {cpu_ms:.2f} ms per request",
            flush=True,
        )
    return figures


def _percentiles(call: Callable[[], None], count: int) -> tuple[float, float]:
    for _ in range(min(WARM_UP, count)):
        call()
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    p50, p99 = np.percentile(timings, [50, 99])
    return round(float(p50), 2), round(float(p99), 2)


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the server process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _get(client: httpx.Client, path: str, **kwargs: Any) -> dict[str, Any]:
    response = client.get(path, **kwargs)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> None:
    client.post(path, json=body).raise_for_status()


if __name__ == "__main__":
    print(main())
