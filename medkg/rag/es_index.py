"""The scale text index: Elasticsearch, behind the same `TextIndex` interface as the embedded tantivy index.

Use it when the passages outgrow one machine's disk, or when several medkg processes share one index. It mirrors
`TantivyIndex`: the same document ids (the passage IRI) and digests, so `sync()` is incremental and resumable in
the same way; the same per-language fields (`text_en`, `text_it`, `text_es` with Elasticsearch's built-in
english / italian / spanish analyzers, `text_other` with the standard one); and the same query shape (the query is
plain text analysed by every field's analyzer, `lang` a filter). So both back-ends return the same passages for
a question, with BM25 scores that are close but not identical (the engines combine fields differently).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from elasticsearch import ApiError, BadRequestError, ConnectionTimeout, Elasticsearch, TransportError, helpers

from medkg.errors import MedkgError
from medkg.rag.records import Hit, Passage
from medkg.rag.text_index import ANALYZED_LANGUAGES, TEXT_FIELDS, passage_fields

CHUNK_SIZE = 500  # passages per bulk request
BULK_RETRIES = 8  # retries of items the server rejects with 429 (too busy), backing off 2s, 4s, … up to 60s
SCAN_SIZE = 5000  # documents per page when reading all digests
MAX_ID_BYTES = 512  # Elasticsearch's limit on a document id
STORED = ["iri", "lang", "article", "title", "text", "begin", "end"]


def _mappings() -> dict[str, Any]:
    keyword = {"type": "keyword"}
    properties: dict[str, Any] = {
        "iri": keyword, "digest": keyword, "lang": keyword, "article": keyword,
        "title": {"type": "text", "analyzer": "standard"},
        "text": {"type": "text", "index": False},  # returned to callers, never searched
        "begin": {"type": "integer"}, "end": {"type": "integer"},
    }
    for lang, field in TEXT_FIELDS.items():
        properties[field] = {"type": "text", "analyzer": ANALYZED_LANGUAGES.get(lang, "standard")}
    # The analysed copies are indexed but not kept in _source: `text` already holds the passage once.
    return {"dynamic": "strict", "_source": {"excludes": list(TEXT_FIELDS.values())}, "properties": properties}


def _doc_id(iri: str) -> str:
    if len(iri.encode("utf-8")) <= MAX_ID_BYTES:
        return iri
    return "sha256:" + hashlib.sha256(iri.encode("utf-8")).hexdigest()  # still one stable id per IRI


def _redacted(url: str) -> str:
    """The URL without any user:password, for messages."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def _reason(err: ApiError) -> str:
    body = err.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('type', '')}: {error.get('reason', '')}".strip(": ")
    return str(err.message)


class ElasticsearchIndex:
    name = "elasticsearch"

    def __init__(self, url: str, index_name: str = "medkg-passages", *, client: Elasticsearch | None = None,
                 request_timeout: float = 30) -> None:
        self.url = url
        self.index_name = index_name
        self.request_timeout = request_timeout
        if client is None:
            try:
                client = Elasticsearch(url, request_timeout=request_timeout)
            except ValueError as err:
                raise MedkgError(f"not a usable Elasticsearch URL {_redacted(url)!r} (expected e.g. "
                                 f"http://localhost:9200): {err}") from None
        self.client = client
        with self._errors("create the index"):
            if not self.client.indices.exists(index=index_name):
                try:
                    self.client.indices.create(index=index_name, mappings=_mappings())
                except BadRequestError as err:  # another process created it first
                    if "resource_already_exists" not in str(err.message):
                        raise

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn the client's exceptions into a MedkgError that names the server and what failed."""
        where = f"Elasticsearch at {_redacted(self.url)}"
        try:
            yield
        except ApiError as err:  # the server answered with an error status
            raise MedkgError(f"{where} refused to {action} in index {self.index_name!r} "
                             f"(HTTP {err.meta.status}): {_reason(err)}") from err
        except ConnectionTimeout as err:
            raise MedkgError(f"{where} did not answer within {self.request_timeout}s "
                             f"(trying to {action})") from err
        except TransportError as err:  # connection refused, DNS, TLS, ...
            raise MedkgError(f"cannot reach {where} (trying to {action}): {err.message}") from err
        except helpers.ScanError as err:  # some shards failed while scrolling
            raise MedkgError(f"{where} failed to {action} in index {self.index_name!r}: {err}") from err

    def __len__(self) -> int:
        with self._errors("count passages"):
            return int(self.client.count(index=self.index_name)["count"])

    def digests(self) -> dict[str, str]:
        with self._errors("read the indexed digests"):
            docs = helpers.scan(self.client, index=self.index_name, query={"query": {"match_all": {}}},
                                source=["iri", "digest"], size=SCAN_SIZE)
            return {doc["_source"]["iri"]: doc["_source"]["digest"] for doc in docs}

    def write(self, passages: list[Passage], replace: set[str]) -> None:
        # The id is the IRI, so indexing a passage replaces its old version: `replace` needs no delete.
        failures: list[str] = []
        with self._errors("index passages"):
            results = helpers.streaming_bulk(
                self.client, self._actions(passages), chunk_size=CHUNK_SIZE, max_retries=BULK_RETRIES,
                initial_backoff=2, max_backoff=60, raise_on_error=False, yield_ok=False)
            for ok, item in results:
                if not ok:
                    failures.append(_failure(item))
            # Make what was written searchable now (and visible to the next digests()), even on failures.
            self.client.indices.refresh(index=self.index_name)
        if failures:
            shown = "; ".join(failures[:5]) + (f"; … and {len(failures) - 5} more" if len(failures) > 5 else "")
            raise MedkgError(f"Elasticsearch at {_redacted(self.url)} rejected {len(failures)} of "
                             f"{len(passages)} passages in index {self.index_name!r}: {shown}")

    def _actions(self, passages: Iterable[Passage]) -> Iterator[dict[str, Any]]:
        for passage in passages:
            source = passage_fields(passage)
            yield {"_op_type": "index", "_index": self.index_name, "_id": _doc_id(passage.iri), "_source": source}

    def search(self, query: str, *, k: int = 10, lang: str | None = None, must: str | None = None) -> list[Hit]:
        # multi_match takes the question as plain text ("(", ":" and quotes are just characters).
        def match(text: str) -> dict:
            return {"multi_match": {"query": text, "type": "best_fields", "fields": [*TEXT_FIELDS.values(), "title"]}}

        filters = [{"term": {"lang": lang}}] if lang else []
        boolean = {"must": [match(must)], "should": [match(query)]} if must else {"must": [match(query)]}
        with self._errors("search"):
            found = self.client.search(index=self.index_name, query={"bool": {**boolean, "filter": filters}},
                                       size=k, source=STORED)
        return [Hit(passage=_passage(hit["_source"]), score=float(hit["_score"]), rank=rank, retriever="text")
                for rank, hit in enumerate(found["hits"]["hits"], start=1)]


def _passage(source: dict[str, Any]) -> Passage:
    return Passage(iri=source["iri"], text=source["text"], lang=source["lang"], article=source.get("article"),
                   title=source.get("title"), begin=source.get("begin"), end=source.get("end"))


def _failure(item: dict[str, Any]) -> str:
    """One rejected bulk item as text: its id and the server's reason."""
    result = next(iter(item.values()), {})
    error = result.get("error")
    if isinstance(error, dict):
        error = f"{error.get('type', '')}: {error.get('reason', '')}"
    return f"{result.get('_id', '?')} (HTTP {result.get('status', '?')}) {error or 'unknown error'}"
