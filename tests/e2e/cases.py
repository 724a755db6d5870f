"""Review cases for browser tests and the UI benchmark, opened through Sentinel's API.

Each made-up customer first pays a few small amounts at a home terminal over the
previous days, then makes one payment many times their usual amount at a terminal
new to them: the fraud model sends most of those to review or block. Every batch is
scored in order by POST /v1/score/batch; only payments that opened a case count.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

CUSTOMERS_PER_BATCH = 200  # four payments each: 800 per call (the API takes 1,000)
HISTORY = 3


def customer_payments(
    run: str, number: int, rng: random.Random, now: datetime
) -> list[dict[str, Any]]:
    """A short ordinary history, then one unusually large payment."""
    customer = f"ui-c-{run}-{number}"
    usual = rng.uniform(15, 40)
    payments = []
    for day in range(HISTORY, 0, -1):
        moment = now - timedelta(days=day, hours=rng.uniform(0, 6))
        payments.append(
            _payment(f"{customer}-h{day}", moment, customer, f"{customer}-home", usual)
        )
    big = usual * rng.uniform(4, 60)
    moment = now - timedelta(minutes=rng.uniform(5, 600))
    payments.append(
        _payment(f"{customer}-x", moment, customer, f"ui-t-{run}-{number}", big)
    )
    return payments


def _payment(
    transaction_id: str, moment: datetime, customer: str, terminal: str, amount: float
) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "timestamp": moment.isoformat(),
        "customer_id": customer,
        "terminal_id": terminal,
        "amount": round(amount, 2),
        "currency": "EUR",
    }


def open_cases(
    sentinel_url: str, api_key: str, wanted: int, timeout_s: float = 120
) -> int:
    """Score made-up customers until `wanted` cases opened; returns how many did."""
    run, opened, number, calls = uuid.uuid4().hex[:8], 0, 0, 0
    rng = random.Random(run)
    now = datetime.now(UTC)
    with httpx.Client(
        base_url=sentinel_url, headers={"X-API-Key": api_key}, timeout=timeout_s
    ) as client:
        while opened < wanted:
            customers = min(CUSTOMERS_PER_BATCH, max(5, int((wanted - opened) * 1.2)))
            batch = []
            for _ in range(customers):
                batch += customer_payments(run, number, rng, now)
                number += 1
            response = client.post("/v1/score/batch", json={"transactions": batch})
            response.raise_for_status()
            opened += sum(1 for r in response.json()["results"] if r["case_id"])
            calls += 1
            if calls >= 3 and opened == 0:
                raise RuntimeError("the payments opened no case: the model approves")
    return opened
