"""Offline language identification (py3langid), restricted to the languages medkg serves, and the text folding
that name matching in every language shares; used by rag and extract."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from medkg.errors import MedkgError

# Detection picks among medkg's first languages (a one-word question such as "tuberculosis" is otherwise
# anyone's guess); `--lang` may name any of the wider set.
DETECTED = ("en", "it", "es")
SUPPORTED = ("en", "it", "es", "de", "fr", "pt")


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE) if hasattr(
        LanguageIdentifier, "from_pickled_model") else None
    if identifier is None:
        import py3langid

        py3langid.set_languages(list(DETECTED))
        return py3langid
    identifier.set_languages(list(DETECTED))
    return identifier


def detect_language(text: str, override: str | None = None) -> str:
    """`override` wins unless it is "auto"; otherwise the most likely of DETECTED."""
    if override and override != "auto":
        if override not in SUPPORTED:
            raise MedkgError(f"unsupported language {override!r} (use auto or one of {', '.join(SUPPORTED)})")
        return override
    if not text.strip():
        return "en"
    language, _ = _identifier().classify(text)
    return language


_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Case-, accent- and space-folded form used for both names and mentions: "Sarampión" -> "sarampion"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip()
