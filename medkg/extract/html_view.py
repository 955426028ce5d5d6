"""A self-contained HTML view of annotated documents: one file, inline CSS and a few lines of inline JS.

Each document's text is written exactly once, HTML-escaped (a carriage return as ``&#13;``, which HTML would
otherwise fold into a line feed), inside ``<div class="doc-text">`` with ``white-space: pre-wrap``; stripping
the tags from that element gives back ``Document.text`` character for character. Annotations are ``<span>``
elements around the text:

- Overlaps: every annotation gets a *layer* (greedy interval colouring in document order, longest first):
  layer 0 spans are highlighted with their type's colour, spans that overlap one of them (a nested span, or
  the later of two crossing ones) are drawn as a coloured underline, lower for each further layer. The spans
  are nested properly: when two annotations cross, the one that is still open is closed and reopened around
  the boundary, so it is rendered as two pieces (hovering one piece outlines all of them).
- A colour per concept type (legend at the top); negated spans are struck through with a dashed box, other
  non-"present" statuses (possible, hypothetical, historical, family) are italic with a dotted box.
- The hover title gives the type, the assertion status (and cues), the concept's label, compact id and IRI,
  the link score and the QA score; a collapsible table per document lists the same, with concept links
  (only ``http(s)`` IRIs become links).
"""
from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup

import medkg
from medkg.extract.brat import compact_id
from medkg.extract.export import _write_text, check_annotation
from medkg.extract.records import ASSERTION_STATUSES, Annotation, Document

# Colour-blind-friendly light tints (Okabe-Ito hues, lightened) for backgrounds; more types cycle by hue.
PALETTE = ("#a6d8f5", "#ffd28a", "#9fe0c8", "#f5b3d6", "#fff08a", "#c5b3f0", "#f7b58f", "#b8e07a",
           "#8fd3e0", "#e0c08f", "#d0d0d0", "#f0a0a0")


HOVER_SCRIPT = resources.files("medkg.extract").joinpath("templates", "annotation_hover.js").read_text(encoding="utf-8")
"""The few lines that outline an annotation's pieces on hover: inlined here, served as a file by the explorer."""


def type_colour(index: int) -> str:
    if index < len(PALETTE):
        return PALETTE[index]
    return f"hsl({(index * 137.508) % 360:.1f}, 70%, 80%)"


def _environment() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _template(name: str = "annotations.html.j2") -> jinja2.Template:
    source = resources.files("medkg.extract").joinpath("templates", name).read_text(encoding="utf-8")
    return _environment().from_string(source)


def type_legend(type_names: Sequence[str], counts: Counter | None = None) -> list[dict]:
    """Index, colour and count per concept type, in the order given (the index names the ``t<n>`` class)."""
    return [{"index": i, "name": name, "colour": type_colour(i), "count": (counts or Counter())[name]}
            for i, name in enumerate(type_names)]


def annotation_css(legend: Sequence[dict], max_layer: int) -> Markup:
    """The stylesheet rules for annotation spans (colours per type, layers, assertion styles, the text's line
    height); shared by this view and the explorer's document page so a span looks the same in both."""
    css = _template("annotation_styles.css.j2").render(types=legend, layers=list(range(max_layer + 1)))
    return Markup(css)  # noqa: S704 - rendered from our own template with colours and integers only


def escape_text(text: str) -> str:
    """HTML-escape document text so that the DOM text equals it exactly (CR kept as ``&#13;``)."""
    return html.escape(text, quote=False).replace("\r", "&#13;")


def assign_layers(annotations: Sequence[Annotation]) -> dict[int, int]:
    """Layer of each annotation (by position in ``annotations``): 0 unless it overlaps an earlier-placed one."""
    order = sorted(range(len(annotations)),
                   key=lambda i: (annotations[i].start, -annotations[i].end, annotations[i].type))
    layer_ends: list[int] = []
    layers: dict[int, int] = {}
    for i in order:
        ann = annotations[i]
        for layer, end in enumerate(layer_ends):
            if end <= ann.start:
                layer_ends[layer] = ann.end
                layers[i] = layer
                break
        else:
            layers[i] = len(layer_ends)
            layer_ends.append(ann.end)
    return layers


def _status_class(status: str) -> str:
    return f"a-{status}" if status in ASSERTION_STATUSES else "a-other"


def _number(value: float | None, digits: int = 3) -> str:
    if value is None or value in (float("inf"), float("-inf")):  # a dictionary span no QA window held whole
        return ""
    try:
        return f"{value:.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def hover_title(ann: Annotation) -> str:
    status = ann.assertion.status
    lines = [f"{ann.type} · {status}" + (f" (cues: {', '.join(ann.assertion.cues)})" if ann.assertion.cues else "")]
    concept = ann.concept
    if concept is not None:
        curie = compact_id(concept.iri)
        lines.append(f"{concept.label} — {curie}" + (f" <{concept.iri}>" if curie != concept.iri else ""))
        lines.append(f"link score {_number(concept.score)}" + (f" · {concept.scheme}" if concept.scheme else ""))
    else:
        lines.append("not linked")
    lines.append(f"QA score {_number(ann.score)} · from {ann.source}")
    return "\n".join(lines)


