"""Annotations out: W3C Web Annotation JSON-LD and BRAT standoff (the HTML view is in `html_view`).

JSON-LD (https://www.w3.org/TR/annotation-model/)
    One file per document: an ``AnnotationCollection`` whose first (and only) ``AnnotationPage`` is embedded,
    holding every annotation in document order. A collection rather than a bare list because that is the
    model's own container (section 5): it names the set, counts it (``total``) and keeps the order, and it
    is one JSON-LD object that a processor turns into RDF as is. A document without annotations is a
    collection with ``total`` 0 and no ``first`` (the model: ``first`` only when there are annotations).

    Each annotation:

    - ``id``: `annotation_iri`, deterministic (document id + the annotation's own hash id).
    - ``motivation``: ``identifying`` when the span is linked to a concept (the annotation says *what the
      span is*: oa:identifying, "assign an identity to the Target"), ``tagging`` when it is not (all it says
      is the concept type, a tag). Each body also states its own ``purpose``.
    - ``body``: a ``SpecificResource`` with purpose ``identifying`` whose ``source`` is the best concept's IRI,
      with the matched ``label``, ``medkg:linkScore``, ``medkg:scheme`` and the concept's cross-references as
      ``oboInOwl:hasDbXref`` (only when linked); and a ``TextualBody`` with purpose ``tagging`` whose value is
      the concept type (always). Only the best link is exported.
    - ``medkg:assertion`` (status, a plain literal: "present", "negated", …), ``medkg:assertionModifier`` and
      ``medkg:assertionCue`` (sets), ``medkg:qaScore`` (xsd:double) and ``medkg:question`` sit on the
      annotation itself, not in a body: they describe the annotation (its certainty, how it was found), so a
      SPARQL query reaches them in one step (``?a medkg:assertion "negated"``).
    - ``target``: a ``SpecificResource`` whose ``source`` is the document (`document_iri`, typed ``Text``,
      with its ``language`` when known) and whose selectors are alternatives for the same span: a
      ``TextQuoteSelector`` (exact, and up to 32 characters of prefix / suffix) and a ``TextPositionSelector``
      (start / end: Python string offsets, i.e. Unicode code points, as the model asks for).
    - ``created`` and ``generator`` (medkg's name and version, as an ``as:Application``).

    The ``@context`` is the W3C context by URL plus a small inline context for the medkg terms. The W3C
    context cannot be fetched offline, so `ANNO_CONTEXT` (``templates/anno_context.json``) is the subset of
    its terms used here, with the W3C's definitions; `offline_jsonld` swaps it in and `jsonld_graph` parses an
    export into an rdflib graph without any network access.

BRAT (https://brat.nlplab.org/standoff.html)
    ``<id>.txt`` holds the document text exactly (UTF-8, no newline translation) and ``<id>.ann``, in document
    order: ``T`` lines (a span across a line break is split into fragments), an ``A<n>\\tAssertion T<n> <status>``
    line when the status is not "present", ``N`` lines ``Reference T<n> DB:ID\\tlabel`` for the best link
    (OBO PURLs as their CURIE, else the full IRI) followed by one per cross-reference of that concept, and an
    ``AnnotatorNotes`` line with the QA score (and the link score). No ``annotation.conf`` is written: a
    directory holds many documents and their types are the schema's, so the conf belongs to whoever collects them.
"""
from __future__ import annotations

import copy
import json
import math
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import medkg
from medkg.errors import MedkgError
from medkg.extract.brat import compact_id, fragments, fragments_text
from medkg.extract.records import Annotation, Document
from medkg.kg.namespaces import MEDKG, OBOINOWL, XSD, digest, minted

W3C_ANNO_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
ANNO_CONTEXT: dict = json.loads(
    resources.files("medkg.extract").joinpath("templates", "anno_context.json").read_text(encoding="utf-8")
)["@context"]
"""The terms of the W3C Web Annotation context that medkg's exports use, with the W3C's definitions."""

