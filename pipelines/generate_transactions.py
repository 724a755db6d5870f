"""Seeded simulator of card payments with tagged fraud scenarios and delayed labels.

`python -m pipelines.generate_transactions --days 90 --customers 2000 --out DIR`
writes transactions, customers and terminals. Customers live somewhere, shop at a
handful of nearby terminals at their own hours and amounts. Fraud is injected as four
tagged scenarios; legitimate look-alikes (big purchases, bursts of small payments,
travel) keep the problem from being trivially separable. Every transaction gets a
`label_available_at`: its chargeback (or confirmation) arrives days later.
Everything is vectorised with numpy: a million transactions take a few seconds.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial import cKDTree

logger = logging.getLogger(__name__)

SCENARIOS = ("high_amount", "compromised_terminal", "card_takeover", "card_testing")
LOOKALIKES = ("large_purchase", "small_burst", "travel")
NO_TAG = "none"
DAY_S = 86_400
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SimulationConfig:
    """Sizes, seed and the rates of every pattern (per customer-day unless noted)."""

    days: int = 90
    customers: int = 2_000
    terminals: int = 4_000
    seed: int = 7
    start: str = "2025-01-06"
    terminals_per_customer: int = 20
    # Label delay (days): a cardholder call within hours up to a chargeback in a week.
    label_delay_min_days: float = 0.25
    label_delay_max_days: float = 7.0
    high_amount_rate: float = 0.0012
    # Per terminal-day: chance a terminal gets compromised; then each payment there
    # is fraudulent with this probability during the compromise.
    terminal_compromise_rate: float = 0.0005
    compromised_payment_share: float = 0.4
    takeover_rate: float = 0.0008
    card_testing_rate: float = 0.0008
    large_purchase_share: float = 0.004  # of ordinary payments
    small_burst_rate: float = 0.004
    travel_rate: float = 0.002
    # Multiplies every fraud rate; tests raise it to get many frauds from few rows.
    fraud_intensity: float = 1.0

    @property
    def label_delay_days(self) -> float:
        """The longest label delay: the gap training leaves before its test period."""
        return self.label_delay_max_days


@dataclass(frozen=True)
class Population:
    customers: pd.DataFrame
    terminals: pd.DataFrame
    neighbours: IntArray  # customer -> indexes of nearby terminals, shuffled


@dataclass
class Batch:
    """Transactions of one pattern, as parallel arrays (times in seconds from start)."""

    customer: IntArray
    terminal: IntArray
    seconds: IntArray
    amount: FloatArray
    fraud_scenario: str = NO_TAG
    lookalike: str = NO_TAG

    def __len__(self) -> int:
        return len(self.customer)


@dataclass(frozen=True)
class SimulatedData:
    transactions: pd.DataFrame
    customers: pd.DataFrame
    terminals: pd.DataFrame


def simulate(config: SimulationConfig) -> SimulatedData:
    """The whole simulated history for `config`; same config, same data."""
    rng = np.random.default_rng(config.seed)
    population = make_population(config, rng)
    ordinary = ordinary_payments(config, population, rng)
    ordinary, large = mark_large_purchases(config, population, ordinary, rng)
    batches = [
        ordinary,
        large,
        small_bursts(config, population, rng),
        travel(config, population, rng),
        high_amount_fraud(config, population, rng),
        card_takeover_fraud(config, population, rng),
        *card_testing_fraud(config, population, rng),
    ]
    merged = merge(batches)
    compromise_terminals(config, merged, rng)
    transactions = assemble(config, population, merged, rng)
    return SimulatedData(transactions, population.customers, population.terminals)


def make_population(config: SimulationConfig, rng: np.random.Generator) -> Population:
    n_c, n_t = config.customers, config.terminals
    c_xy = rng.uniform(0, 100, size=(n_c, 2))
    t_xy = rng.uniform(0, 100, size=(n_t, 2))
    mean_amount = rng.uniform(5, 100, n_c).round(2)
    customers = pd.DataFrame(
        {
            "customer_id": _ids("c-", n_c, 6),
            "x": c_xy[:, 0].round(3),
            "y": c_xy[:, 1].round(3),
            "mean_amount": mean_amount,
            "std_amount": (mean_amount / 2).round(2),
            "mean_tx_per_day": rng.uniform(0.5, 4.0, n_c).round(3),
            "preferred_hour": np.clip(rng.normal(13, 3, n_c), 7, 21).round(2),
        }
    )
    terminals = pd.DataFrame(
        {
            "terminal_id": _ids("t-", n_t, 6),
            "x": t_xy[:, 0].round(3),
            "y": t_xy[:, 1].round(3),
        }
    )
    k = min(config.terminals_per_customer, n_t)
    _, nearest = cKDTree(t_xy).query(c_xy, k=k)
    nearest = np.asarray(nearest, dtype=np.int64).reshape(n_c, k)
    return Population(customers, terminals, rng.permuted(nearest, axis=1))


def ordinary_payments(
    config: SimulationConfig, population: Population, rng: np.random.Generator
) -> Batch:
    """Each customer pays a Poisson number of times a day, near home, at their hours."""
    customers = population.customers
    per_day = customers["mean_tx_per_day"].to_numpy()
    counts = rng.poisson(per_day[:, None], size=(len(customers), config.days))
    cells = np.repeat(np.arange(counts.size), counts.ravel())
    customer, day = cells // config.days, cells % config.days
    hour = customers["preferred_hour"].to_numpy()[customer]
    second_of_day = (hour * 3600 + rng.normal(0, 3 * 3600, len(cells))) % DAY_S
    mean = customers["mean_amount"].to_numpy()[customer]
    # Gamma with shape 4: positive amounts with std = mean / 2.
    amount = _cents(rng.gamma(4.0, mean / 4.0))
    return Batch(
        customer=customer,
        terminal=familiar_terminal(population, customer, rng),
        seconds=day * DAY_S + second_of_day.astype(np.int64),
        amount=amount,
    )


def familiar_terminal(
    population: Population, customer: IntArray, rng: np.random.Generator
) -> IntArray:
    """A nearby terminal, favourites far more often (weights 1/rank)."""
    k = population.neighbours.shape[1]
    weights = 1.0 / np.arange(1, k + 1)
    rank = np.searchsorted(
        np.cumsum(weights / weights.sum()), rng.random(len(customer))
    )
    rank = np.minimum(rank, k - 1)
    return population.neighbours[customer, rank]


def mark_large_purchases(
    config: SimulationConfig,
    population: Population,
    ordinary: Batch,
    rng: np.random.Generator,
) -> tuple[Batch, Batch]:
    """Split off some ordinary payments as legitimate big purchases (5-15x usual)."""
    chosen = rng.random(len(ordinary)) < config.large_purchase_share
    mean = population.customers["mean_amount"].to_numpy()[ordinary.customer[chosen]]
    large = Batch(
        customer=ordinary.customer[chosen],
        terminal=ordinary.terminal[chosen],
        seconds=ordinary.seconds[chosen],
        amount=_cents(mean * rng.uniform(5, 15, chosen.sum())),
        lookalike="large_purchase",
    )
    keep = ~chosen
    rest = Batch(
        ordinary.customer[keep],
        ordinary.terminal[keep],
        ordinary.seconds[keep],
        ordinary.amount[keep],
    )
    return rest, large


def small_bursts(
    config: SimulationConfig, population: Population, rng: np.random.Generator
) -> Batch:
    """Legitimate: 2-5 small payments within an hour at one or two unfamiliar
    terminals (parking, vending, transit), in the daytime."""
    customer, day = _pick_customer_days(config, config.small_burst_rate, rng)
    size = rng.integers(2, 6, len(customer))
    start = day * DAY_S + rng.integers(8 * 3600, 20 * 3600, len(customer))
    places = rng.integers(0, config.terminals, size=(len(customer), 2))
    row = np.repeat(np.arange(len(customer)), size)
    second_place = rng.random(len(row)) < 0.3
    return Batch(
        customer=customer[row],
        terminal=places[row, second_place.astype(np.int64)],
        seconds=start[row] + rng.integers(0, 3600, len(row)),
        amount=_cents(rng.uniform(0.5, 4.5, len(row))),
        lookalike="small_burst",
    )


def travel(
    config: SimulationConfig, population: Population, rng: np.random.Generator
) -> Batch:
    """Legitimate: a trip, 2-6 usual-sized payments over two days at far terminals."""
    customer, day = _pick_customer_days(config, config.travel_rate, rng)
    size = rng.integers(2, 7, len(customer))
    row = np.repeat(np.arange(len(customer)), size)
    who = customer[row]
    mean = population.customers["mean_amount"].to_numpy()[who]
    hour = rng.normal(14, 4, len(row)).clip(6, 23)
    offset_days = rng.integers(0, 2, len(row))
    return Batch(
        customer=who,
        terminal=rng.integers(0, config.terminals, len(row)),
        seconds=_clip_days(config, (day[row] + offset_days) * DAY_S + hour * 3600),
        amount=_cents(rng.gamma(4.0, mean / 4.0)),
        lookalike="travel",
    )


def high_amount_fraud(
    config: SimulationConfig, population: Population, rng: np.random.Generator
) -> Batch:
    """One large payment (250-1500) at an arbitrary terminal, at any hour."""
    rate = config.high_amount_rate * config.fraud_intensity
    customer, day = _pick_customer_days(config, rate, rng)
    return Batch(
        customer=customer,
        terminal=rng.integers(0, config.terminals, len(customer)),
        seconds=day * DAY_S + rng.integers(0, DAY_S, len(customer)),
        amount=_cents(rng.uniform(250, 1500, len(customer))),
        fraud_scenario="high_amount",
    )


def card_takeover_fraud(
    config: SimulationConfig, population: Population, rng: np.random.Generator
) -> Batch:
    """A stolen card: over the next 2-10 days the thief pays 2-9 times, 2-5x the
    owner's usual amount, at terminals the owner never uses, often at night."""
    rate = config.takeover_rate * config.fraud_intensity
    customer, day = _pick_customer_days(config, rate, rng)
    size = 2 + rng.poisson(3.5, len(customer)).clip(0, 7)
    span = rng.integers(2, 11, len(customer))
    row = np.repeat(np.arange(len(customer)), size)
    who = customer[row]
    mean = population.customers["mean_amount"].to_numpy()[who]
    night = rng.random(len(row)) < 0.5
    hour = np.where(night, rng.uniform(0, 6, len(row)), rng.uniform(6, 24, len(row)))
    offset = rng.integers(0, span[row])
    return Batch(
        customer=who,
        terminal=rng.integers(0, config.terminals, len(row)),
        seconds=_clip_days(config, (day[row] + offset) * DAY_S + hour * 3600),
        amount=_cents(mean * rng.uniform(2, 5, len(row))),
        fraud_scenario="card_takeover",
    )


