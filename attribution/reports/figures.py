"""The report's two figures, drawn with matplotlib's Agg backend into PNG ``data:`` URIs.

Both are drawn from the report content alone (never from the graph), so a report file can be
rendered again anywhere and shows what the digest covers:

* the score distribution of every scored node of the target's kind, with the gate threshold
  from the model manifest (when known), the target's score and its Venn-ABERS interval
  (shaded, when the score has one);
* the evidence neighbourhood: the target and up to :data:`MAX_NODES` nodes of its evidence
  facts, nearest first, coloured by verdict (malicious, benign, unlabelled) and the target.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx

from attribution.schema import TARGETS

__all__ = ["MAX_NODES", "neighbourhood_png", "score_distribution_png"]

MAX_NODES = 40
COLOURS = {"target": "#1f4e9c", "malicious": "#c0392b", "benign": "#2e8b57", "none": "#a0a0a0"}


def _data_uri(figure: Any) -> str:
    buffer = io.BytesIO()
    # Metadata off: the same content draws the same bytes.
    figure.savefig(buffer, format="png", dpi=96, metadata={"Software": None})
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def score_distribution_png(content: Mapping[str, Any]) -> str:
    """Histogram of all scored nodes of the kind, with threshold and target lines."""
    population = content["score_population"]
    bins = int(population["bins"])
    counts = population["counts"]
    figure, axes = plt.subplots(figsize=(6.4, 3.2))
    edges = [i / bins for i in range(bins)]
    axes.bar(edges, counts, width=1 / bins, align="edge", color="#9db4d8", edgecolor="#4a6a9c")
    model = content["score"].get("model") or {}
    # The threshold is drawn on this probability axis only where the gate applies it to the
    # probability; a newer model's gate acts on its scorers' own score, another scale.
    rule = model.get("gate_rule")
    threshold = model.get("threshold") if rule is None or "P(malicious)" in rule else None
    if threshold is not None:
        axes.axvline(
            threshold, color="#c0392b", linestyle="--", label=f"gate threshold {threshold:.3f}"
        )
    probability = content["score"].get("probability")
    interval = content["score"].get("interval")
    if interval is not None:
        low, high = interval["low"], interval["high"]
        axes.axvspan(
            low, high, color="#1f4e9c", alpha=0.18, label=f"interval [{low:.3f}, {high:.3f}]"
        )
    if probability is not None:
        axes.axvline(probability, color="#1f4e9c", linewidth=2, label=f"target {probability:.3f}")
    axes.set_xlim(0, 1)
    axes.set_xlabel("calibrated probability of being malicious")
    axes.set_ylabel(f"{population['label']} nodes")
    axes.set_title(f"Scores of {population['scored']} scored {population['label']} nodes")
    if threshold is not None or probability is not None:
        axes.legend(loc="upper center", fontsize="small")
    figure.tight_layout()
    return _data_uri(figure)


def _node_id(label: str, key: Any) -> str:
    return f"{label}:{key}"


def neighbourhood_png(content: Mapping[str, Any]) -> str:
    """A small drawing of the evidence neighbourhood (at most MAX_NODES nodes)."""
    target = content["target"]
    target_label = TARGETS[target["kind"]].label
    centre = _node_id(target_label, target["value"])
    verdicts: dict[str, str] = {}
    graph = nx.Graph()
    graph.add_node(centre)
    facts = [f for f in content["evidence"]["facts"] if f["fact"] == "relationship"]
    for fact in sorted(facts, key=lambda f: f["hop"]):
        start = _node_id(fact["start"]["label"], fact["start"]["key"])
        end = _node_id(fact["end"]["label"], fact["end"]["key"])
        if fact["type"] in ("LABELS_DOMAIN", "LABELS_IP"):
            verdict = fact["properties"].get("verdict")
            if verdict in ("malicious", "benign") and verdicts.get(end) != "benign":
                # Benign wins in the drawing, as it does in the recommendation.
                verdicts[end] = verdict
            continue
        new = {start, end} - set(graph.nodes)
        if len(graph) + len(new) > MAX_NODES:
            continue
        graph.add_edge(start, end, type=fact["type"])
    figure, axes = plt.subplots(figsize=(6.4, 4.8))
    layout = nx.spring_layout(graph, seed=7)
    colours = [
        COLOURS["target"] if node == centre else COLOURS[verdicts.get(node, "none")]
        for node in graph.nodes
    ]
    nx.draw_networkx_edges(graph, layout, ax=axes, edge_color="#bbbbbb")
    nx.draw_networkx_nodes(graph, layout, ax=axes, node_color=colours, node_size=140)
    labels = {node: str(node).split(":", 1)[1][:28] for node in graph.nodes}
    nx.draw_networkx_labels(graph, layout, labels, ax=axes, font_size=6)
    axes.set_title(f"Evidence neighbourhood ({len(graph)} nodes shown)")
    axes.axis("off")
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=colour, label=name)
        for name, colour in COLOURS.items()
    ]
    axes.legend(handles=handles, loc="lower right", fontsize="x-small")
    figure.tight_layout()
    return _data_uri(figure)
