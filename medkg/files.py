"""Small file helpers every area uses (a leaf module: it imports nothing of medkg)."""
from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path | str) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks (model weights and dumps are hundreds of MB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
