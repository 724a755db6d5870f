"""Log lines are JSON objects with the event name and the ids passed as extra."""

from __future__ import annotations

import json
import logging

import pytest

from api.common.logging import JsonFormatter

pytestmark = pytest.mark.unit


def test_one_json_object_per_event_with_extra_fields() -> None:
    record = logging.makeLogRecord(
        {
            "name": "api.sentinel",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "scored",
            "transaction_id": "tx-1",
            "latency_ms": 1.5,
        }
    )

    line = JsonFormatter("sentinel").format(record)

    payload = json.loads(line)
    assert "\n" not in line
    assert payload["event"] == "scored"
    assert payload["service"] == "sentinel"
    assert payload["transaction_id"] == "tx-1"
    assert payload["latency_ms"] == 1.5
    assert payload["ts"].endswith("+00:00")
