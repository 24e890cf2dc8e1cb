"""Export the co-posting network: GraphML, GEXF (both open in Gephi) and CSV edge/node lists.

Nodes are the accounts with at least one co-posting edge; an edge links two accounts that
co-posted at least ``min_repetitions`` times. Node attributes: handle, platform, sightings and
``group`` (the coordination group, -1 when not in one); edge attributes: ``weight`` (the
repetitions), co-posting pairs, distinct items, first/last co-post, mean delay and ``group``
(-1 for edges cut by the neighbourhood-overlap rule or outside any group).
The XML is written with :mod:`xml.etree` (no graph library needed).
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from typing import Any

from memetrack.coordination import CoordinationResult

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
GEXF_NS = "http://gexf.net/1.3"
GEXF_VERSION = "1.3"

NODE_ATTRS: tuple[tuple[str, str], ...] = (
    ("label", "string"), ("platform", "string"), ("handle", "string"), ("sightings", "long"),
    ("group", "int"),
)
EDGE_ATTRS: tuple[tuple[str, str], ...] = (
    ("weight", "double"), ("pairs", "long"), ("items", "long"), ("first_at", "string"),
    ("last_at", "string"), ("mean_delay_seconds", "double"), ("group", "int"),
)


def _nodes(result: CoordinationResult) -> list[dict[str, Any]]:
    group_of = {a.id: g.id for g in result.groups for a in g.accounts}
    return [{"id": a.id, "label": a.label, "platform": a.platform, "handle": a.handle,
             "sightings": a.sightings, "group": group_of.get(a.id, -1)}
            for a in result.accounts.values()]


def _edges(result: CoordinationResult) -> list[dict[str, Any]]:
    return [{"source": e.a, "target": e.b, "weight": float(e.repetitions), "pairs": e.pairs,
             "items": e.items, "first_at": e.first_at.isoformat(),
             "last_at": e.last_at.isoformat(),
             "mean_delay_seconds": round(e.mean_delay_seconds, 3),
             "group": -1 if e.group is None else e.group}
            for e in result.edges]


def _text(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    return str(value)


def to_graphml(result: CoordinationResult) -> bytes:
    ET.register_namespace("", GRAPHML_NS)
    root = ET.Element(f"{{{GRAPHML_NS}}}graphml")
    for name, kind in NODE_ATTRS:
        ET.SubElement(root, f"{{{GRAPHML_NS}}}key", {"id": f"n_{name}", "for": "node",
                                                     "attr.name": name, "attr.type": kind})
    for name, kind in EDGE_ATTRS:
        ET.SubElement(root, f"{{{GRAPHML_NS}}}key", {"id": f"e_{name}", "for": "edge",
                                                     "attr.name": name, "attr.type": kind})
    graph = ET.SubElement(root, f"{{{GRAPHML_NS}}}graph",
                          {"id": "coposting", "edgedefault": "undirected"})
    for node in _nodes(result):
        el = ET.SubElement(graph, f"{{{GRAPHML_NS}}}node", {"id": f"a{node['id']}"})
        for name, _kind in NODE_ATTRS:
            ET.SubElement(el, f"{{{GRAPHML_NS}}}data", {"key": f"n_{name}"}).text = \
                _text(node[name])
    for i, edge in enumerate(_edges(result)):
        el = ET.SubElement(graph, f"{{{GRAPHML_NS}}}edge",
                           {"id": f"e{i}", "source": f"a{edge['source']}",
                            "target": f"a{edge['target']}"})
        for name, _kind in EDGE_ATTRS:
            ET.SubElement(el, f"{{{GRAPHML_NS}}}data", {"key": f"e_{name}"}).text = \
                _text(edge[name])
    return _serialise(root)


def to_gexf(result: CoordinationResult) -> bytes:
    ET.register_namespace("", GEXF_NS)
    root = ET.Element(f"{{{GEXF_NS}}}gexf", {"version": GEXF_VERSION})
    meta = ET.SubElement(root, f"{{{GEXF_NS}}}meta")
    ET.SubElement(meta, f"{{{GEXF_NS}}}creator").text = "memetrack"
    ET.SubElement(meta, f"{{{GEXF_NS}}}description").text = (
        f"co-posting network, {result.params.level} level, window {result.window_seconds:g} s, "
        f"min repetitions {result.params.min_repetitions}")
    graph = ET.SubElement(root, f"{{{GEXF_NS}}}graph",
                          {"defaultedgetype": "undirected", "mode": "static"})
    gexf_type = {"string": "string", "long": "long", "int": "integer", "double": "double"}
    node_attrs = [a for a in NODE_ATTRS if a[0] != "label"]
    edge_attrs = [a for a in EDGE_ATTRS if a[0] != "weight"]
    for klass, attrs in (("node", node_attrs), ("edge", edge_attrs)):
        block = ET.SubElement(graph, f"{{{GEXF_NS}}}attributes", {"class": klass})
        for i, (name, kind) in enumerate(attrs):
            ET.SubElement(block, f"{{{GEXF_NS}}}attribute",
                          {"id": str(i), "title": name, "type": gexf_type[kind]})
    nodes_el = ET.SubElement(graph, f"{{{GEXF_NS}}}nodes")
    for node in _nodes(result):
        el = ET.SubElement(nodes_el, f"{{{GEXF_NS}}}node",
                           {"id": f"a{node['id']}", "label": node["label"]})
        values = ET.SubElement(el, f"{{{GEXF_NS}}}attvalues")
        for i, (name, _kind) in enumerate(node_attrs):
            ET.SubElement(values, f"{{{GEXF_NS}}}attvalue",
                          {"for": str(i), "value": _text(node[name])})
    edges_el = ET.SubElement(graph, f"{{{GEXF_NS}}}edges")
    for n, edge in enumerate(_edges(result)):
        el = ET.SubElement(edges_el, f"{{{GEXF_NS}}}edge",
                           {"id": str(n), "source": f"a{edge['source']}",
                            "target": f"a{edge['target']}", "weight": _text(edge["weight"])})
        values = ET.SubElement(el, f"{{{GEXF_NS}}}attvalues")
        for i, (name, _kind) in enumerate(edge_attrs):
            ET.SubElement(values, f"{{{GEXF_NS}}}attvalue",
                          {"for": str(i), "value": _text(edge[name])})
    return _serialise(root)


def to_edges_csv(result: CoordinationResult) -> str:
    """Gephi's edge-list CSV: Source, Target, Type, Weight, then the other edge attributes."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["Source", "Target", "Type", "Weight", "SourceLabel", "TargetLabel",
                     "pairs", "items", "first_at", "last_at", "mean_delay_seconds", "group"])
    labels = {a.id: a.label for a in result.accounts.values()}
    for e in _edges(result):
        writer.writerow([f"a{e['source']}", f"a{e['target']}", "Undirected", e["weight"],
                         labels.get(e["source"], ""), labels.get(e["target"], ""), e["pairs"],
                         e["items"], e["first_at"], e["last_at"], e["mean_delay_seconds"],
                         e["group"]])
    return buf.getvalue()


def to_nodes_csv(result: CoordinationResult) -> str:
    """Gephi's node-list CSV: Id, Label, then platform, handle, sightings, group."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["Id", "Label", "platform", "handle", "sightings", "group"])
    for n in _nodes(result):
        writer.writerow([f"a{n['id']}", n["label"], n["platform"], n["handle"], n["sightings"],
                         n["group"]])
    return buf.getvalue()


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


EXPORTS = {"graphml": (to_graphml, "application/graphml+xml"),
           "gexf": (to_gexf, "application/gexf+xml"),
           "csv": (to_edges_csv, "text/csv")}
