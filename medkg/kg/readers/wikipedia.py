"""Wikipedia articles -> article, section and passage nodes.

Inputs: JSONL (``{id, lang, title, url, text}``, headings as ``== H ==`` lines, optional ``qid`` and
``redirect_titles``) and the Hugging Face ``wikimedia/wikipedia`` parquet layout (id, url, title, text; the
language is read from the URL). Article IRIs are the canonical Wikipedia URLs, the same ones Wikidata
sitelinks point to, which ties an article to its Wikidata item and, through it, to DOID/HPO concepts.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad

from medkg.errors import MedkgError
from medkg.kg import namespaces as ns
from medkg.kg.passages import split_passages, split_sections
from medkg.kg.readers.jsonl import iter_jsonl
from medkg.kg.readers.wikidata import item_iri, wikipedia_article_iri

_HOST_LANG = re.compile(r"^https?://([a-z][a-z-]*)\.(?:m\.)?wikipedia\.org/", re.IGNORECASE)
_QID = re.compile(r"^Q[1-9]\d*$")


@dataclass
class Article:
    lang: str
    title: str
    text: str
    url: str | None = None
    source_id: str | None = None
    qid: str | None = None
    alternate_titles: list[str] = field(default_factory=list)


def article_quads(article: Article, graph: NamedNode) -> Iterator[Quad]:
    lang = article.lang
    iri = wikipedia_article_iri(lang, article.title)
    slug = article.title.strip().replace(" ", "_")
    yield Quad(iri, ns.RDF_TYPE, ns.SCHEMA_ARTICLE, graph)
    yield Quad(iri, ns.SCHEMA_NAME, Literal(article.title, language=lang), graph)
    yield Quad(iri, ns.SCHEMA_IN_LANGUAGE, Literal(lang), graph)
    if article.url:
        yield Quad(iri, ns.SCHEMA_URL, Literal(article.url), graph)
    if article.source_id:
        yield Quad(iri, ns.SCHEMA_IDENTIFIER, Literal(article.source_id), graph)
    if article.qid:
        yield Quad(iri, ns.SCHEMA_ABOUT, item_iri(article.qid), graph)
    for alternate in article.alternate_titles:
        yield Quad(iri, ns.SCHEMA_ALTERNATE_NAME, Literal(alternate, language=lang), graph)
    sections = split_sections(article.text)
    section_iris = {}
    for section in sections:
        node = ns.minted("wikipedia", lang, slug, f"s{section.index}")
        section_iris[section.index] = node
        yield Quad(node, ns.RDF_TYPE, ns.MEDKG_SECTION, graph)
        yield Quad(node, ns.SCHEMA_IS_PART_OF, iri, graph)
        yield Quad(node, ns.SCHEMA_POSITION, Literal(section.index), graph)
        if section.title:
            yield Quad(node, ns.SCHEMA_NAME, Literal(section.title, language=lang), graph)
    for passage in split_passages(article.text, sections):
        node = ns.minted("wikipedia", lang, slug, f"p{passage.index}")
        yield Quad(node, ns.RDF_TYPE, ns.MEDKG_PASSAGE, graph)
        yield Quad(node, ns.SCHEMA_IS_PART_OF, section_iris[passage.section], graph)
        yield Quad(node, ns.SCHEMA_IS_PART_OF, iri, graph)
        yield Quad(node, ns.SCHEMA_POSITION, Literal(passage.index), graph)
        yield Quad(node, ns.SCHEMA_IN_LANGUAGE, Literal(lang), graph)
        yield Quad(node, ns.SCHEMA_TEXT, Literal(article.text[passage.start:passage.end], language=lang), graph)
        yield Quad(node, ns.NIF_BEGIN_INDEX, Literal(passage.start), graph)
        yield Quad(node, ns.NIF_END_INDEX, Literal(passage.end), graph)


def _require(record: dict, key: str, path: Path, line: int | None) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise MedkgError(f"article has no {key!r}", path=path, line=line)
    return value


def read_wikipedia_jsonl(path: Path, graph: NamedNode) -> Iterator[Quad]:
    for line, record in iter_jsonl(path):
        yield from article_quads(_article(record, path, line), graph)


def _article(record: dict, path: Path, line: int | None) -> Article:
    title, text = _require(record, "title", path, line), _require(record, "text", path, line)
    url = record.get("url")
    lang = record.get("lang") or (_HOST_LANG.match(url).group(1).lower() if url and _HOST_LANG.match(url) else None)
    if not lang:
        raise MedkgError("article has no 'lang' and its 'url' is not a Wikipedia URL", path=path, line=line)
    qid = record.get("qid")
    if qid is not None and not (isinstance(qid, str) and _QID.match(qid)):
        raise MedkgError(f"invalid Wikidata id {qid!r}", path=path, line=line)
    return Article(lang=lang, title=title, text=text, url=url, source_id=str(record.get("id") or "") or None,
                   qid=qid, alternate_titles=[t for t in record.get("redirect_titles") or [] if t != title])


def read_wikipedia_parquet(path: Path, graph: NamedNode) -> Iterator[Quad]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ...
        raise MedkgError(f"cannot read parquet: {err}", path=path) from None
    missing = {"title", "text", "url"} - set(parquet.schema_arrow.names)
    if missing:
        raise MedkgError(f"not the wikimedia/wikipedia layout: missing column(s) {', '.join(sorted(missing))}",
                         path=path)
    row = 0
    for batch in parquet.iter_batches(batch_size=512, columns=[c for c in ("id", "url", "title", "text")
                                                               if c in parquet.schema_arrow.names]):
        for record in batch.to_pylist():
            row += 1
            # "line" is the 1-based row number for parquet input.
            yield from article_quads(_article(record, path, row), graph)


def is_wikipedia_record(record: dict) -> bool:
    return "text" in record and "title" in record
