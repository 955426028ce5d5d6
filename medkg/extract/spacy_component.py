"""medkg's annotator as a spaCy pipeline component, for spaCy users.

    nlp = spacy.blank("it")
    nlp.add_pipe("medkg_annotator", config={"home": ".medkg/demo"})   # registered through an entry point
    doc = nlp("Nega febbre. Diagnosi: polmonite comunitaria.")
    for span in doc.spans["medkg"]:
        span.label_, span._.medkg.assertion.status, span._.medkg.concept

Every annotation becomes a Span in `doc.spans["medkg"]` (overlaps allowed) carrying the full Annotation in
`span._.medkg`; `doc.ents` gets the longest non-overlapping ones, so displaCy shows them.
"""
from __future__ import annotations

from pathlib import Path

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from medkg.extract.records import Document

SPAN_KEY = "medkg"

if not Span.has_extension("medkg"):
    Span.set_extension("medkg", default=None)


class MedkgAnnotatorComponent:
    def __init__(self, nlp: Language, name: str, schema: str | None, model: str | None, home: str | None,
                 link: bool, device: str) -> None:
        from medkg.config import Settings
        from medkg.extract.annotator import Annotator
        from medkg.extract.linker import concept_index
        from medkg.extract.schema import load_schema
        from medkg.kg.store import open_store
        from medkg.models.qa import ExtractiveQA

        workspace = Path(home) if home else Settings().home
        qa = ExtractiveQA.load(model, home=workspace, device=device)
        index = concept_index(open_store(Settings(home=workspace)), workspace) if link else None
        self.lang = nlp.lang if nlp.lang != "xx" else "auto"
        self.annotator = Annotator(qa, load_schema(schema), index, lang=self.lang)
        self.name = name

    def __call__(self, doc: Doc) -> Doc:
        lang = None if self.lang == "auto" else self.lang
        annotations = self.annotator.annotate(Document(doc.user_data.get("id", "doc"), doc.text, lang))
        spans = []
        for annotation in annotations:
            span = doc.char_span(annotation.start, annotation.end, label=annotation.type, alignment_mode="expand")
            if span is not None:
                span._.medkg = annotation
                spans.append(span)
        doc.spans[SPAN_KEY] = spans
        doc.ents = filter_spans(list(doc.ents) + spans)
        return doc


@Language.factory("medkg_annotator", default_config={"schema": None, "model": None, "home": None, "link": True,
                                                     "device": "auto"})
def make_annotator(nlp: Language, name: str, schema: str | None, model: str | None, home: str | None, link: bool,
                   device: str) -> MedkgAnnotatorComponent:
    return MedkgAnnotatorComponent(nlp, name, schema, model, home, link, device)
