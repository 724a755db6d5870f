"""Sentinel's scoring latency: live uvicorn + redis-server, and the same in process.

Starts a redis-server (AOF, appendfsync always) and an MLflow server on free ports,
trains the fraud model on a simulated history with the fraud pipeline's trainer and
registers it, warms the online features with a week of that history, then:

- `sentinel_score_p50_ms` / `_p99_ms`: POST /v1/score at a fixed 300 requests per
  second for 30 s (open loop: each request leaves at its scheduled time on one of
  several keep-alive connections), latency from send to full response; three such
  runs back to back, the median run's figures reported, the lowest and highest
  run's p99 beside them (`_p99_lowest_run_ms`, `_p99_highest_run_ms`), and each
  run's p99, server CPU per request and CPU time stolen by the hypervisor
  (`_run<N>_...`);
- `sentinel_max_rps`: closed loop, 16 connections kept busy for 10 s;
- `sentinel_score_50rps_p50_ms` / `_p99_ms`: 50 requests per second for 10 s first,
  the latency when no request waits for another (useful when 300/s saturates), and
  `sentinel_http_floor_p50_ms` / `_p99_ms`: GET /healthz, which does no work, one
  request at a time (what the machine charges any HTTP request);
- `sentinel_inprocess_p50_ms`: the same features (one Redis round trip) + prediction
  called in process, with the same model and Redis; `_inprocess_explained_` the
  features + score with its exact explanation from the TreeSHAP tables, which is what
  the service computes for every answer.

That is the shipped layout (docs/adr/0007): the online features on their own Redis
that fsyncs every second (FEATURES_REDIS_URL), the queue and decisions on the Redis
that fsyncs every write. The same figures prefixed `sentinel_one_redis_` measure a
single Redis holding both, where every feature update waits for an fsync. The load
generator runs on the same 2 cores as the server; every figure includes that
contention. Extra figures: the cost of explanations, scheduling delay (how late
requests left the generator), and the machine's load average.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "bench-sentinel-key"
RATE = 300
DURATION_S = 30
FIXED_RUNS = 3  # the reported fixed-rate figures are the median run's
LIGHT_RATE = 50
LIGHT_S = 10
MAX_RPS_S = 10
MAX_RPS_CONNECTIONS = 16
OPEN_LOOP_CONNECTIONS = 32
T = TypeVar("T")


def main() -> dict[str, float]:
    from tests.support import start_mlflow, start_redis

    with tempfile.TemporaryDirectory(prefix="bench-sentinel-") as tmp:
        folder = Path(tmp)
        durable = start_redis(folder / "redis")
        features = start_redis(folder / "redis-features")
        mlflow_server = start_mlflow(folder / "mlflow")
        try:
            relax_fsync(features.url)
            return measure(folder, durable.url, features.url, mlflow_server.url)
        finally:
            mlflow_server.stop()
            features.stop()
            durable.stop()


def relax_fsync(url: str) -> None:
    """The features Redis fsyncs once a second, as the stack runs it (ADR-0007)."""
    import redis

    client = redis.Redis.from_url(url)
    client.config_set("appendfsync", "everysec")
    client.close()


def measure(
    folder: Path, redis_url: str, features_url: str, tracking_uri: str
) -> dict[str, float]:
    """The default layout (one durable Redis), then features on their own Redis."""
    history = simulated_history()
    model_name = f"sentinel-fraud-bench-{uuid.uuid4().hex[:6]}"
    register(history, tracking_uri, model_name)
    warm, traffic = split(history)
    env = {
        "REDIS_URL": redis_url,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "SENTINEL_API_KEY": API_KEY,
        "SENTINEL_MODEL_NAME": model_name,
        "LOG_LEVEL": "INFO",
    }
    figures: dict[str, float] = {}
    for prefix, features_at in (
        ("sentinel", features_url),
        ("sentinel_one_redis", redis_url),
    ):
        asyncio.run(warm_features(warm, features_at))
        # Own ids for the in-process run: a repeated id would hit the answer cache.
        probes = [
            payload(row, i) for i, row in enumerate(traffic.head(2000).itertuples())
        ]
        payloads = [payload(row, i) for i, row in enumerate(traffic.itertuples())]
        measured = on_uvloop(in_process(features_at, tracking_uri, model_name, probes))
        layout = (
            env
            if features_at == redis_url
            else {**env, "FEATURES_REDIS_URL": features_at}
        )
        with live_sentinel(folder, layout) as (port, pid):
            measured.update(on_uvloop(load_test(port, pid, payloads)))
        figures.update({f"{prefix}_{name}": value for name, value in measured.items()})
    # Other work on the machine weighs on every figure: record how busy it was.
    figures["sentinel_bench_load_average_1m"] = round(os.getloadavg()[0], 2)
    return figures


def on_uvloop(work: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop, the event loop uvicorn gives the server.

    For the in-process figures, so they compare with the service's; for the load
    generator, because it shares the 2 cores with the server: its own CPU per
    request (parsing answers, waking tasks) is time the server waits for a core,
    and a response read late by a busy generator is measured as server latency.
    """
    import uvloop

    return uvloop.run(work)


