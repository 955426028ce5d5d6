"""Reading a document's text exactly as stored, so that character offsets match what other tools counted.

A leaf of medkg.extract (it imports only medkg.errors): the document readers (`medkg.extract.inputs`) and the
gold-standard readers (`medkg.extract.brat`, `medkg.extract.gold`, `medkg.extract.gold_corpora`) all read text
through it, and none of them has to import another to do so.
"""
from __future__ import annotations

from pathlib import Path

from medkg.errors import MedkgError


def read_text_exactly(path: Path) -> str:
    """UTF-8 text as stored: newline="" keeps \r\n, so offsets match what other tools (BRAT, E3C) count."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise MedkgError(f"not UTF-8 text (byte {exc.start}): {exc.reason}", path=path) from None
    except OSError as exc:
        raise MedkgError(f"cannot read: {exc.strerror or exc}", path=path) from None
