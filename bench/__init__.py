"""Benchmarks; results in docs/benchmarks.md."""

# A benchmark is one client at full speed from one address: quotas far above anything it
# sends, so the gateway's rate limiter runs (and its cost is in the figures) but never refuses.
UNREFUSED_LIMITS = {
    f"RATE_LIMIT_{name}": '{"quota": 1000000000, "window_s": 1}'
    for name in ("READS", "WRITES", "AUTH", "ATTEMPTS", "EVENTS")
}