# --- data and model ----------------------------------------------------------


def simulated_history() -> pd.DataFrame:
    from pipelines.generate_transactions import SimulationConfig, simulate

    config = SimulationConfig(days=42, customers=2_000, terminals=4_000, seed=21)
    return simulate(config).transactions


def register(history: pd.DataFrame, tracking_uri: str, name: str) -> None:
    from pipelines.train_fraud import TrainingConfig, train_and_register

    train_and_register(history, tracking_uri, TrainingConfig(model_name=name))


def split(history: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A week to warm the online features, then the payments that are replayed."""
    end = history["timestamp"].max()
    traffic_start = end - timedelta(days=8)
    warm = history[
        (history["timestamp"] > traffic_start - timedelta(days=7))
        & (history["timestamp"] <= traffic_start)
    ]
    return warm, history[history["timestamp"] > traffic_start]


async def warm_features(warm: pd.DataFrame, redis_url: str) -> None:
    from pipelines.replay import warm_up_features

    await warm_up_features(warm, redis_url, warm["timestamp"].max())


def payload(row: Any, index: int) -> dict[str, Any]:
    return {
        "transaction_id": f"bench-{index}-{uuid.uuid4().hex[:8]}",
        "timestamp": row.timestamp.isoformat(),
        "customer_id": str(row.customer_id),
        "terminal_id": str(row.terminal_id),
        "amount": round(float(row.amount), 2),
        "currency": "EUR",
    }


# --- in process ----------------------------------------------------------------


async def in_process(
    redis_url: str, tracking_uri: str, name: str, payloads: list[dict[str, Any]]
) -> dict[str, float]:
    """Features + prediction without HTTP, on the same Redis and model."""
    import redis.asyncio as aioredis
    import xgboost as xgb

    from api.sentinel.features import OnlineFeatureStore
    from api.sentinel.model import fetch_model
    from api.sentinel.schemas import TransactionIn
    from api.sentinel.scoring import to_event

    model = fetch_model(tracking_uri, name, "champion")
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    store = OnlineFeatureStore(client)  # the warmed-up state the service also uses
    events = [to_event(TransactionIn.model_validate(p)) for p in payloads]
    scoring, explained, tables, exact, approx = [], [], [], [], []
    for event in events:
        started = time.perf_counter()
        features = await store.update_and_read(event)
        rows = model.rows([features])
        fetched = time.perf_counter()
        model.predict(rows)
        predicted = time.perf_counter()
        model.predict_explained(rows)  # what the service does: score and reasons
        done = time.perf_counter()
        scoring.append(predicted - started)
        tables.append(done - predicted)
        explained.append(fetched - started + done - predicted)
        started = time.perf_counter()
        # XGBoost's own TreeSHAP, the path of a model without tables
        matrix = xgb.DMatrix(rows, feature_names=list(model.feature_names), nthread=1)
        model.booster.predict(matrix, pred_contribs=True)
        exact.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.contributions(rows, exact=False)
        approx.append(time.perf_counter() - started)
    await client.aclose()  # type: ignore[attr-defined]  # stubs predate it
    return {
        "inprocess_p50_ms": ms(np.percentile(scoring, 50)),
        "inprocess_p99_ms": ms(np.percentile(scoring, 99)),
        "inprocess_explained_p50_ms": ms(np.percentile(explained, 50)),
        "inprocess_explained_p99_ms": ms(np.percentile(explained, 99)),
        "explain_tables_p50_ms": ms(np.percentile(tables, 50)),
        "explain_exact_p50_ms": ms(np.percentile(exact, 50)),
        "explain_approx_p50_ms": ms(np.percentile(approx, 50)),
    }


# --- live server ---------------------------------------------------------------


@contextmanager
def live_sentinel(folder: Path, settings: dict[str, str]) -> Iterator[tuple[int, int]]:
    """(port, process id) of Sentinel under uvicorn."""
    from tests.support import running_api

    log = folder / "sentinel.log"
    with running_api("api.sentinel.main:create_app", settings, log) as api:
        yield api.port, api.pid


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stolen_s() -> float:
    """CPU seconds the hypervisor gave other guests while ours were runnable
    (the steal column of /proc/stat, all CPUs, in 10 ms ticks; 0 on bare metal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    steal = int(fields[8]) if len(fields) > 8 else 0
    return steal / os.sysconf("SC_CLK_TCK")


class Connection:
    """One keep-alive HTTP/1.1 connection; a minimal client costs the CPU least."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def post(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


def http_request(port: int, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"X-API-Key: {API_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def load_test(
    port: int, pid: int, payloads: list[dict[str, Any]]
) -> dict[str, float]:
    """The figures of one layout; the fixed rate runs FIXED_RUNS times.

    On this shared virtual machine the p99 of one 30 s run moved between 3.4 and
    5.3 ms from run to run with nothing changed; the figure is the median run's,
    with the lowest and highest beside it. The machine also runs work that follows
    an idle pause slower: after 20 ms of sleep, the features' Redis round trip took
    1.05 to 1.09 ms instead of 0.44 to 0.55 ms and the TreeSHAP tables 0.38 to
    0.40 ms instead of 0.16 to 0.24 ms. That is why the 50/s figures are slower
    than the 300/s ones. Each run also records the server's CPU per request and
    the time the hypervisor took the CPUs away (`_run<N>_steal_ms`), which is what
    moves a run's p99 most: in four benchmarks of one build, runs with 0 to 80 ms
    stolen had p99s of 3.2 to 4.9 ms, one with 380 ms 5.25 ms, and three of the
    one-Redis layout with 2.5 to 5.5 s stolen 11 to 16.7 ms.
    """
    requests = [http_request(port, body) for body in payloads]
    fixed = RATE * DURATION_S
    light_end = 200 + LIGHT_RATE * LIGHT_S
    needed = light_end + fixed * FIXED_RUNS + 5000
    if len(requests) < needed:
        raise RuntimeError(f"need {needed} payloads, have {len(requests)}")
    await warm_server(port, requests[:200])
    runs = []
    per_run: dict[str, float] = {}
    with generator_without_gc():
        floor = await http_floor(port)
        # A light load first: the service's own latency when nothing queues.
        light, _, light_errors = await open_loop(
            port, requests[200:light_end], LIGHT_RATE
        )
        errors = light_errors
        for run in range(FIXED_RUNS):
            start = light_end + run * fixed
            cpu, steal = process_cpu_s(pid), stolen_s()
            latencies, late, run_errors = await open_loop(
                port, requests[start : start + fixed], RATE
            )
            p99 = float(np.percentile(latencies, 99))
            per_run[f"score_run{run + 1}_p99_ms"] = ms(p99)
            per_run[f"score_run{run + 1}_steal_ms"] = ms(stolen_s() - steal)
            per_run[f"score_run{run + 1}_server_cpu_ms_per_request"] = ms(
                (process_cpu_s(pid) - cpu) / fixed
            )
            runs.append((p99, latencies, late))
            errors += run_errors
        rps, max_errors = await closed_loop(
            port, requests[light_end + fixed * FIXED_RUNS :]
        )
    runs.sort(key=lambda run: run[0])
    _, latencies, late = runs[len(runs) // 2]
    return {
        "http_floor_p50_ms": ms(np.percentile(floor, 50)),
        "http_floor_p99_ms": ms(np.percentile(floor, 99)),
        f"score_{LIGHT_RATE}rps_p50_ms": ms(np.percentile(light, 50)),
        f"score_{LIGHT_RATE}rps_p99_ms": ms(np.percentile(light, 99)),
        "score_p50_ms": ms(np.percentile(latencies, 50)),
        "score_p99_ms": ms(np.percentile(latencies, 99)),
        "score_p99_lowest_run_ms": ms(runs[0][0]),
        "score_p99_highest_run_ms": ms(runs[-1][0]),
        "score_max_ms": ms(max(max(run[1]) for run in runs)),
        "score_late_start_p99_ms": ms(np.percentile(late, 99)),
        "score_errors": float(errors + max_errors),
        "max_rps": round(rps, 1),
        **per_run,
    }


@contextmanager
def generator_without_gc() -> Iterator[None]:
    """No garbage collection in the load generator while it measures.

    This process also trained the model and holds the history: ~290,000 tracked
    objects, and a full collection of them stopped the generator for 100 to 180 ms.
    It then sent the ~50 requests that had come due at once, and their queue was
    measured as the server's latency (the p99 at 300/s went from ~4 ms to 7-11 ms).
    The server freezes its own heap after loading a model (api/common/heap.py).
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def http_floor(port: int, count: int = 1000) -> list[float]:
    """GET /healthz one at a time, 5 ms apart: what any request costs here."""
    connection = await Connection.open(port)
    request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    latencies = []
    for _ in range(count):
        sent = time.perf_counter()
        await connection.post(request)
        latencies.append(time.perf_counter() - sent)
        await asyncio.sleep(0.005)
    connection.close()
    return latencies


async def warm_server(port: int, requests: list[bytes]) -> None:
    connection = await Connection.open(port)
    for request in requests:
        await connection.post(request)
    connection.close()


async def open_loop(
    port: int, requests: list[bytes], rate: int
) -> tuple[list[float], list[float], int]:
    """Each request leaves at start + i / rate on a free connection.

    One dispatcher sleeps until each request's time and only then starts its task.
    (A task per request created up front, each sleeping until its time, cost the
    generator ~0.15 s to set up at 9,000 requests: the first requests left that
    late, all at once, and their queue was measured as the server's latency.)
    """
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(OPEN_LOOP_CONNECTIONS):
        idle.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    late: list[float] = []
    errors = 0

    async def one(scheduled: float, request: bytes) -> None:
        nonlocal errors
        connection = await idle.get()
        sent = time.perf_counter()
        late.append(sent - scheduled)
        status = await connection.post(request)
        latencies.append(time.perf_counter() - sent)
        errors += status != 200
        idle.put_nowait(connection)

    tasks = []
    start = time.perf_counter() + 0.05
    for index, request in enumerate(requests):
        scheduled = start + index / rate
        wait = scheduled - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.ensure_future(one(scheduled, request)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    return latencies, late, errors


async def closed_loop(port: int, requests: list[bytes]) -> tuple[float, int]:
    """As many requests as MAX_RPS_CONNECTIONS busy connections complete."""
    pending = iter(requests)
    done = errors = 0
    deadline = time.perf_counter() + MAX_RPS_S

    async def worker() -> None:
        nonlocal done, errors
        connection = await Connection.open(port)
        for request in pending:
            if time.perf_counter() >= deadline:
                break
            errors += await connection.post(request) != 200
            done += 1
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(MAX_RPS_CONNECTIONS)))
    return done / (time.perf_counter() - started), errors


def ms(seconds: float) -> float:
    return round(float(seconds) * 1000, 3)


if __name__ == "__main__":
    print(main())
