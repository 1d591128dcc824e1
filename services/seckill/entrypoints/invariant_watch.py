"""The app's periodic, read-only reconcile pass: the stock invariant of every item as the
gauge `seckill_invariant_drift{item}` (what `coursestream seckill reconcile` prints, never
fixed here). Every replica runs it; they all export the same figures (see docs/seckill.md)."""

from __future__ import annotations

from services.seckill import handlers
from services.seckill.bootstrap import Runtime
from services.seckill.metrics import InvariantMetrics
from shared.logging import get_logger
from shared.periodic import every

log = get_logger(__name__)


async def watch_invariant(runtime: Runtime, metrics: InvariantMetrics, every_s: float) -> None:
    """Forever: one pass, then wait `every_s`. A failed pass (Redis or the database away) is
    logged and leaves the last figures."""

    async def one_pass() -> None:
        drifts = await handlers.invariant_drift(runtime.repo, runtime.store)
        for item_id, drift in drifts.items():
            metrics.drift.labels(str(item_id)).set(drift)
        if any(drifts.values()):
            log.error("seckill invariant drift", drifts={i: d for i, d in drifts.items() if d})

    await every(every_s, one_pass, "seckill invariant")
