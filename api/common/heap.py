"""Keep the garbage collector's full passes off the request path.

A service imports MLflow, pandas, XGBoost and loads a model: hundreds of thousands of
long-lived objects. CPython's full (generation 2) collection walks all of them; on the
2-core machine one pass took 127 to 180 ms inside Sentinel at 300 requests a second
(measured with a gc callback), and every request queued behind it. Those passes were
the whole of the p99.

`settle_heap()` collects once and then freezes what survives: frozen objects are
never scanned again, so later full passes only walk what requests allocate. Call it
once the service has loaded what it keeps (at start-up and after each model swap).
A frozen object that later becomes garbage is still freed by reference counting;
only reference cycles among frozen objects would stay, which is why it runs after
loading, not during a request.
"""

from __future__ import annotations

import gc
import logging
import time

logger = logging.getLogger(__name__)


def settle_heap(reason: str) -> None:
    """Collect, then move every surviving object to the permanent generation."""
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    logger.info(
        "heap_settled",
        extra={
            "reason": reason,
            "frozen_objects": gc.get_freeze_count(),
            "took_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
