"""Writer throughput against the same server, measured three (or four) ways in one run.

    python benchmarks/ingest.py [--rows N] [--per-row-sample M] [--batch B] [--peer] [--repeat R]
                                [--warmup-rows W]

(a) the project's writer loading N domain-resolves-to-IP observations with provenance;
(b) one MERGE transaction per observation, on a sample of M rows (rows/s is stable by then);
(c) the server's ceiling: ``UNWIND ... CREATE`` of the same N rows into an empty database with
    the same constraints and indexes, no MERGE, over as many concurrent transactions as the writer;
(d) with ``--peer``: Cartography's declarative loader (``cartography.client.core.tx.load``) on
    the same N observations, run by ``benchmarks/peer_cartography.py`` in a side virtual
    environment that holds a pinned Cartography (made on first use under the project's home;
    none of it enters the project's environment). ``ratio_vs_peer`` is writer rows/s over
    Cartography's rows/s.
With ``--repeat R`` the writer and the peer run R times each, alternately, and the rates are the
medians: on a shared machine one run of either can land in a busy minute. Before them each
loader loads the first ``--warmup-rows`` rows once, untimed: a server's first load after it
starts runs at about half speed, and it would otherwise always fall to the writer, which runs
first.
The last line is one JSON object with the rates and their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attribution.db import Graph
from attribution.schema import NODE_BY_LABEL, REL_BY_TYPE
from attribution.settings import load_settings
from attribution.writer import (
    GraphWriter,
    NodeRow,
    RelRow,
    apply_schema,
    node_statement,
    prepare_rows,
    rel_statement,
)
from benchmarks._common import (
    bench_graph,
    bench_server_env,
    emit,
    peak_rss_mb,
    wipe,
)

BASE = datetime(2026, 10, 1, tzinfo=UTC)
PEER_CARTOGRAPHY = "0.143.0"
"""The Cartography release the peer runs: pinned, so figures of two runs compare."""
PEER_SCRIPT = Path(__file__).resolve().parent / "peer_cartography.py"
PIP_TIMEOUT_S = 1800

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
) -> tuple[float, float, float]:
    """(a): the writer into an empty database with the schema applied.

    Returns (observations/s, seconds, seconds of those in ``summaries.after_load``): the
    write-time summaries the writer refreshes at the end of every load are timed apart, so
    the figures show how the load's time divides between the writes and the summaries.
    """
    wipe(graph)
    apply_schema(graph)
    nodes, rels = writer_rows(obs)
    writer = GraphWriter(graph, batch_size=batch, streams=streams)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if done % (batch * 20) < n:
            print(f"  writer: {done} rows sent", flush=True)

    began = time.perf_counter()
    stats = writer.load(nodes, rels, progress=tick)
    seconds = time.perf_counter() - began
    return len(obs) / seconds, seconds, stats.summaries_seconds


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


def peer_python(home: Path, version: str = PEER_CARTOGRAPHY) -> Path:
    """The side environment's interpreter, with Cartography ``version`` installed.

    Made with ``python -m venv`` and pip under the project's home on first use (several
    minutes: Cartography brings every cloud provider's SDK), and reused while it holds the
    pinned version.
    """
    venv = home / "bench-peer-venv"
    python = venv / "bin" / "python"
    if _installed_version(python) == version:
        return python
    print(f"installing cartography=={version} into {venv} (first use only)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"cartography=={version}",
        ],
        check=True,
        timeout=PIP_TIMEOUT_S,
    )
    return python


def _installed_version(python: Path) -> str | None:
    if not python.exists():
        return None
    found = subprocess.run(
        [
            str(python),
            "-c",
            "from importlib.metadata import version; print(version('cartography'))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return found.stdout.strip() if found.returncode == 0 else None


def write_peer_rows(obs: list[Observation], path: Path) -> Path:
    """The observations as the peer reads them: one JSON object each, times in epoch ms."""
    rows = [
        {
            "domain": name,
            "registrable": name.split(".", 1)[1],
            "ip": ip,
            "ttl": ttl,
            "seen": int(seen.timestamp() * 1000),
        }
        for name, ip, ttl, seen in obs
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def measure_peer(graph: Graph, python: Path, rows_file: Path, n: int, batch: int) -> float:
    """(d): Cartography's ``load()`` into an empty database with the schema applied; rows/s.

    The time is the peer's own (transform and both ``load()`` calls), measured inside its
    process, so interpreter start-up and Cartography's import do not count against it.
    """
    wipe(graph)
    apply_schema(graph)
    done = subprocess.run(
        [str(python), str(PEER_SCRIPT), str(rows_file), "--batch", str(batch)],
        env={**os.environ, **bench_server_env()},
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the Cartography peer failed:\n{done.stderr[-4000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return n / float(figures["seconds"])


def warm_up(
    graph: Graph,
    obs: list[Observation],
    args: argparse.Namespace,
    python: Path | None,
    scratch: Path,
) -> None:
    """One untimed load of ``obs`` by the writer, then by the peer: the first load a freshly
    started server answers runs at about half speed (its plans and caches are cold), and
    without this the writer, which runs first, would always be the one to pay for it."""
    began = time.perf_counter()
    measure_writer(graph, obs, args.batch, args.streams)
    if python is not None:
        rows_file = write_peer_rows(obs, scratch / "warmup-rows.json")
        measure_peer(graph, python, rows_file, len(obs), args.peer_batch)
    print(f"warm-up: {len(obs)} rows per loader, {time.perf_counter() - began:.1f} s", flush=True)


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
    parser.add_argument(
        "--peer", action="store_true", help=f"also run Cartography {PEER_CARTOGRAPHY}'s load()"
    )
    parser.add_argument(
        "--peer-batch", type=int, default=10_000, help="the peer's batch (load()'s default)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of the writer (and the peer), alternately"
    )
    parser.add_argument(
        "--warmup-rows",
        type=int,
        default=20_000,
        help="before the measured runs, load this many of the rows once with each loader, "
        "untimed (0: none), so neither measured run is the one a cold server answers",
    )
    args = parser.parse_args(argv)

    graph = bench_graph()
    obs = observations(args.rows)
    python = peer_python(load_settings().home) if args.peer else None
    print(f"server {graph.server_version()}; {args.rows} observations", flush=True)
    writer_runs: list[float] = []
    peer_runs: list[float] = []
    summaries_runs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as scratch:
        rows_file = write_peer_rows(obs, Path(scratch) / "rows.json") if python else None
        if args.warmup_rows > 0:
            warm_up(graph, obs[: args.warmup_rows], args, python, Path(scratch))
        for _ in range(max(1, args.repeat)):
            writer_rate, writer_s, summaries_s = measure_writer(
                graph, obs, args.batch, args.streams
            )
            writer_runs.append(writer_rate)
            summaries_runs.append(summaries_s)
            print(
                f"(a) writer: {writer_rate:,.0f} observations/s ({writer_s:.1f} s, "
                f"{summaries_s:.1f} s of it in summaries.after_load)",
                flush=True,
            )
            if python and rows_file:
                peer_rate = measure_peer(graph, python, rows_file, len(obs), args.peer_batch)
                peer_runs.append(peer_rate)
                print(f"(d) cartography load(): {peer_rate:,.0f} observations/s", flush=True)
    writer_rate = statistics.median(writer_runs)
    per_row_rate = measure_per_row(graph, args.per_row_sample)
    print(f"(b) one transaction per row: {per_row_rate:,.0f} observations/s", flush=True)
    ceiling_rate = measure_ceiling(graph, obs, args.batch, args.streams)
    print(f"(c) CREATE ceiling: {ceiling_rate:,.0f} observations/s", flush=True)
    wipe(graph)
    graph.close()

    figures = {
        "rows": args.rows,
        "streams": args.streams,
        "batch": args.batch,
        "repeat": len(writer_runs),
        "warmup_rows": max(0, min(args.warmup_rows, len(obs))),
        "writer_rows_per_s": round(writer_rate, 1),
        "writer_runs_rows_per_s": [round(r, 1) for r in writer_runs],
        "writer_summaries_s": round(statistics.median(summaries_runs), 2),
        "per_row_rows_per_s": round(per_row_rate, 1),
        "create_ceiling_rows_per_s": round(ceiling_rate, 1),
        "ratio_vs_per_row": round(writer_rate / per_row_rate, 2),
        "ratio_vs_ceiling": round(writer_rate / ceiling_rate, 3),
        "peak_rss_mb": peak_rss_mb(),
    }
    if peer_runs:
        peer_rate = statistics.median(peer_runs)
        figures |= {
            "peer": f"cartography {PEER_CARTOGRAPHY}",
            "peer_batch": args.peer_batch,
            "peer_rows_per_s": round(peer_rate, 1),
            "peer_runs_rows_per_s": [round(r, 1) for r in peer_runs],
            "ratio_vs_peer": round(writer_rate / peer_rate, 2),
        }
    emit(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
