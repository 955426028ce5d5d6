"""The medical relation vocabulary: one small table of relations, reusing RO / IDO / SIO / schema.org IRIs.

Every relation has labels in English, Italian and Spanish (a fact must read naturally in the question's
language) and its inverse declared, so an edge can be read from either end: "metformin — treats — type 2
diabetes" is also "type 2 diabetes — is treated by — metformin". Where the standard vocabulary has no inverse,
medkg mints one under ``medkg:vocab/`` (deterministic, so reloading is idempotent).

Readers map their source's own names (DO's ``has_symptom``, Hetionet's ``CtD``, Wikidata's ``P2176``) to a
relation key here; edges are always written in the relation's own direction. The vocabulary itself is one
named graph (`VOCABULARY_GRAPH`), written by the loader whenever it is missing or out of date.

    >>> relation("treats").label("it")
    'tratta'
    >>> relation_for_iri("http://purl.obolibrary.org/obo/RO_0002302").key   # an inverse IRI is known too
    'treats'
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pyoxigraph import Literal, NamedNode, Quad

from medkg.kg import namespaces as ns

SIO = "http://semanticscience.org/resource/"
VOCAB = ns.MEDKG + "vocab/"
VOCABULARY_GRAPH = NamedNode(ns.GRAPH_BASE + "vocabulary/relations")
# Bump when the table below changes, so the loader rewrites the vocabulary graph.
VOCABULARY_VERSION = "1"
OWL_OBJECT_PROPERTY = ns.term(ns.OWL, "ObjectProperty")
OWL_INVERSE_OF = ns.term(ns.OWL, "inverseOf")
OWL_SYMMETRIC = ns.term(ns.OWL, "SymmetricProperty")
MEDKG_RELATION = ns.term(ns.MEDKG, "MedicalRelation")


@dataclass(frozen=True)
class Relation:
    key: str
    iri: str
    labels: dict[str, str]  # en / it / es, read "subject <label> object"
    inverse_iri: str | None = None  # None: symmetric
    inverse_labels: dict[str, str] | None = None
    # Clinical relations connect a question's concepts to an answer; molecular ones (gene-gene, expression)
    # number in the millions in a full Hetionet and lead everywhere, so path search leaves them out.
    clinical: bool = True

    @property
    def symmetric(self) -> bool:
        return self.inverse_iri is None

    def label(self, lang: str = "en", *, inverse: bool = False) -> str:
        labels = (self.inverse_labels or self.labels) if inverse else self.labels
        return labels.get(lang) or labels["en"]


def _obo(local: str) -> str:
    return ns.OBO + local


RELATIONS: tuple[Relation, ...] = (
    Relation("treats", _obo("RO_0002606"),
             {"en": "treats", "it": "tratta", "es": "trata"},
             _obo("RO_0002302"), {"en": "is treated by", "it": "è trattato con", "es": "se trata con"}),
    Relation("palliates", VOCAB + "palliates",
             {"en": "palliates", "it": "attenua i sintomi di", "es": "alivia los síntomas de"},
             VOCAB + "palliatedBy", {"en": "is palliated by", "it": "ha sintomi attenuati da",
                                     "es": "tiene síntomas aliviados por"}),
    Relation("has_symptom", _obo("RO_0002452"),
             {"en": "has symptom", "it": "ha come sintomo", "es": "tiene como síntoma"},
             VOCAB + "symptomOf", {"en": "is a symptom of", "it": "è un sintomo di", "es": "es un síntoma de"}),
    Relation("has_phenotype", _obo("RO_0002200"),
             {"en": "has phenotype", "it": "ha come fenotipo", "es": "tiene como fenotipo"},
             _obo("RO_0002201"), {"en": "is a phenotype of", "it": "è un fenotipo di", "es": "es un fenotipo de"}),
    Relation("located_in", _obo("RO_0004026"),
             {"en": "is located in", "it": "è localizzata in", "es": "se localiza en"},
             VOCAB + "locationOfDisease", {"en": "is the location of", "it": "è la sede di", "es": "es la localización de"}),
    Relation("has_material_basis_in", _obo("IDO_0000664"),
             {"en": "has material basis in", "it": "ha base materiale in", "es": "tiene base material en"},
             VOCAB + "materialBasisOf", {"en": "is the material basis of", "it": "è la base materiale di",
                                         "es": "es la base material de"}),
    Relation("has_basis_in", _obo("RO_0004019"),
             {"en": "has basis in", "it": "ha base in", "es": "tiene base en"},
             VOCAB + "basisOf", {"en": "is the basis of", "it": "è la base di", "es": "es la base de"}),
    Relation("has_cause", ns.SCHEMA + "cause",
             {"en": "is caused by", "it": "è causata da", "es": "es causada por"},
             VOCAB + "causes", {"en": "causes", "it": "causa", "es": "causa"}),
    Relation("transmitted_by", _obo("RO_0002451"),
             {"en": "is transmitted by", "it": "è trasmessa da", "es": "se transmite por"},
             VOCAB + "transmits", {"en": "transmits", "it": "trasmette", "es": "transmite"}),
    Relation("derives_from", _obo("RO_0001000"),
             {"en": "derives from", "it": "deriva da", "es": "deriva de"},
             _obo("RO_0001001"), {"en": "gives rise to", "it": "dà origine a", "es": "da origen a"}),
    Relation("existence_starts_during", _obo("RO_0002488"),
             {"en": "begins during", "it": "inizia durante", "es": "comienza durante"},
             VOCAB + "periodOfOnsetOf", {"en": "is the onset period of", "it": "è il periodo di esordio di",
                                         "es": "es el periodo de inicio de"}),
    Relation("has_major_susceptibility_factor", _obo("RO_0004005"),
             {"en": "has major susceptibility factor", "it": "ha come principale fattore di suscettibilità",
              "es": "tiene como principal factor de susceptibilidad"},
             VOCAB + "majorSusceptibilityFactorFor",
             {"en": "is a major susceptibility factor for", "it": "è un fattore di suscettibilità principale per",
              "es": "es un factor de susceptibilidad principal para"}),
    Relation("has_feature", _obo("RO_0004029"),
             {"en": "has feature", "it": "ha come caratteristica", "es": "tiene como característica"},
             VOCAB + "featureOf", {"en": "is a feature of", "it": "è una caratteristica di",
                                   "es": "es una característica de"}),
    Relation("has_allergic_trigger", _obo("RO_0001022"),
             {"en": "has allergic trigger", "it": "ha come fattore scatenante allergico",
              "es": "tiene como desencadenante alérgico"},
             _obo("RO_0001020"), {"en": "is an allergic trigger for", "it": "è un fattore scatenante allergico di",
                                  "es": "es un desencadenante alérgico de"}),
    Relation("has_disease_driver", _obo("RO_0007001"),
             {"en": "has disease driver", "it": "ha come fattore determinante", "es": "tiene como factor determinante"},
             VOCAB + "diseaseDriverOf", {"en": "drives", "it": "determina", "es": "determina"}),
    Relation("associated_with", SIO + "SIO_001403",
             {"en": "is associated with", "it": "è associato a", "es": "está asociado con"}),
    Relation("causes_side_effect", VOCAB + "causesSideEffect",
             {"en": "can cause the side effect", "it": "può causare l'effetto collaterale",
              "es": "puede causar el efecto adverso"},
             VOCAB + "sideEffectOf", {"en": "is a side effect of", "it": "è un effetto collaterale di",
                                      "es": "es un efecto adverso de"}),
    Relation("resembles", VOCAB + "resembles", {"en": "resembles", "it": "somiglia a", "es": "se parece a"}),
    Relation("includes", _obo("RO_0002351"), {"en": "includes", "it": "comprende", "es": "incluye"},
             _obo("RO_0002350"), {"en": "belongs to", "it": "appartiene a", "es": "pertenece a"}),
    Relation("binds", _obo("RO_0002436"), {"en": "binds", "it": "si lega a", "es": "se une a"}, clinical=False),
    Relation("upregulates", VOCAB + "upregulates",
             {"en": "upregulates", "it": "aumenta l'espressione di", "es": "aumenta la expresión de"},
             VOCAB + "upregulatedBy", {"en": "is upregulated by", "it": "ha espressione aumentata da",
                                       "es": "tiene expresión aumentada por"}, clinical=False),
    Relation("downregulates", VOCAB + "downregulates",
             {"en": "downregulates", "it": "riduce l'espressione di", "es": "reduce la expresión de"},
             VOCAB + "downregulatedBy", {"en": "is downregulated by", "it": "ha espressione ridotta da",
                                         "es": "tiene expresión reducida por"}, clinical=False),
    Relation("expresses", _obo("RO_0002292"), {"en": "expresses", "it": "esprime", "es": "expresa"},
             _obo("RO_0002206"), {"en": "is expressed in", "it": "è espresso in", "es": "se expresa en"},
             clinical=False),
    Relation("interacts_with", _obo("RO_0002434"),
             {"en": "interacts with", "it": "interagisce con", "es": "interactúa con"}, clinical=False),
    Relation("covaries_with", VOCAB + "covariesWith",
             {"en": "covaries with", "it": "covaria con", "es": "covaría con"}, clinical=False),
    Relation("participates_in", _obo("RO_0000056"),
             {"en": "participates in", "it": "partecipa a", "es": "participa en"},
             _obo("RO_0000057"), {"en": "has participant", "it": "ha come partecipante", "es": "tiene como participante"},
             clinical=False),
    Relation("regulates", _obo("RO_0002211"), {"en": "regulates", "it": "regola", "es": "regula"},
             VOCAB + "regulatedBy", {"en": "is regulated by", "it": "è regolato da", "es": "es regulado por"},
             clinical=False),
    Relation("relevant_specialty", ns.SCHEMA + "relevantSpecialty",
             {"en": "belongs to the specialty", "it": "è di competenza della specialità", "es": "corresponde a la especialidad"},
             VOCAB + "specialtyOf", {"en": "is the specialty of", "it": "è la specialità di", "es": "es la especialidad de"}),
)

_BY_KEY = {r.key: r for r in RELATIONS}
_BY_IRI = {r.iri: r for r in RELATIONS} | {r.inverse_iri: r for r in RELATIONS if r.inverse_iri}


def relation(key: str) -> Relation:
    return _BY_KEY[key]


def relation_for_iri(iri: str) -> Relation | None:
    """The relation whose IRI, or whose inverse's IRI, this is."""
    return _BY_IRI.get(iri)