def card_testing_fraud(
    config: SimulationConfig, population: Population, rng: np.random.Generator
) -> list[Batch]:
    """3-6 probes of 0.50-3.00 at different unfamiliar terminals within 15 minutes,
    then, for most cards, a cash-out of 100-800 within two hours."""
    rate = config.card_testing_rate * config.fraud_intensity
    customer, day = _pick_customer_days(config, rate, rng)
    start = day * DAY_S + rng.integers(0, DAY_S - 4 * 3600, len(customer))
    size = rng.integers(3, 7, len(customer))
    row = np.repeat(np.arange(len(customer)), size)
    probes = Batch(
        customer=customer[row],
        terminal=rng.integers(0, config.terminals, len(row)),
        seconds=start[row] + rng.integers(0, 15 * 60, len(row)),
        amount=_cents(rng.uniform(0.5, 3.0, len(row))),
        fraud_scenario="card_testing",
    )
    cash_out = rng.random(len(customer)) < 0.7
    n_out = int(cash_out.sum())
    return [
        probes,
        Batch(
            customer=customer[cash_out],
            terminal=rng.integers(0, config.terminals, n_out),
            seconds=start[cash_out] + rng.integers(20 * 60, 2 * 3600, n_out),
            amount=_cents(rng.uniform(100, 800, n_out)),
            fraud_scenario="card_testing",
        ),
    ]


