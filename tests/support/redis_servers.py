"""Real Redis servers for tests: the embedded valkey-server always, REDIS_URL where set."""

from __future__ import annotations

import os

from shared.embedded_redis import EmbeddedRedis, free_port

BACKENDS = ["embedded"] + (["external"] if os.environ.get("REDIS_URL") else [])


def start_embedded(data_dir: os.PathLike[str] | str, aof: bool = False) -> EmbeddedRedis:
    from pathlib import Path

    return EmbeddedRedis(Path(data_dir), port=free_port(), aof=aof).start()
