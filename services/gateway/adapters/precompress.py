"""Precompressed copies of the built web client: `x.js.gz` and `x.js.br` next to `x.js`.

Made once when the gateway starts (so no build tool has to know about them) and served by
`services.gateway.entrypoints.web` by `Accept-Encoding`: compressing per request would cost
the CPU the proxy needs, and brotli at its best level is far too slow for that.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

try:  # brotli is a dependency, but a gateway without it still serves gzip
    import brotli
except ImportError:  # pragma: no cover - depends on the installation
    brotli = None

# Text formats only: images and fonts (PNG, JPEG, WOFF2) are compressed already.
COMPRESSIBLE = frozenset({".html", ".js", ".mjs", ".css", ".svg", ".json", ".map", ".txt",
                          ".xml", ".webmanifest", ".ico", ".wasm"})
MIN_BYTES = 512  # below this the headers cost more than compression saves
# A copy must save at least a tenth, or the original is served as it is.
MAX_RATIO = 0.9


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def _brotli(data: bytes) -> bytes:
    assert brotli is not None
    return bytes(brotli.compress(data, quality=11))


def encoders() -> dict[str, Callable[[bytes], bytes]]:
    """File suffix -> compressor, for what this installation can make."""
    found: dict[str, Callable[[bytes], bytes]] = {".gz": _gzip}
    if brotli is not None:
        found[".br"] = _brotli
    return found


def is_fresh(sibling: Path, original: Path) -> bool:
    """A compressed copy is served only when it is at least as new as its original, so a
    rebuild that did not remake the copies never serves yesterday's bundle."""
    try:
        return sibling.stat().st_mtime_ns >= original.stat().st_mtime_ns
    except OSError:
        return False


def _originals(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.suffix in COMPRESSIBLE and path.is_file() and not path.is_symlink():
            yield path


def _write_atomically(target: Path, data: bytes, like: Path) -> None:
    # Two gateway processes may start together: each writes its own temporary file and
    # renames it into place, so a reader never sees half a file.
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        stat = like.stat()
        os.utime(temporary, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def precompress(root: Path) -> list[Path]:
    """Write the missing or stale `.gz` (and `.br`) copies of the text files under `root`;
    returns the files written. Raises OSError where `root` is read-only."""
    written, compressors = [], encoders()
    for original in _originals(root):
        data = None
        for suffix, compress in compressors.items():
            sibling = original.with_name(original.name + suffix)
            if is_fresh(sibling, original):
                continue
            data = original.read_bytes() if data is None else data
            if len(data) < MIN_BYTES:
                break
            packed = compress(data)
            if len(packed) > len(data) * MAX_RATIO:
                sibling.unlink(missing_ok=True)
                continue
            _write_atomically(sibling, packed, original)
            written.append(sibling)
    return written
