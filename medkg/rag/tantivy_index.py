"""The embedded text index: tantivy on disk, one analyzed text field per language.

A passage's text goes to the field of its language (English, Italian and Spanish get stemming and stop words);
a query is analysed by every field's analyzer and searched in all of them (BM25), so wording shared across
languages still matches, and `lang` narrows the results to one language.
"""
from __future__ import annotations

from pathlib import Path

import tantivy

from medkg.errors import MedkgError
from medkg.rag.records import Hit, Passage
from medkg.rag.text_index import ANALYZED_LANGUAGES, TEXT_FIELDS, passage_fields
WRITER_HEAP = 128_000_000


def _analyzer(language: str | None) -> tantivy.TextAnalyzer:
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
    builder = builder.filter(tantivy.Filter.lowercase())
    if language:
        builder = builder.filter(tantivy.Filter.stopword(language)).filter(tantivy.Filter.stemmer(language))
    return builder.build()


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("iri", stored=True, tokenizer_name="raw")
    builder.add_text_field("digest", stored=True, tokenizer_name="raw")
    builder.add_text_field("lang", stored=True, tokenizer_name="raw")
    builder.add_text_field("article", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", stored=True, tokenizer_name="medkg_other")
    builder.add_text_field("text", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("begin", stored=True)
    builder.add_integer_field("end", stored=True)
    for lang, name in TEXT_FIELDS.items():
        builder.add_text_field(name, stored=False, tokenizer_name=f"medkg_{lang}")
    return builder.build()


class TantivyIndex:
    name = "tantivy"

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            self.index = tantivy.Index(_schema(), path=str(path), reuse=True)
        except ValueError as err:
            raise MedkgError(f"cannot open the text index (built by another medkg version? remove it and "
                             f"rebuild): {err}", path=path) from None
        for lang in TEXT_FIELDS:
            self.index.register_tokenizer(f"medkg_{lang}", _analyzer(ANALYZED_LANGUAGES.get(lang)))
        self.path = path
        self._writer = None
        self._stale = True  # the searcher must be reloaded before the next search

    def _searcher(self) -> tantivy.Searcher:
        if self._stale:
            self.index.reload()
            self._stale = False
        return self.index.searcher()

    def __len__(self) -> int:
        return self._searcher().num_docs

    def digests(self) -> dict[str, str]:
        searcher = self._searcher()
        if searcher.num_docs == 0:
            return {}
        found = searcher.search(tantivy.Query.all_query(), limit=searcher.num_docs)
        result = {}
        for _, address in found.hits:
            doc = searcher.doc(address)
            result[doc["iri"][0]] = doc["digest"][0]
        return result

    def write(self, passages: list[Passage], replace: set[str]) -> None:
        # One writer for a whole sync (opening one per batch and waiting for its merges cost ~1/3 of the
        # build time); every batch is still committed, so an interrupted build keeps what it wrote.
        if self._writer is None:
            self._writer = self.index.writer(heap_size=WRITER_HEAP)
        writer = self._writer
        try:
            for iri in replace:
                writer.delete_documents_by_term("iri", iri)
            for passage in passages:
                writer.add_document(tantivy.Document(**passage_fields(passage)))
            writer.commit()
        except BaseException:
            writer.rollback()
            self.finish()
            raise
        self._stale = True

    def finish(self) -> None:
        """Let background merges end and release the writer (sync calls this after its last batch)."""
        if self._writer is not None:
            self._writer.wait_merging_threads()
            self._writer = None

    def search(self, query: str, *, k: int = 10, lang: str | None = None, must: str | None = None) -> list[Hit]:
        searcher = self._searcher()
        fields = list(TEXT_FIELDS.values()) + ["title"]
        # Lenient parsing: a question is text, not query syntax ("(", ":" and quotes are just characters).
        parsed, _errors = self.index.parse_query_lenient(query, fields)
        clauses = [(tantivy.Occur.Must, parsed)]
        if must:
            required, _errors = self.index.parse_query_lenient(must, fields)
            clauses = [(tantivy.Occur.Must, required), (tantivy.Occur.Should, parsed)]
        if lang:
            clauses.append((tantivy.Occur.Must, tantivy.Query.term_query(self.index.schema, "lang", lang)))
        if len(clauses) > 1:
            parsed = tantivy.Query.boolean_query(clauses)
        hits = []
        for rank, (score, address) in enumerate(searcher.search(parsed, limit=k).hits, start=1):
            doc = searcher.doc(address)
            hits.append(Hit(passage=_passage(doc), score=float(score), rank=rank, retriever="text"))
        return hits


def _passage(doc: tantivy.Document) -> Passage:
    def first(name: str):
        values = doc.get_all(name)
        return values[0] if values else None

    return Passage(iri=first("iri"), text=first("text"), lang=first("lang"), article=first("article"),
                   title=first("title"), begin=first("begin"), end=first("end"))