def markup(doc: Document, annotations: Sequence[Annotation], type_index: dict[str, int], key_prefix: str,
           href: Callable[[Annotation], str | None] | None = None) -> Markup:
    """The document text with properly nested annotation spans (see the module docstring).

    With ``href``, a span whose annotation gets a URL carries it as ``data-href`` and is focusable, for a
    page script to follow on click or Enter (spans nest, and links inside links are not valid HTML)."""
    text = doc.text
    layers = assign_layers(annotations)
    shown = [i for i, a in enumerate(annotations) if a.end > a.start]
    starts: dict[int, list[int]] = {}
    for i in shown:
        starts.setdefault(annotations[i].start, []).append(i)
    positions = sorted({0, len(text)} | {annotations[i].start for i in shown} | {annotations[i].end for i in shown})

    def open_tag(i: int, continued: bool = False) -> str:
        ann = annotations[i]
        classes = f"ann t{type_index[ann.type]} L{layers[i]} {_status_class(ann.assertion.status)}"
        if continued:
            classes += " cont"
        target = href(ann) if href else None
        link = f' data-href="{html.escape(target, quote=True)}" tabindex="0" role="link"' if target else ""
        return (f'<span class="{classes}" data-ann="{key_prefix}-{ann.id}"{link} '
                f'title="{html.escape(hover_title(ann), quote=True)}">')

    out: list[str] = []
    stack: list[int] = []
    previous = 0
    for pos in positions:
        if pos > previous:
            out.append(escape_text(text[previous:pos]))
            previous = pos
        closing = [k for k, i in enumerate(stack) if annotations[i].end == pos]
        if closing:
            lowest = closing[0]
            reopen = [i for i in stack[lowest:] if annotations[i].end != pos]
            out.append("</span>" * (len(stack) - lowest))
            del stack[lowest:]
            for i in reopen:
                out.append(open_tag(i, continued=True))
                stack.append(i)
        for i in sorted(starts.get(pos, ()), key=lambda i: (-annotations[i].end, layers[i])):
            out.append(open_tag(i))
            stack.append(i)
    if stack:  # cannot happen: every span ends at a position <= len(text)
        raise AssertionError("unclosed annotation spans")
    return Markup("".join(out))  # noqa: S704 - the text is escaped piece by piece above


def render_html(docs_and_annotations: Sequence[tuple[Document, Sequence[Annotation]]],
                title: str = "medkg annotations") -> str:
    """One self-contained HTML page showing every document with its annotations highlighted."""
    pairs = [(doc, list(anns)) for doc, anns in docs_and_annotations]
    counts = Counter(a.type for _, anns in pairs for a in anns)
    type_names = sorted(counts)
    type_index = {name: i for i, name in enumerate(type_names)}
    documents = []
    max_layer = 0
    for n, (doc, anns) in enumerate(pairs, start=1):
        for ann in anns:
            check_annotation(doc, ann)
        anns = sorted(anns, key=lambda a: (a.start, -a.end, a.type, a.id))
        layers = assign_layers(anns)
        max_layer = max([max_layer, *layers.values()])
        rows = []
        for ann in anns:
            concept = ann.concept
            curie = compact_id(concept.iri) if concept else ""
            rows.append({
                "key": f"{n}-{ann.id}", "start": ann.start, "end": ann.end, "text": ann.text, "type": ann.type,
                "assertion": ann.assertion.status, "label": concept.label if concept else "",
                "curie": curie,
                "href": concept.iri if concept and concept.iri.startswith(("http://", "https://")) else "",
                "link_score": _number(concept.score) if concept else "", "score": _number(ann.score),
            })
        documents.append({"id": doc.id, "lang": doc.lang, "text_length": len(doc.text), "rows": rows,
                          "markup": markup(doc, anns, type_index, str(n))})
    version = getattr(medkg, "__version__", "")
    legend = type_legend(type_names, counts)
    return _template().render(
        title=title,
        generator=f"medkg {version}".strip(),
        documents=documents,
        total=sum(len(anns) for _, anns in pairs),
        types=legend,
        annotation_css=annotation_css(legend, max_layer),
        hover_script=Markup(HOVER_SCRIPT),  # noqa: S704 - our own file
    )


def write_html(docs_and_annotations: Sequence[tuple[Document, Sequence[Annotation]]], path: Path,
               title: str = "medkg annotations") -> Path:
    path = Path(path)
    _write_text(path, render_html(docs_and_annotations, title))
    return path


__all__ = ["annotation_css", "assign_layers", "escape_text", "hover_title", "markup", "render_html", "type_legend",
           "write_html"]
