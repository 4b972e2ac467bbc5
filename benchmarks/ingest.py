"""Writer throughput against the same server, measured three ways in one run.

    python benchmarks/ingest.py [--rows N] [--per-row-sample M] [--batch B]

(a) the project's writer loading N domain-resolves-to-IP observations with provenance;
(b) one MERGE transaction per observation, on a sample of M rows (rows/s is stable by then);
(c) the server's ceiling: ``UNWIND ... CREATE`` of the same N rows into an empty database with
    the same constraints and indexes, no MERGE, over as many concurrent transactions as the writer.
The last line is one JSON object with the rates and their ratios.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attribution.db import Graph
from attribution.schema import NODE_BY_LABEL, REL_BY_TYPE
from attribution.writer import (
    GraphWriter,
    NodeRow,
    RelRow,
    apply_schema,
    node_statement,
    prepare_rows,
    rel_statement,
)
from benchmarks._common import bench_graph, emit, peak_rss_mb, wipe

BASE = datetime(2026, 10, 1, tzinfo=UTC)

Observation = tuple[str, str, int, datetime]
"""(domain, ip, ttl, seen)."""


def observations(n: int, seed: int = 7) -> list[Observation]:
    """n (domain, ip, ttl, seen) tuples: distinct names, addresses shared ~4 names each."""
    rng = random.Random(seed)
    n_ips = max(1, n // 4)
    out = []
    for i in range(n):
        ip_index = rng.randrange(n_ips)
        ip = f"10.{(ip_index >> 16) & 255}.{(ip_index >> 8) & 255}.{ip_index & 255}"
        out.append(
            (
                f"host{i}.example{i % 997}.test",
                ip,
                rng.choice((60, 300, 3600)),
                BASE + timedelta(seconds=i),
            )
        )
    return out


def writer_rows(obs: list[Observation]) -> tuple[list[NodeRow], list[RelRow]]:
    now = datetime.now(UTC)
    nodes: list[NodeRow] = []
    rels: list[RelRow] = []
    for name, ip, ttl, seen in obs:
        nodes.append(
            NodeRow("Domain", name, {"registrable": name.split(".", 1)[1]}, "dns", seen, seen, now)
        )
        nodes.append(NodeRow("IPAddress", ip, {"version": 4}, "dns", seen, seen, now))
        rels.append(
            RelRow(
                "RESOLVES_TO",
                name,
                ip,
                {"rtype": "A", "ttl": ttl, "min_ttl": ttl},
                "dns",
                seen,
                seen,
                now,
            )
        )
    return nodes, rels


CREATE_CEILING = """
UNWIND $rows AS row
CREATE (d:Domain {name: row.name, registrable: row.registrable, source: ['dns'], first_seen: row.seen,
                  last_seen: row.seen, retrieved_at: row.now, sightings: 1})
CREATE (i:IPAddress {address: row.ip + '#' + toString(row.i), version: 4, source: ['dns'], first_seen: row.seen,
                     last_seen: row.seen, retrieved_at: row.now, sightings: 1})
CREATE (d)-[:RESOLVES_TO {rtype: 'A', ttl: row.ttl, min_ttl: row.ttl, source: ['dns'], first_seen: row.seen,
                          last_seen: row.seen, retrieved_at: row.now, sightings: 1}]->(i)
"""


def measure_writer(
    graph: Graph, obs: list[Observation], batch: int, streams: int
) -> tuple[float, float]:
    """(a): the writer into an empty database with the schema applied: (observations/s, s)."""
    wipe(graph)
    apply_schema(graph)
    nodes, rels = writer_rows(obs)
    writer = GraphWriter(graph, batch_size=batch, streams=streams)
    began = time.perf_counter()
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if done % (batch * 20) < n:
            print(f"  writer: {done} rows sent", flush=True)

    writer.load(nodes, rels, progress=tick)
    seconds = time.perf_counter() - began
    return len(obs) / seconds, seconds


def measure_per_row(graph: Graph, n: int) -> float:
    """(b): one transaction per observation, on fresh names so every MERGE creates."""
    sample = observations(n, seed=11)
    sample = [(f"per-row-{name}", ip, ttl, seen) for name, ip, ttl, seen in sample]
    statement = rel_statement("RESOLVES_TO")
    node_stmt_rows = writer_rows(sample)
    began = time.perf_counter()
    for i in range(len(sample)):
        dom = prepare_rows(NODE_BY_LABEL["Domain"], [node_stmt_rows[0][2 * i]])
        ip = prepare_rows(NODE_BY_LABEL["IPAddress"], [node_stmt_rows[0][2 * i + 1]])
        rel = prepare_rows(REL_BY_TYPE["RESOLVES_TO"], [node_stmt_rows[1][i]])

        def work(tx, dom=dom, ip=ip, rel=rel):  # type: ignore[no-untyped-def]
            tx.run(node_statement("Domain"), rows=dom).consume()
            tx.run(node_statement("IPAddress"), rows=ip).consume()
            tx.run(statement, rows=rel).consume()

        graph.write(work)
    return len(sample) / (time.perf_counter() - began)


def measure_ceiling(graph: Graph, obs: list[Observation], batch: int, streams: int) -> float:
    """(c): the CREATE ceiling into an empty database; observations/s."""
    wipe(graph)
    now = datetime.now(UTC)
    rows = [
        {
            "i": i,
            "name": name,
            "registrable": name.split(".", 1)[1],
            "ip": ip,
            "ttl": ttl,
            "seen": seen,
            "now": now,
        }
        for i, (name, ip, ttl, seen) in enumerate(obs)
    ]
    # The same number of concurrent transactions as the writer uses: CREATE has nothing to lock.
    parts = [rows[i::streams] for i in range(streams)]

    def create_stream(part: list[dict[str, object]]) -> None:
        for start in range(0, len(part), batch):
            chunk = part[start : start + batch]
            graph.write(lambda tx, c=chunk: tx.run(CREATE_CEILING, rows=c).consume())

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=streams) as pool:
        for future in [pool.submit(create_stream, part) for part in parts]:
            future.result()
    return len(obs) / (time.perf_counter() - began)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--per-row-sample", type=int, default=3_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument(
        "--streams", type=int, default=2, help="concurrent write transactions of the writer"
    )
    args = parser.parse_args(argv)

    graph = bench_graph()
    obs = observations(args.rows)
    print(f"server {graph.server_version()}; {args.rows} observations", flush=True)
    writer_rate, writer_s = measure_writer(graph, obs, args.batch, args.streams)
    print(f"(a) writer: {writer_rate:,.0f} observations/s ({writer_s:.1f} s)", flush=True)
    per_row_rate = measure_per_row(graph, args.per_row_sample)
    print(f"(b) one transaction per row: {per_row_rate:,.0f} observations/s", flush=True)
    ceiling_rate = measure_ceiling(graph, obs, args.batch, args.streams)
    print(f"(c) CREATE ceiling: {ceiling_rate:,.0f} observations/s", flush=True)
    wipe(graph)
    graph.close()

    emit(
        {
            "rows": args.rows,
            "streams": args.streams,
            "writer_rows_per_s": round(writer_rate, 1),
            "per_row_rows_per_s": round(per_row_rate, 1),
            "create_ceiling_rows_per_s": round(ceiling_rate, 1),
            "ratio_vs_per_row": round(writer_rate / per_row_rate, 2),
            "ratio_vs_ceiling": round(writer_rate / ceiling_rate, 3),
            "peak_rss_mb": peak_rss_mb(),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
