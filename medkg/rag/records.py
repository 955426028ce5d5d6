"""Typed records that flow through retrieval: passages, graph facts, and the fused evidence set."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    """A passage of the graph, as the indexes hold it. `iri` is the stable id everything cites."""

    iri: str
    text: str
    lang: str
    article: str | None = None  # the article IRI (its Wikipedia URL)
    title: str | None = None
    begin: int | None = None  # character offsets into the article text
    end: int | None = None


@dataclass(frozen=True)
class Hit:
    """One ranked result of one retriever (text, dense or graph)."""

    passage: Passage
    score: float
    rank: int
    retriever: str


@dataclass(frozen=True)
class Fact:
    """A statement from the graph about a concept the question mentions, with the IRIs that back it and the
    named graphs (sources) that state it: the same statement from two sources is one fact naming both."""

    subject: str
    predicate: str
    object: str  # an IRI or a literal's lexical form
    text: str  # a one-line rendering in the question's language: "tuberculosis — is treated by — isoniazid"
    object_is_iri: bool = True
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class GraphPathEvidence:
    """A chain of facts joining a question concept to an option concept (at most three hops)."""

    start: str
    end: str
    nodes: tuple[str, ...]  # IRIs of each concept on the way, start first
    facts: tuple[Fact, ...]
    score: float
    option: str | None = None  # the option label it leads to, when retrieved for an MCQ item
    # Per node, the names a reasoning step may call it by (the display name in the question's language first):
    # what the trace verifier looks for when it checks that steps connect and that the chain reaches the answer.
    names: tuple[tuple[str, ...], ...] = ()
    fact_ids: tuple[str, ...] = ()  # the [T#] id each of `facts` has in the evidence it is part of


@dataclass(frozen=True)
class ConceptMention:
    concept: str
    surface: str
    start: int
    end: int


@dataclass
class EvidencePassage:
    id: str  # P1, P2, ...
    passage: Passage
    score: float
    retrievers: dict[str, int] = field(default_factory=dict)  # retriever -> rank it gave

    @property
    def url(self) -> str | None:
        return self.passage.article


@dataclass
class EvidenceFact:
    id: str  # T1, T2, ...
    fact: Fact


@dataclass
class Evidence:
    """What grounds an answer: fused passages [P1…] and graph facts [T1…], each citable by id and IRI."""

    question: str
    lang: str
    mode: str
    concepts: list[ConceptMention] = field(default_factory=list)
    passages: list[EvidencePassage] = field(default_factory=list)
    facts: list[EvidenceFact] = field(default_factory=list)
    paths: list[GraphPathEvidence] = field(default_factory=list)
