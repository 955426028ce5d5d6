"""The one error type for mistakes a user can cause (bad file, bad SPARQL, missing data).

The CLI prints ``str(error)`` without a traceback and exits 2; library callers catch ``MedkgError``.
"""
from __future__ import annotations

from pathlib import Path


class MedkgError(Exception):
    """A user-facing error that says what went wrong and where (file and line when known)."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 column: int | None = None) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.column = column
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        return f"{where}{self.message}"


class QueryTimeout(MedkgError):
    """A query ran past its time limit (embedded store, endpoint or remote store)."""