def relation_iris(*, clinical_only: bool = False) -> list[str]:
    """The IRIs of every relation (or of the clinical ones), in the direction edges are stored."""
    return [r.iri for r in RELATIONS if r.clinical or not clinical_only]


def vocabulary_quads(graph: NamedNode = VOCABULARY_GRAPH) -> Iterator[Quad]:
    """Each relation and its inverse as an owl:ObjectProperty with en/it/es labels and owl:inverseOf."""
    for rel in RELATIONS:
        forward = NamedNode(rel.iri)
        yield Quad(forward, ns.RDF_TYPE, OWL_OBJECT_PROPERTY, graph)
        yield Quad(forward, ns.RDF_TYPE, MEDKG_RELATION, graph)
        for lang, text in rel.labels.items():
            yield Quad(forward, ns.RDFS_LABEL, Literal(text, language=lang), graph)
        if rel.symmetric:
            yield Quad(forward, ns.RDF_TYPE, OWL_SYMMETRIC, graph)
            continue
        backward = NamedNode(rel.inverse_iri)
        yield Quad(forward, OWL_INVERSE_OF, backward, graph)
        yield Quad(backward, OWL_INVERSE_OF, forward, graph)
        yield Quad(backward, ns.RDF_TYPE, OWL_OBJECT_PROPERTY, graph)
        for lang, text in (rel.inverse_labels or {}).items():
            yield Quad(backward, ns.RDFS_LABEL, Literal(text, language=lang), graph)
