"""Feature extraction plus scoring throughput, against reading the same nodes' properties alone.

Usage: ``python -m benchmarks.score [--nodes N]`` (default 200,000). Builds a graph of N
Domain and IPAddress nodes (two domains per address) with typical facts (address records,
name servers, registrations, prefixes and ASes, 5 % feed and 5 % allowlist labels) through the
writer on the benchmark instance, trains a small model on it, then times:

* the baseline: one read of every Domain's and IPAddress's own properties;
* feature extraction (graph export, features, cross-fitted label features) plus scoring
  (probabilities and gate decisions of every node, explanations of those a score run explains
  at once), without the write-back;
* the full ``score`` run with the write-back, reported beside it.

* the full ``score`` run (what ``attribution score`` does: streamed facts, warninglists from
  the settings, pages of explanations and write-back) in a separate process, whose own peak
  RSS (``VmHWM`` of that process, graph generation and training excluded) is
  ``peak_rss_mb_scoring``;
* then, with 1 % of the nodes given a newer sighting, ``score --changed-since-last-run`` in
  another process, beside a read of those nodes' properties alone.

The last line is one JSON object with ``nodes_per_s``, ``ratio_vs_read_only`` (extraction plus
scoring, in this process, without warninglists or write-back, over the read-only baseline),
``peak_rss_mb`` (this process, graph generation included), and the separate-process figures:
``score_with_writeback_s``, ``explained`` (nodes it explained at once), ``peak_rss_mb_scoring``, ``ratio_vs_read`` (the whole score run over
the read-only baseline), ``warninglists_s`` (its loading of the lists), ``score_stages_s`` (its
seconds per stage: reading facts, features, scoring and explaining, waiting for the writer),
``ratio_vs_read_without_lists``, ``incremental_1pct_s``, ``incremental_selected``,
``incremental_ratio_vs_full``, ``read_1pct_s``, ``incremental_ratio_vs_read_1pct`` and
``incremental_stages_s`` (the changed-only run's seconds per stage).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from attribution.classifier.score import EXPLAIN_GATE, explain_now
from attribution.classifier.store import ModelStore
from attribution.classifier.train import train_model
from attribution.db import Graph
from attribution.features import FEATURE_SET_VERSION, build_features
from attribution.labels import LabelEntry, label_rows, read_labels
from attribution.scoring.paged import score_graph
from attribution.scoring.persistence import load_model
from attribution.writer import GraphWriter, NodeRow, RelRow, apply_schema
from benchmarks._common import bench_graph, emit, peak_rss_mb, wipe

SEEN = datetime(2026, 1, 1, tzinfo=UTC)


def build_rows(n_nodes: int, seed: int = 1) -> tuple[list[NodeRow], list[RelRow], list[LabelEntry]]:
    """Rows for ``n_nodes`` scored nodes: two thirds domains, one third addresses."""
    rng = random.Random(seed)
    n_ip = max(1, n_nodes // 3)
    n_dom = n_nodes - n_ip
    nodes: list[NodeRow] = []
    rels: list[RelRow] = []
    entries: list[LabelEntry] = []

    def rel(kind: str, a: object, b: object, **props: object) -> None:
        rels.append(RelRow(kind, a, b, dict(props), "bench", SEEN, SEEN, SEEN))

    addresses = [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in range(n_ip)]
    for i, address in enumerate(addresses):
        prefix = address.rsplit(".", 1)[0] + ".0/24"
        rel("IN_PREFIX", address, prefix)
        rel("ANNOUNCED_BY", prefix, 64500 + (i // 256) % 200)
    for i in range(n_dom):
        bad = rng.random() < 0.2
        name = f"{'x' if bad else 'site'}{rng.getrandbits(40):010x}{i}.{'xyz' if bad else 'com'}"
        age = rng.randint(1, 60) if bad else rng.randint(365, 7000)
        created = SEEN - timedelta(days=age)
        nodes.append(
            NodeRow(
                "Domain",
                name,
                {
                    "registrable": name,
                    "created": created,
                    "expires": created + timedelta(days=365 if bad else 3650),
                    "privacy_proxy": bad,
                },
                "bench",
                SEEN,
                SEEN,
                SEEN,
            )
        )
        for _ in range(rng.randint(1, 3)):
            ttl = 60 if bad else 3600
            rel("RESOLVES_TO", name, rng.choice(addresses), rtype="A", ttl=ttl, min_ttl=ttl)
        rel("NAME_SERVER", name, f"ns{rng.randrange(100)}.{'flux' if bad else 'dns'}host.net")
        rel("REGISTERED_WITH", name, f"registrar-{rng.randrange(20 if not bad else 3)}")
        draw = rng.random()
        if bad and draw < 0.25:
            entries.append(LabelEntry(("Domain", name), "malicious"))
        elif not bad and draw < 0.1:
            entries.append(LabelEntry(("Domain", name), "benign"))
    return nodes, rels, entries


def _build_graph(graph: Graph, n_nodes: int) -> None:
    """An empty benchmark graph filled with :func:`build_rows` and its labels."""
    wipe(graph)
    apply_schema(graph)
    nodes, rels, entries = build_rows(n_nodes)
    began = time.perf_counter()
    GraphWriter(graph).load(nodes=nodes, rels=rels)
    feed = [e for e in entries if e.verdict == "malicious"]
    allow = [e for e in entries if e.verdict == "benign"]
    for group, kind in ((feed, "feed"), (allow, "allowlist")):
        label_nodes, label_rels = label_rows(group, kind, f"{kind}:bench", "bench", SEEN)
        GraphWriter(graph).load(nodes=label_nodes, rels=label_rels)
    print(f"graph built in {time.perf_counter() - began:.1f}s", file=sys.stderr)


def _own_peak_mb() -> float:
    """This process's peak RSS since it started its program (``VmHWM``): unlike ``ru_maxrss``,
    which a spawned child inherits from the parent it was forked from, it is the child's own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _score_child(models: str, changed: bool, out: Any) -> None:
    """One ``score`` run in this (separate) process: its seconds, the seconds spent loading
    the warninglists, its result and this process's own peak RSS."""
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    marks: dict[str, float] = {}

    def mark(step: str) -> None:
        marks.setdefault(step, time.perf_counter())

    graph = bench_graph()
    try:
        began = time.perf_counter()
        marks["began"] = began
        result = score_graph(
            graph,
            models_dir=Path(models),
            changed_since_last_run=changed,
            progress=mark,
        )
        seconds = time.perf_counter() - began
    finally:
        graph.close()
    lists = marks.get("warninglists", marks.get("export", began)) - marks.get("export", began)
    peak = _own_peak_mb()
    out.send({"seconds": seconds, "warninglists_s": lists, "result": result, "peak_mb": peak})


