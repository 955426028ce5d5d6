"""Passages come from the graph, the single source of truth for every index."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator

from medkg.kg.store import MAINTENANCE_TIMEOUT, GraphStore
from medkg.rag.records import Passage

_PASSAGES = """SELECT ?p ?text ?article ?title ?begin ?end WHERE {
  ?p a medkg:Passage ; schema:text ?text .
  OPTIONAL { ?p schema:isPartOf ?article . ?article a schema:Article . OPTIONAL { ?article schema:name ?title } }
  OPTIONAL { ?p nif:beginIndex ?begin ; nif:endIndex ?end }
} ORDER BY ?p"""


def graph_passages(store: GraphStore) -> Iterator[Passage]:
    result = store.query(_PASSAGES, timeout=MAINTENANCE_TIMEOUT)
    seen: set[str] = set()
    for row in result.rows:
        iri = row["p"].value
        if iri in seen:  # a passage with several titles: the first is enough
            continue
        seen.add(iri)
        text = row["text"]
        yield Passage(iri=iri, text=text.value, lang=(text.language or "und").split("-")[0].lower(),
                      article=row["article"].value if "article" in row else None,
                      title=row["title"].value if "title" in row else None,
                      begin=int(row["begin"].value) if "begin" in row else None,
                      end=int(row["end"].value) if "end" in row else None)


def passage_digest(passage: Passage) -> str:
    """What an index stores to tell a changed passage from an unchanged one."""
    content = "\x1f".join([passage.text, passage.lang, passage.title or "", passage.article or ""])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:24]
