"""Retrieval structures computed from the graph (name automata, the in-memory concept graph), kept on disk
between commands and keyed by the graph's fingerprint, so `medkg search` and `medkg eval mcq` do not spend
half a minute rebuilding them from SPARQL on every run. A changed graph has a new fingerprint: its entries
are rebuilt; an unreadable entry (another medkg version) is rebuilt too.

    automata = cached(home / "cache", "automata", graph_fingerprint(store), lambda: term_automata(store))
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
CACHE_VERSION = "1"  # bump when a cached structure changes shape


def cached(folder: Path | None, name: str, fingerprint: str, build: Callable[[], T]) -> T:
    if folder is None:
        return build()
    path = Path(folder) / f"{name}-{CACHE_VERSION}-{fingerprint}.pickle"
    if path.is_file():
        try:
            with path.open("rb") as handle:
                return pickle.load(handle)
        except Exception:  # noqa: BLE001 - a stale or truncated entry is rebuilt, whatever broke it
            path.unlink(missing_ok=True)
    value = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob(f"{name}-*.pickle"):  # entries of earlier graphs are dead weight
        old.unlink(missing_ok=True)
    staging = path.with_suffix(".part")
    with staging.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(staging, path)
    return value