def merge(batches: list[Batch]) -> dict[str, npt.NDArray[np.generic]]:
    """All batches as one set of columns, each pattern keeping its tags."""
    return {
        "customer": np.concatenate([b.customer for b in batches]),
        "terminal": np.concatenate([b.terminal for b in batches]),
        "seconds": np.concatenate([b.seconds for b in batches]),
        "amount": np.concatenate([b.amount for b in batches]),
        "fraud_scenario": np.concatenate(
            [np.full(len(b), b.fraud_scenario, dtype=object) for b in batches]
        ),
        "lookalike": np.concatenate(
            [np.full(len(b), b.lookalike, dtype=object) for b in batches]
        ),
    }


def compromise_terminals(
    config: SimulationConfig,
    merged: dict[str, npt.NDArray[np.generic]],
    rng: np.random.Generator,
) -> None:
    """Terminals skimmed for 14-28 days: a share of every payment there is fraud."""
    rate = config.terminal_compromise_rate * config.fraud_intensity
    terminal, first = np.nonzero(rng.random((config.terminals, config.days)) < rate)
    until = np.minimum(first + rng.integers(14, 29, len(terminal)), config.days)
    # A terminal x day grid of running compromises: +1 where one starts, -1 after.
    change = np.zeros((config.terminals, config.days + 1), dtype=np.int64)
    np.add.at(change, (terminal, first), 1)
    np.add.at(change, (terminal, until), -1)
    compromised = np.cumsum(change, axis=1)[:, : config.days] > 0
    where = merged["terminal"].astype(np.int64)
    day = merged["seconds"].astype(np.int64) // DAY_S
    inside = compromised[where, day]
    legit = merged["fraud_scenario"] == NO_TAG
    share = rng.random(len(where)) < config.compromised_payment_share
    merged["fraud_scenario"][inside & legit & share] = "compromised_terminal"


