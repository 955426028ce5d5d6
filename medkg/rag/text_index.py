"""The text index interface, and the incremental sync every back-end shares.

Back-ends: tantivy on disk (default, `TantivyIndex`) and Elasticsearch (`ElasticsearchIndex`). Both keep, for
each passage IRI, a digest of what was indexed, so a rebuild adds only what is new or changed; both commit in
batches, so an interrupted build keeps what it committed and the next run resumes.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from medkg.rag.corpus import passage_digest
from medkg.rag.records import Hit, Passage

# Languages with their own analyzer (stemming + stop words); others use a plain lower-casing analyzer.
ANALYZED_LANGUAGES = {"en": "english", "it": "italian", "es": "spanish"}
OTHER = "other"
# The indexed text field of each language; every back-end uses these names.
TEXT_FIELDS = {lang: f"text_{lang}" for lang in [*ANALYZED_LANGUAGES, OTHER]}


def passage_fields(passage: Passage) -> dict[str, object]:
    """The stored and indexed fields of one passage, the same in every back-end: its text goes to the
    field of its language."""
    fields: dict[str, object] = {"iri": passage.iri, "digest": passage_digest(passage), "lang": passage.lang,
                                 "text": passage.text, TEXT_FIELDS.get(passage.lang, TEXT_FIELDS[OTHER]): passage.text}
    if passage.article:
        fields["article"] = passage.article
    if passage.title:
        fields["title"] = passage.title
    if passage.begin is not None and passage.end is not None:
        fields["begin"], fields["end"] = passage.begin, passage.end
    return fields


class TextIndex(Protocol):
    name: str

    def digests(self) -> dict[str, str]:
        """passage IRI -> digest of what is indexed for it."""

    def write(self, passages: list[Passage], replace: set[str]) -> None:
        """Index passages (removing the old versions of the IRIs in `replace`) and commit."""

    def search(self, query: str, *, k: int = 10, lang: str | None = None, must: str | None = None) -> list[Hit]:
        """Best passages for a free-text query; `lang` restricts to passages in that language; `must`, when
        given, is text of which every passage has to match at least one term (the query only ranks them)."""

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class SyncReport:
    added: int
    updated: int
    unchanged: int


def sync(index: TextIndex, passages: Iterable[Passage], *, batch: int = 2000,
         progress: Callable[[int], None] | None = None) -> SyncReport:
    """Bring the index up to date with `passages`: add new ones, replace changed ones, commit per batch."""
    known = index.digests()
    pending: list[Passage] = []
    replace: set[str] = set()
    added = updated = unchanged = 0

    def flush() -> None:
        if pending:
            index.write(list(pending), set(replace))
            if progress:
                progress(len(pending))
            pending.clear()
            replace.clear()

    for passage in passages:
        digest = known.get(passage.iri)
        if digest == passage_digest(passage):
            unchanged += 1
            continue
        if digest is None:
            added += 1
        else:
            updated += 1
            replace.add(passage.iri)
        pending.append(passage)
        if len(pending) >= batch:
            flush()
    flush()
    finish = getattr(index, "finish", None)  # back-ends that hold a writer across batches release it here
    if finish:
        finish()
    return SyncReport(added, updated, unchanged)