MEDKG_CONTEXT: dict = {
    "medkg": MEDKG,
    "assertion": {"@id": MEDKG + "assertion"},
    "assertionModifiers": {"@id": MEDKG + "assertionModifier", "@container": "@set"},
    "assertionCues": {"@id": MEDKG + "assertionCue", "@container": "@set"},
    "qaScore": {"@id": MEDKG + "qaScore", "@type": XSD + "double"},
    "question": {"@id": MEDKG + "question"},
    "candidateSource": {"@id": MEDKG + "candidateSource"},
    "linkScore": {"@id": MEDKG + "linkScore", "@type": XSD + "double"},
    "scheme": {"@id": MEDKG + "scheme"},
    "xrefs": {"@id": OBOINOWL + "hasDbXref", "@container": "@set"},
    "softwareVersion": {"@id": "http://schema.org/softwareVersion"},
}
"""medkg's own terms, inlined after the W3C context in every export."""

# Context entries that are namespace prefixes (schema, dc, …), not properties: never usable as a key.
_PREFIXES = {k for k, v in {**ANNO_CONTEXT, **MEDKG_CONTEXT}.items() if isinstance(v, str) and v.endswith(("/", "#"))}
QUOTE_CONTEXT = 32  # characters of prefix / suffix in a TextQuoteSelector


def document_iri(doc: Document) -> str:
    """The document's IRI, from its id alone: ``https://w3id.org/medkg/id/document/<quoted id>``."""
    return minted("document", doc.id).value


def annotation_iri(doc: Document, ann: Annotation) -> str:
    """``https://w3id.org/medkg/id/annotation/<quoted doc id>/<ann.id>``: stable across runs."""
    return minted("annotation", doc.id, ann.id).value


def collection_iri(doc: Document) -> str:
    return minted("annotations", doc.id).value


def default_generator() -> dict:
    version = getattr(medkg, "__version__", None)
    generator = {"id": minted("software", "medkg", *([version] if version else [])).value,
                 "type": "Software", "name": "medkg"}
    if version:
        generator["softwareVersion"] = version
    return generator


def generator_node(generator: dict | None = None) -> dict:
    """The default generator updated with ``generator``; keys no context defines become ``medkg:`` terms
    (``model`` -> ``medkg:model``) and ``version`` means ``softwareVersion``, so no key is dropped from the RDF."""
    node = default_generator()
    for key, value in (generator or {}).items():
        if key == "version":
            key = "softwareVersion"
        elif not key.startswith("@") and ":" not in key and (key in _PREFIXES or (
                key not in ANNO_CONTEXT and key not in MEDKG_CONTEXT)):
            key = "medkg:" + key
        node[key] = value
    extras = {k: v for k, v in node.items() if k not in ("id", "type", "name", "softwareVersion")}
    if extras and "id" not in (generator or {}):
        # a configured run (model, schema, …) is its own software agent: one IRI per configuration
        node["id"] += "/" + digest(json.dumps(extras, sort_keys=True, ensure_ascii=False, default=str), length=12)
    return node