def assemble(
    config: SimulationConfig,
    population: Population,
    merged: dict[str, npt.NDArray[np.generic]],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One table in time order with ids, labels and label arrival times."""
    order = np.argsort(merged["seconds"], kind="stable")
    n = len(order)
    start = pd.Timestamp(config.start, tz="UTC")
    timestamp = start + pd.to_timedelta(merged["seconds"][order], unit="s")
    scenario = merged["fraud_scenario"][order]
    delay_s = rng.uniform(
        config.label_delay_min_days * DAY_S, config.label_delay_max_days * DAY_S, n
    ).astype(np.int64)
    customer_ids = population.customers["customer_id"].to_numpy()
    terminal_ids = population.terminals["terminal_id"].to_numpy()
    return pd.DataFrame(
        {
            "transaction_id": _ids("tx-", n, 8),
            "timestamp": timestamp,
            "customer_id": customer_ids[merged["customer"][order].astype(np.int64)],
            "terminal_id": terminal_ids[merged["terminal"][order].astype(np.int64)],
            "amount": merged["amount"][order].astype(np.float64),
            "is_fraud": (scenario != NO_TAG).astype(np.int8),
            "fraud_scenario": scenario,
            "lookalike": merged["lookalike"][order],
            "label_available_at": timestamp + pd.to_timedelta(delay_s, unit="s"),
        }
    )


def _pick_customer_days(
    config: SimulationConfig, rate: float, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    cells = config.customers * config.days
    n = rng.binomial(cells, min(rate, 1.0))
    chosen = rng.choice(cells, size=n, replace=False) if n else np.zeros(0, np.int64)
    chosen = np.asarray(chosen, dtype=np.int64)
    return chosen // config.days, chosen % config.days


def _clip_days(config: SimulationConfig, seconds: FloatArray) -> IntArray:
    return np.clip(seconds, 0, config.days * DAY_S - 1).astype(np.int64)


def _cents(amount: FloatArray) -> FloatArray:
    return np.maximum(np.round(amount, 2), 0.01)


def _ids(prefix: str, n: int, width: int) -> npt.NDArray[np.str_]:
    return np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), width))


def write(data: SimulatedData, out: Path, file_format: str = "parquet") -> list[Path]:
    """Write the three tables as Parquet or gzip CSV; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    tables = {
        "transactions": data.transactions,
        "customers": data.customers,
        "terminals": data.terminals,
    }
    for name, table in tables.items():
        if file_format == "parquet":
            path = out / f"{name}.parquet"
            table.to_parquet(path, index=False)
        else:
            path = out / f"{name}.csv.gz"
            table.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        written.append(path)
    return written


def bootstrap_data(data_dir: Path) -> None:
    """Bootstrap step "fraud-data": the default history into DATA_DIR/fraud/."""
    data = simulate(SimulationConfig())
    write(data, data_dir / "fraud")
    logger.info("fraud_history_generated", extra=summary(data.transactions))


def summary(transactions: pd.DataFrame) -> dict[str, object]:
    frauds = transactions[transactions["is_fraud"] == 1]
    return {
        "transactions": len(transactions),
        "frauds": len(frauds),
        "fraud_rate": round(float(transactions["is_fraud"].mean()), 5),
        "by_scenario": frauds["fraud_scenario"].value_counts().to_dict(),
        "lookalikes": transactions["lookalike"].value_counts().drop(NO_TAG).to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.generate_transactions", description=__doc__
    )
    defaults = SimulationConfig()
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument("--terminals", type=int, default=defaults.terminals)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--start", default=defaults.start, help="first day, YYYY-MM-DD")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    if min(args.days, args.customers, args.terminals) < 1:
        parser.error("--days, --customers and --terminals must be at least 1")
    config = replace(
        defaults,
        days=args.days,
        customers=args.customers,
        terminals=args.terminals,
        seed=args.seed,
        start=args.start,
    )
    started = time.perf_counter()
    data = simulate(config)
    written = write(data, args.out, args.format)
    elapsed = time.perf_counter() - started
    print(f"generated in {elapsed:.1f} s: {summary(data.transactions)}")
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
