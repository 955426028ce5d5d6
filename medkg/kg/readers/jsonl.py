"""Line-by-line JSON reading with the file and line of every bad record."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from medkg.errors import MedkgError


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise MedkgError(f"invalid JSON: {err.msg}", path=path, line=number, column=err.colno) from None
            if not isinstance(record, dict):
                raise MedkgError("each line must be a JSON object", path=path, line=number)
            yield number, record


def first_record(path: Path) -> dict | None:
    for _, record in iter_jsonl(path):
        return record
    return None