def _timestamp(created: datetime | None) -> str:
    created = created or datetime.now(UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    created = created.astimezone(UTC).replace(microsecond=0)
    return created.strftime("%Y-%m-%dT%H:%M:%SZ")


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def check_annotation(doc: Document, ann: Annotation) -> None:
    """Raise `MedkgError` unless ``ann`` is a span of ``doc`` whose text is what the document says there."""
    if ann.doc_id != doc.id:
        raise MedkgError(f"annotation {ann.id} belongs to document {ann.doc_id!r}, not {doc.id!r}", path=doc.path)
    if not 0 <= ann.start <= ann.end <= len(doc.text):
        raise MedkgError(f"annotation {ann.id} span {ann.start}-{ann.end} is outside the text "
                         f"({len(doc.text)} characters)", path=doc.path)
    if doc.text[ann.start:ann.end] != ann.text:
        raise MedkgError(f"annotation {ann.id} text {ann.text!r} differs from the document at "
                         f"{ann.start}-{ann.end} ({doc.text[ann.start:ann.end]!r})", path=doc.path)


def _ordered(annotations: Sequence[Annotation]) -> list[Annotation]:
    return sorted(annotations, key=lambda a: (a.start, -a.end, a.type, a.id))


def web_annotation(doc: Document, ann: Annotation, *, generator: dict, created: str) -> dict:
    """One annotation as a W3C Web Annotation (JSON-LD object, without ``@context``)."""
    check_annotation(doc, ann)
    text = doc.text
    quote_selector = {"type": "TextQuoteSelector", "exact": ann.text}
    if ann.start > 0:
        quote_selector["prefix"] = text[max(0, ann.start - QUOTE_CONTEXT):ann.start]
    if ann.end < len(text):
        quote_selector["suffix"] = text[ann.end:ann.end + QUOTE_CONTEXT]
    source: dict = {"id": document_iri(doc), "type": "Text", "format": "text/plain"}
    if doc.lang or ann.lang:
        source["language"] = doc.lang or ann.lang

    bodies: list[dict] = []
    concept = ann.concept
    if concept is not None:
        identity: dict = {"type": "SpecificResource", "purpose": "identifying", "source": concept.iri,
                          "label": concept.label}
        if _finite(concept.score) is not None:
            identity["linkScore"] = _finite(concept.score)
        if concept.scheme:
            identity["scheme"] = concept.scheme
        if concept.xrefs:
            identity["xrefs"] = list(concept.xrefs)
        bodies.append(identity)
    bodies.append({"type": "TextualBody", "purpose": "tagging", "value": ann.type, "format": "text/plain"})

    item: dict = {
        "id": annotation_iri(doc, ann),
        "type": "Annotation",
        "motivation": "identifying" if concept is not None else "tagging",
        "created": created,
        "generator": generator,
        "body": bodies,
        "target": {
            "type": "SpecificResource",
            "source": source,
            "selector": [quote_selector,
                         {"type": "TextPositionSelector", "start": ann.start, "end": ann.end}],
        },
        "assertion": ann.assertion.status,
    }
    if ann.assertion.modifiers:
        item["assertionModifiers"] = sorted(ann.assertion.modifiers)
    if ann.assertion.cues:
        item["assertionCues"] = list(dict.fromkeys(ann.assertion.cues))
    if _finite(ann.score) is not None:
        item["qaScore"] = _finite(ann.score)
    if ann.question:
        item["question"] = ann.question
    item["candidateSource"] = ann.source
    return item


def to_web_annotations(doc: Document, annotations: Sequence[Annotation], generator: dict | None = None, *,
                       created: datetime | None = None) -> dict:
    """The annotations of one document as a W3C ``AnnotationCollection`` with its one page embedded.

    ``generator`` adds to (or overrides keys of) the default one: ``{"id", "type": "Software", "name": "medkg",
    "softwareVersion"}`` (see `generator_node`). ``created`` (default: now, UTC, whole seconds) stamps every
    annotation.
    """
    gen = generator_node(generator)
    stamp = _timestamp(created)
    items = [web_annotation(doc, ann, generator=gen, created=stamp) for ann in _ordered(annotations)]
    collection: dict = {
        "@context": [W3C_ANNO_CONTEXT, MEDKG_CONTEXT],
        "id": collection_iri(doc),
        "type": "AnnotationCollection",
        "label": f"medkg annotations of {doc.id}",
        "created": stamp,
        "generator": gen,
        "total": len(items),
    }
    if items:
        collection["first"] = {
            "id": minted("annotations", doc.id, "page", "1").value,
            "type": "AnnotationPage",
            "partOf": collection["id"],
            "startIndex": 0,
            "items": items,
        }
    return collection


def write_jsonld(doc: Document, annotations: Sequence[Annotation], path: Path, generator: dict | None = None, *,
                 created: datetime | None = None) -> Path:
    path = Path(path)
    data = to_web_annotations(doc, annotations, generator, created=created)
    _write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return path


def offline_jsonld(data: dict | list) -> dict | list:
    """A copy of an export whose W3C context URL is replaced by `ANNO_CONTEXT`, so no fetch is needed."""
    data = copy.deepcopy(data)

    def swap(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "@context":
                    node[key] = _swap_context(value)
                else:
                    swap(value)
        elif isinstance(node, list):
            for value in node:
                swap(value)

    swap(data)
    return data


def _swap_context(context):
    if context == W3C_ANNO_CONTEXT:
        return copy.deepcopy(ANNO_CONTEXT)
    if isinstance(context, list):
        return [_swap_context(c) for c in context]
    return context


def jsonld_graph(data: dict | list | str | Path, graph=None):
    """An rdflib graph of a JSON-LD export (a dict, JSON text or a file), parsed offline."""
    import rdflib

    if isinstance(data, Path):
        data = json.loads(data.read_text(encoding="utf-8"))
    elif isinstance(data, str):
        data = json.loads(data)
    graph = graph if graph is not None else rdflib.Graph()
    with warnings.catch_warnings():  # rdflib's own JSON-LD parser uses its deprecated ConjunctiveGraph
        warnings.filterwarnings("ignore", message="ConjunctiveGraph is deprecated", category=DeprecationWarning)
        graph.parse(data=json.dumps(offline_jsonld(data), ensure_ascii=False), format="json-ld")
    return graph


# --- BRAT ------------------------------------------------------------------------------------------------------

def _one_line(value: str) -> str:
    return " ".join(value.replace("\t", " ").splitlines()).strip()


def _brat_name(value: str) -> str:
    """A BRAT type name: no whitespace (it separates the fields of a line)."""
    return "_".join(value.split()) or "_"


def to_brat(doc: Document, annotations: Sequence[Annotation]) -> str:
    """The ``.ann`` content for ``doc`` (see the module docstring for the lines written)."""
    lines: list[str] = []
    attribute_n = normalisation_n = note_n = 0
    textbound_n = 0
    for ann in _ordered(annotations):
        check_annotation(doc, ann)
        spans = fragments(doc.text, ann.start, ann.end)
        if not spans:
            continue  # an empty (or line-break-only) span has nothing BRAT can show
        textbound_n += 1
        tid = f"T{textbound_n}"
        offsets = ";".join(f"{s} {e}" for s, e in spans)
        lines.append(f"{tid}\t{_brat_name(ann.type)} {offsets}\t{fragments_text(doc.text, spans)}")
        if ann.assertion.status != "present":
            attribute_n += 1
            lines.append(f"A{attribute_n}\tAssertion {tid} {_brat_name(ann.assertion.status)}")
        concept = ann.concept
        if concept is not None:
            label = _one_line(concept.label)
            references = [compact_id(concept.iri)] + [x for x in concept.xrefs if ":" in x and " " not in x]
            for reference in dict.fromkeys(references):
                normalisation_n += 1
                lines.append(f"N{normalisation_n}\tReference {tid} {reference}\t{label}")
        notes = [f"source={ann.source}"]
        if _finite(ann.score) is not None:
            notes.append(f"score={ann.score:.4f}")
        if concept is not None and _finite(concept.score) is not None:
            notes.append(f"link_score={concept.score:.4f}")
        if notes:
            note_n += 1
            lines.append(f"#{note_n}\tAnnotatorNotes {tid}\t{' '.join(notes)}")
    return "".join(line + "\n" for line in lines)


def brat_stem(doc_id: str) -> str:
    """A file name stem for a document id: characters unsafe in file names percent-encoded."""
    stem = "".join(quote(c, safe="") if c in '/\\%:*?"<>|' or ord(c) < 32 else c for c in doc_id)
    if stem in ("", ".", ".."):
        stem = stem.replace(".", "%2E") or "_"
    return stem


def write_brat(doc: Document, annotations: Sequence[Annotation], out_dir: Path) -> tuple[Path, Path]:
    """Write ``<id>.txt`` (the text exactly) and ``<id>.ann`` into ``out_dir``; return both paths."""
    out_dir = Path(out_dir)
    content = to_brat(doc, annotations)  # validates before anything is written
    stem = brat_stem(doc.id)
    txt_path, ann_path = out_dir / f"{stem}.txt", out_dir / f"{stem}.ann"
    _write_text(txt_path, doc.text)
    _write_text(ann_path, content)
    return txt_path, ann_path


def _write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except OSError as exc:
        raise MedkgError(f"cannot write: {exc.strerror}", path=path) from None
