"""What one enrichment claim costs as the graph fills with finished nodes.

    python -m benchmarks.claim [--finished 200000] [--pending 1000] [--limit 200] [--runs 10]

A claim (``attribution.worker.claim_in``: the candidate query and the lease) is timed, in a
transaction rolled back afterwards so every run sees the same queue, twice in one run:

(a) the baseline: a graph holding only ``--pending`` pending names;
(b) the same pending names beside ``--finished`` names finished within the last two days, none
    of them stale.

The work is the same (take ``--limit`` of the pending names), so ``ratio_vs_pending_only``
(b's p50 over a's) near 1 says a claim costs what it claims, not what the graph holds. The
last line is one JSON object.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attribution.db import Graph
from attribution.worker import claim_in, claim_params
from attribution.writer import apply_schema
from benchmarks._common import bench_graph, emit, median, percentile, timed, wipe

CREATE_BATCH = 20_000


def add_nodes(graph: Graph, prefix: str, count: int, finished: bool) -> None:
    """``count`` domains named ``<prefix><i>.test``: pending, or finished 0-47 hours ago."""
    state = (
        "enrich_state: 'done', enriched_at: datetime() - duration({hours: i % 48})"
        if finished
        else "enrich_state: 'pending'"
    )
    statement = (
        "UNWIND range($first, $last) AS i "
        f"CREATE (:Domain {{name: $prefix + i + '.test', {state}}})"
    )
    for first in range(0, count, CREATE_BATCH):
        last = min(count, first + CREATE_BATCH) - 1
        graph.run_write(statement, {"first": first, "last": last, "prefix": prefix})


def time_claims(graph: Graph, limit: int, warmup: int, runs: int) -> list[float]:
    """Milliseconds of each claim of ``limit`` nodes, each rolled back."""
    now = datetime.now(UTC)
    params = claim_params("bench", limit, timedelta(minutes=5), now - timedelta(days=7), now)

    def one() -> None:
        with graph.session() as session, session.begin_transaction() as tx:
            taken = claim_in(tx, params)
            if len(taken.items) != limit:
                raise RuntimeError(f"a claim took {len(taken.items)} nodes, not {limit}")
            tx.rollback()

    return timed(one, warmup, runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--finished", type=int, default=200_000)
    parser.add_argument("--pending", type=int, default=1_000)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)

    graph = bench_graph()
    wipe(graph)
    apply_schema(graph)
    add_nodes(graph, "pending", args.pending, finished=False)
    print(f"(a) {args.pending} pending names", flush=True)
    alone = time_claims(graph, args.limit, args.warmup, args.runs)
    add_nodes(graph, "finished", args.finished, finished=True)
    print(f"(b) the same beside {args.finished} finished names", flush=True)
    beside = time_claims(graph, args.limit, args.warmup, args.runs)
    wipe(graph)
    graph.close()
    emit(
        {
            "benchmark": "claim",
            "finished": args.finished,
            "pending": args.pending,
            "limit": args.limit,
            "runs": args.runs,
            "pending_only_p50_ms": round(median(alone), 2),
            "with_finished_p50_ms": round(median(beside), 2),
            "with_finished_p95_ms": round(percentile(beside, 0.95), 2),
            "ratio_vs_pending_only": round(median(beside) / median(alone), 2),
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
