"""rdflib with ``parsed_sparql`` installed answers every query as rdflib alone does, and parses a text once."""

from __future__ import annotations

from rdflib import Graph, Literal, Namespace, URIRef, plugin
from rdflib.plugins.sparql.processor import SPARQLProcessor
from rdflib.query import Processor

from repropack.crate import parsed_sparql

EX = Namespace("https://example.org/")
OTHER = Namespace("https://other.example/")
QUERY = "SELECT ?name WHERE { $this ex:name ?name } ORDER BY ?name"


def _graph() -> Graph:
    graph = Graph()
    graph.bind("ex", EX)
    for ns in (EX, OTHER):
        graph.add((ns.ada, ns.name, Literal("Ada")))
        graph.add((ns.ada, ns.name, Literal("Augusta")))
        graph.add((ns.bob, ns.name, Literal("Bob")))
    return graph


def _names(graph: Graph, this: URIRef, processor="sparql", **kwargs) -> list[str]:
    return [str(row.name) for row in graph.query(QUERY, processor=processor, initBindings={"this": this}, **kwargs)]


def test_answers_are_rdflibs_for_every_binding_of_one_parsed_text():
    parsed_sparql.install()
    assert plugin.get("sparql", Processor) is parsed_sparql.ReusingParsedQueries
    graph = _graph()
    stock = SPARQLProcessor(graph)  # rdflib's own, parsing every time
    for this in (EX.ada, EX.bob, EX.nobody, EX.ada):
        assert _names(graph, this) == _names(graph, this, processor=stock)
    assert _names(graph, EX.ada) == ["Ada", "Augusta"]
    assert _names(graph, EX.bob) == ["Bob"]


def test_the_same_text_under_other_prefixes_is_parsed_for_those_prefixes():
    parsed_sparql.install()
    graph = _graph()
    assert _names(graph, EX.ada) == ["Ada", "Augusta"]
    before = parsed_sparql.cached_queries()
    assert _names(graph, OTHER.bob, initNs={"ex": OTHER}) == ["Bob"]
    assert _names(graph, EX.bob, initNs={"ex": OTHER}) == []
    assert parsed_sparql.cached_queries() == before + 1
    assert _names(graph, EX.bob) == ["Bob"]
    assert parsed_sparql.cached_queries() == before + 1
