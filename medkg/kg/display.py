"""Human-readable renderings of RDF terms, for tables in a terminal."""
from __future__ import annotations

import pyoxigraph as ox

from medkg.kg import namespaces as ns

_COMPACT = [(ns.OBO, None), (ns.WD, "wd:")] + [(iri, f"{p}:") for p, iri in ns.PREFIXES.items()
                                                if p not in ("obo", "wd")]


def compact_iri(iri: str) -> str:
    """obo:DOID_399 -> DOID:399, wikidata items -> wd:Q12204, known prefixes shortened, others unchanged."""
    for base, prefix in _COMPACT:
        if iri.startswith(base):
            local = iri[len(base):]
            if prefix is None:  # OBO PURLs read best as their CURIE
                return local.replace("_", ":", 1) if "_" in local else f"obo:{local}"
            return prefix + local
    return iri


def term_text(term, max_length: int | None = None) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        text = compact_iri(term.value)
    elif isinstance(term, ox.Literal):
        text = term.value + (f"@{term.language}" if term.language else "")
    else:
        text = str(term)
    if max_length and len(text) > max_length:
        text = text[: max_length - 1] + "…"
    return text