def _in_child(models: Path, *, changed: bool) -> dict[str, Any]:
    """:func:`_score_child` in a fresh interpreter (spawned, not forked, so its peak RSS is
    its own and not this process's graph generation)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_score_child, args=(str(models), changed, send))
    child.start()
    send.close()  # the child's copy is the only one left: a crashed child ends recv()
    try:
        figures: dict[str, Any] = receive.recv()
    except EOFError:
        child.join()
        raise RuntimeError(f"the scoring process failed (exit code {child.exitcode})") from None
    child.join()
    return figures


def _touch(graph: Graph, n_nodes: int) -> list[str]:
    """A newer sighting of 1 % of the nodes (domains' own facts), as a crawl would write."""
    names = [r["name"] for r in graph.read("MATCH (d:Domain) RETURN d.name AS name ORDER BY name")]
    chosen = random.Random(2).sample(names, max(1, n_nodes // 100))
    later = datetime.now(UTC)  # after the full run, as a new crawl would be
    rows = [NodeRow("Domain", name, {}, "bench", later, later, later) for name in chosen]
    GraphWriter(graph).load(nodes=rows)
    return chosen


def _incremental(graph: Graph, models: Path, n_nodes: int, full: dict[str, Any]) -> dict[str, Any]:
    """``score --changed-since-last-run`` after 1 % of the nodes changed, against the full run
    and against reading those nodes' properties alone."""
    chosen = _touch(graph, n_nodes)
    t0 = time.perf_counter()
    graph.read(
        "MATCH (d:Domain) WHERE d.name IN $names RETURN properties(d) AS p", {"names": chosen}
    )
    read_s = time.perf_counter() - t0
    changed = _in_child(models, changed=True)
    return {
        "incremental_1pct_s": round(changed["seconds"], 3),
        "incremental_selected": changed["result"]["selected"],
        "incremental_ratio_vs_full": round(changed["seconds"] / full["seconds"], 3),
        "read_1pct_s": round(read_s, 3),
        "incremental_ratio_vs_read_1pct": round(changed["seconds"] / read_s, 1),
        "peak_rss_mb_incremental": round(changed["peak_mb"], 1),
        "incremental_stages_s": changed["result"]["stages_s"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200_000)
    args = parser.parse_args(argv)
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    graph = bench_graph()
    try:
        _build_graph(graph, args.nodes)
        with tempfile.TemporaryDirectory() as tmp:
            models = Path(tmp)
            train_model(graph, models_dir=models, alpha=0.05, delta=0.05, n_folds=3)
            model = load_model(
                ModelStore(models).latest("maliciousness"),
                expected_feature_version=FEATURE_SET_VERSION,
            )

            t0 = time.perf_counter()
            domains = graph.read("MATCH (d:Domain) RETURN properties(d) AS p")
            ips = graph.read("MATCH (i:IPAddress) RETURN properties(i) AS p")
            read_s = time.perf_counter() - t0
            n = len(domains) + len(ips)

            t0 = time.perf_counter()
            labels = read_labels(graph)
            features = build_features(graph, labels, n_folds=5, warninglists=None)
            extract_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            model.predict_proba(features.X)
            decided = model.decide(features.X)
            # Explanations for the nodes a score run explains at once (its default).
            explained = features.X[explain_now(decided, EXPLAIN_GATE)]
            if len(explained):
                model.explain(explained, top=3)
            predict_s = time.perf_counter() - t0

            full = _in_child(models, changed=False)
            incremental = _incremental(graph, models, n, full)
        total = extract_s + predict_s
        emit(
            {
                "benchmark": "score",
                "nodes": n,
                "read_only_s": round(read_s, 3),
                "extract_s": round(extract_s, 3),
                "predict_explain_s": round(predict_s, 3),
                "score_with_writeback_s": round(full["seconds"], 3),
                "written": full["result"]["written"],
                "explained": full["result"]["explained"],
                "nodes_per_s": round(n / total, 1),
                "read_only_nodes_per_s": round(n / read_s, 1),
                "ratio_vs_read_only": round(total / read_s, 2),
                "peak_rss_mb": peak_rss_mb(),
                "peak_rss_mb_scoring": round(full["peak_mb"], 1),
                "ratio_vs_read": round(full["seconds"] / read_s, 2),
                "warninglists_s": round(full["warninglists_s"], 3),
                "score_stages_s": full["result"]["stages_s"],
                "ratio_vs_read_without_lists": round(
                    (full["seconds"] - full["warninglists_s"]) / read_s, 2
                ),
                **incremental,
            }
        )
    finally:
        graph.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
