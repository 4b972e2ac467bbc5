"""Latency of every library query on a generated graph of realistic shape.

    python benchmarks/queries.py [--nodes N] [--runs R] [--warmup W] [--seed S]

Generates about N nodes (domains, addresses, prefixes, ASes, name servers, registrars,
registrants, incident reports, operators, label sources, approval requests) with skewed
sharing, as real hosting is skewed: a tenth of the addresses carry half of the names, a few
privacy registrants hold a third of the domains, one percent of the names fast-flux. Writes
them through the project's writer, then runs each library query W times to warm up and R
times measured, with typical parameter values, next to a trivial ``RETURN 1`` round trip
measured in the same run. The last line is one JSON object mapping each query id (and
``roundtrip``) to its median and 95th-percentile latency and the ratio of that 95th
percentile to the round trip's (``p95_ratio_vs_roundtrip``, also as ``ratio_p95``), plus
``worst_ratio_p95`` (the largest ratio of any query) and ``queries_over_10x`` (the ids whose
ratio exceeds 10). The ``server_`` figures time the same query wrapped in ``CALL { } RETURN
count(*)``: the server's work without sending and decoding the result rows, which for a
thousand rows of times costs the Python driver far more than the server's plan. The ``page_``
figures time the first page of 100 rows as the service and ``run_query_page`` serve it (the
driver is asked for only the rows of the page), with ``worst_page_ratio_p95`` and
``queries_over_10x_page``.

The round trip above is measured once, in a burst before the queries. A query's pages are also
timed alternately with a round trip of their own (``page_roundtrip_p95_ms``), so that both see
the machine in the same state; ``page_ratio_p95_beside`` is the page's p95 over that round
trip's, summarised as ``worst_page_ratio_p95_beside`` and ``queries_over_10x_page_beside``.
The burst and the alternated figures are both kept: neither replaces the other.

``--compare DIR`` also times the query library in DIR (say, the queries of an earlier commit,
``git archive HEAD~5 queries | tar -x -C /tmp/old``) on the same graph, in the same run, under
``compare`` in the JSON. ``--keep`` leaves the graph in place when done and ``--reuse`` times
the graph a ``--keep`` run left (same ``--nodes`` and ``--seed``) without writing it again.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attribution.db import Graph
from attribution.queries import (
    Query,
    bind_params,
    list_queries,
    run_query,
    run_query_page,
    run_read_only,
)
from attribution.writer import GraphWriter, NodeRow, RelRow, apply_schema
from benchmarks._common import (
    bench_graph,
    emit,
    median,
    peak_rss_mb,
    percentile,
    timed,
    timed_beside,
    wipe,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 270
SINCE = START + timedelta(days=240)
DECISIONS = ("act", "no-act", "insufficient-evidence")
SECTORS = ("energy", "finance", "telecom", "water", "transport", "healthcare", "government")


class World:
    """Sizes and seeded choices of the generated graph."""

    def __init__(self, nodes: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n_domains = int(nodes * 0.62)
        self.n_ips = int(nodes * 0.22)
        self.n_prefixes = max(10, nodes // 40)
        self.n_asns = max(5, nodes // 250)
        self.n_ns = max(10, nodes // 100)
        self.n_registrars = max(20, nodes // 2000)
        self.n_registrants = max(20, nodes // 20)
        self.n_reports = max(10, nodes // 100)
        self.n_operators = max(5, nodes // 1000)
        self.n_requests = max(5, nodes // 500)
        self.n_internal = max(10, nodes // 200)

    def day(self) -> datetime:
        return START + timedelta(days=self.rng.randrange(DAYS), seconds=self.rng.randrange(86400))

    def skewed(self, n: int) -> int:
        """An index in [0, n): a tenth of the range draws half of the picks."""
        if self.rng.random() < 0.5:
            return self.rng.randrange(max(1, n // 10))
        return self.rng.randrange(n)

    @staticmethod
    def domain(i: int) -> str:
        return f"d{i}.zone{i % 5003}.test"

    @staticmethod
    def ns(i: int) -> str:
        return f"ns{i}.dnshost{i % 97}.test"

    @staticmethod
    def ip(i: int) -> str:
        return f"100.{64 + (i >> 16) % 64}.{(i >> 8) & 255}.{i & 255}"

    def prefix_of(self, i: int) -> int:
        return (i >> 8) % self.n_prefixes

    def cidr(self, p: int) -> str:
        return f"100.{64 + (p >> 8) % 64}.{p & 255}.0/24"

    @staticmethod
    def asn(a: int) -> int:
        return 64512 + a


class _Maker:
    """Rows of one generated graph: each observation seen on a random day of the world, for up
    to a month, and retrieved ``now``."""

    def __init__(self, world: World, now: datetime) -> None:
        self.world = world
        self.rng = world.rng
        self.now = now

    def node(self, label: str, key: Any, props: dict[str, Any]) -> NodeRow:
        seen = self.world.day()
        last = seen + timedelta(days=self.rng.randrange(30))
        return NodeRow(label, key, props, "bench", seen, last, self.now)

    def rel(
        self, rel_type: str, start: Any, end: Any, props: dict[str, Any] | None = None
    ) -> RelRow:
        seen = self.world.day()
        last = seen + timedelta(days=self.rng.randrange(30))
        return RelRow(rel_type, start, end, props or {}, "bench", seen, last, self.now)

    def scored(self) -> dict[str, Any]:
        if self.rng.random() > 0.1:
            return {}
        score = round(self.rng.random(), 3)
        decision = "act" if score > 0.9 else self.rng.choice(DECISIONS[1:])
        return {
            "score": score,
            "decision": decision,
            "model_version": "bench",
            "scored_at": self.now,
        }


Stage = tuple[str, list[NodeRow], list[RelRow]]


def _registries(world: World, make: _Maker) -> tuple[list[NodeRow], list[RelRow]]:
    """ASes, prefixes, registrars, registrants, operators and label sources."""
    nodes = [
        make.node("AutonomousSystem", world.asn(a), {"name": f"AS-NAME-{a}"})
        for a in range(world.n_asns)
    ]
    nodes += [make.node("Prefix", world.cidr(p), {"version": 4}) for p in range(world.n_prefixes)]
    nodes += [
        make.node("Registrar", f"r{i}", {"name": f"Registrar {i}", "iana_id": str(i)})
        for i in range(world.n_registrars)
    ]
    nodes += [
        make.node("Registrant", f"h{i}", {"name": f"Holder {i}", "privacy_proxy": i < 5})
        for i in range(world.n_registrants)
    ]
    nodes += [
        make.node("Operator", f"op{i}", {"sector": SECTORS[i % 7]})
        for i in range(world.n_operators)
    ]
    nodes += [
        make.node("LabelSource", name, {"kind": kind})
        for name, kind in (
            ("feed:a", "feed"),
            ("feed:b", "feed"),
            ("feed:c", "feed"),
            ("allowlist:top", "allowlist"),
            ("analyst:x", "analyst"),
        )
    ]
    rels = [
        make.rel("ANNOUNCED_BY", world.cidr(p), world.asn(p % world.n_asns))
        for p in range(world.n_prefixes)
    ]
    return nodes, rels


def _addresses(world: World, make: _Maker) -> tuple[list[NodeRow], list[RelRow]]:
    """Public addresses (some scored, some failed) in their prefixes, and internal hosts."""
    rng = world.rng
    nodes: list[NodeRow] = []
    rels: list[RelRow] = []
    for i in range(world.n_ips):
        props: dict[str, Any] = {"version": 4, **make.scored()}
        if rng.random() < 0.01:
            props.update(enrich_failures=["rdap-ip: timeout"], enrich_failing=True)
        nodes.append(make.node("IPAddress", world.ip(i), props))
        rels.append(make.rel("IN_PREFIX", world.ip(i), world.cidr(world.prefix_of(i))))
    for i in range(world.n_internal):
        nodes.append(make.node("IPAddress", f"10.0.{i >> 8}.{i & 255}", {"version": 4}))
    return nodes, rels


def _domains(world: World, make: _Maker) -> Iterator[Stage]:
    """Name servers and domains with their resolutions, registrations and labels."""
    rng = world.rng
    nodes = [
        make.node("Domain", world.ns(i), {"registrable": world.ns(i)}) for i in range(world.n_ns)
    ]
    rels: list[RelRow] = []
    for i in range(world.n_domains):
        name = world.domain(i)
        props = {"registrable": name, "tld": "test", **make.scored()}
        if rng.random() < 0.3:
            props["privacy_proxy"] = True
        if rng.random() < 0.01:
            props.update(
                enrich_state="failed", enrich_failures=["rdap-domain: timeout"], enrich_failing=True
            )
        nodes.append(make.node("Domain", name, props))
        flux = rng.random() < 0.01
        for _ in range(8 if flux else rng.choice((1, 1, 1, 2, 3))):
            ttl = 60 if flux else rng.choice((300, 3600, 86400))
            ip = world.ip(world.skewed(world.n_ips))
            rels.append(
                make.rel("RESOLVES_TO", name, ip, {"rtype": "A", "ttl": ttl, "min_ttl": ttl})
            )
        for _ in range(2):
            ns = world.ns(world.skewed(world.n_ns))
            rels.append(make.rel("NAME_SERVER", name, ns, {"ttl": 86400, "min_ttl": 86400}))
        rels.append(make.rel("REGISTERED_WITH", name, f"r{world.skewed(world.n_registrars)}"))
        holder = (
            rng.randrange(5) if props.get("privacy_proxy") else rng.randrange(world.n_registrants)
        )
        rels.append(make.rel("REGISTERED_BY", name, f"h{holder}"))
        if rng.random() < 0.05:
            verdict = "benign" if rng.random() < 0.3 else "malicious"
            source = (
                "allowlist:top"
                if verdict == "benign"
                else rng.choice(("feed:a", "feed:b", "feed:c"))
            )
            rels.append(make.rel("LABELS_DOMAIN", source, name, {"verdict": verdict}))
        if len(rels) >= 200_000:
            yield "domains", nodes, rels
            nodes, rels = [], []
    yield "domains", nodes, rels


def _reports_flows_labels_requests(
    world: World, make: _Maker
) -> tuple[list[NodeRow], list[RelRow]]:
    """Incident reports and the indicators they name, flows, analyst labels, approvals."""
    rng = world.rng
    nodes: list[NodeRow] = []
    rels: list[RelRow] = []
    for r in range(world.n_reports):
        report = f"R-{r}"
        reported = world.day()
        nodes.append(
            NodeRow(
                "IncidentReport",
                report,
                {"sector": SECTORS[r % 7], "reported_at": reported, "confirmed": r % 3 == 0},
                "bench",
                reported,
                reported,
                make.now,
            )
        )
        rels.append(make.rel("SUBMITTED_BY", report, f"op{r % world.n_operators}"))
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.5:
                rels.append(
                    make.rel(
                        "REPORTED_IN",
                        world.domain(rng.randrange(world.n_domains)),
                        report,
                        {"role": "c2"},
                    )
                )
            else:
                ip = world.ip(world.skewed(world.n_ips))
                props = {"role": "c2", "dst_port": 443, "protocol": "tcp"}
                rels.append(make.rel("IP_REPORTED_IN", ip, report, props))
    for i in range(world.n_internal * 10):
        src = f"10.0.{(i % world.n_internal) >> 8}.{(i % world.n_internal) & 255}"
        flow = {
            "dst_port": rng.choice((443, 80, 53)),
            "protocol": "tcp",
            "packets": 10,
            "bytes": 999,
            "flows": 1,
        }
        rels.append(make.rel("CONTACTED", src, world.ip(world.skewed(world.n_ips)), flow))
    for i in range(world.n_ips // 50):
        rels.append(make.rel("LABELS_IP", "analyst:x", world.ip(i * 50), {"verdict": "malicious"}))
    for q in range(world.n_requests):
        target = world.domain(q * 97 % world.n_domains)
        requested = world.day()
        props = {
            "target": target,
            "status": "open" if q % 2 else "approved",
            "requested_at": requested,
        }
        nodes.append(
            NodeRow("ApprovalRequest", f"REQ-{q}", props, "bench", requested, requested, make.now)
        )
        rels.append(make.rel("CONCERNS_DOMAIN", f"REQ-{q}", target))
    return nodes, rels


def generate(world: World) -> Iterator[Stage]:
    """Stages of rows, each small enough to hold in memory."""
    make = _Maker(world, datetime.now(UTC))
    nodes, rels = _registries(world, make)
    yield "registries", nodes, rels
    nodes, rels = _addresses(world, make)
    yield "addresses", nodes, rels
    yield from _domains(world, make)
    nodes, rels = _reports_flows_labels_requests(world, make)
    yield "reports, flows, labels, requests", nodes, rels


def typical_params(world: World) -> dict[str, dict[str, Any]]:
    """Parameter values an analyst would use, picked from the generated graph."""
    domain = world.domain(1)
    return {
        "pivot-shared-name-server": {"domain": domain},
        "pivot-shared-registrant": {"domain": domain},
        "pivot-shared-address": {"domain": domain},
        "pivot-shared-prefix": {"domain": domain},
        "pivot-shared-asn": {"domain": domain},
        "hosting-cohosted-names": {"address": world.ip(3)},
        "hosting-as-contents": {"asn": world.asn(1)},
        "hosting-prefix-contents": {"cidr": world.cidr(1)},
        "reports-report-indicators": {"report_id": "R-1"},
        "reports-by-sector": {"window_start": SINCE - timedelta(days=30), "window_end": SINCE},
        "changes-changed-since": {"since": SINCE},
        "changes-resolutions-since": {"since": SINCE},
        "paths-evidence-path": {
            "source_indicator": domain,
            "target_indicator": world.domain(world.n_domains // 2),
        },
    }


def load(graph: Graph, world: World) -> int:
    writer = GraphWriter(graph)
    total = 0
    for stage, nodes, rels in generate(world):
        began = time.perf_counter()
        done = 0

        def tick(n: int, stage: str = stage) -> None:
            nonlocal done
            done += n
            print(f"  {stage}: {done} rows written", end="\r", flush=True)

        writer.load(nodes, rels, progress=tick)
        total += len(nodes)
        print(
            f"  {stage}: {len(nodes)} nodes, {len(rels)} relationships "
            f"in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
    return total


def server_side(graph: Graph, query: Query, given: dict[str, Any]) -> Callable[[], Any]:
    """The query run inside ``CALL { } RETURN count(*)``: the same plan on the server, but one
    row back, so its time leaves out sending and decoding the result rows."""
    cypher = f"CALL () {{\n{query.cypher}\n}}\nRETURN count(*) AS rows"
    bound = bind_params(query, given)
    return lambda: run_read_only(graph, cypher, bound, query_id=query.id, timeout=300)


def roundtrip(graph: Graph) -> None:
    """The baseline every query is compared with: a trivial statement's round trip."""
    graph.read("RETURN 1 AS one")


def time_library(
    graph: Graph,
    params: dict[str, dict[str, Any]],
    base_p95: float,
    warmup: int,
    runs: int,
    directory: Path | None = None,
) -> dict[str, Any]:
    """p50, p95 and the p95's ratio to the round trip's for every query of a library, as an
    analyst's ``run_query`` sees them and (``server_``) without the result rows' transfer;
    first pages also against round trips taken alternately with them."""
    figures: dict[str, Any] = {}
    for query in list_queries(directory):
        given = params.get(query.id, {})
        rows: list[int] = []

        def once(
            query_id: str = query.id, given: dict[str, Any] = given, rows: list[int] = rows
        ) -> None:
            found = run_query(graph, query_id, given, timeout=300, directory=directory)
            rows.append(len(found.rows))

        def first_page(query_id: str = query.id, given: dict[str, Any] = given) -> None:
            run_query_page(graph, query_id, given, timeout=300, directory=directory)

        samples = timed(once, warmup, runs)
        page, beside = timed_beside(first_page, lambda: roundtrip(graph), warmup, runs)
        server = timed(server_side(graph, query, given), warmup, runs)
        page_p95, beside_p95 = percentile(page, 0.95), percentile(beside, 0.95)
        p95, server_p95 = percentile(samples, 0.95), percentile(server, 0.95)
        ratio = round(p95 / base_p95, 1)
        figures[query.id] = {
            "p50_ms": round(median(samples), 3),
            "p95_ms": round(p95, 3),
            "p95_ratio_vs_roundtrip": ratio,
            "ratio_p95": ratio,
            "rows": rows[-1],
            "server_p50_ms": round(median(server), 3),
            "server_p95_ms": round(server_p95, 3),
            "server_ratio_p95": round(server_p95 / base_p95, 1),
            "page_p50_ms": round(median(page), 3),
            "page_p95_ms": round(page_p95, 3),
            "page_ratio_p95": round(page_p95 / base_p95, 1),
            "page_roundtrip_p95_ms": round(beside_p95, 3),
            "page_ratio_p95_beside": round(page_p95 / beside_p95, 1),
        }
        print(
            f"{query.id:<38} p50 {median(samples):9.2f} ms  p95 {p95:9.2f} ms  "
            f"ratio_p95 {ratio:7.1f}  server p95 {server_p95:8.2f} ms  "
            f"ratio {server_p95 / base_p95:7.1f}  page p95 {page_p95:8.2f} ms  "
            f"ratio {page_p95 / base_p95:7.1f}  rows {rows[-1]}",
            flush=True,
        )
    return figures


def worst(figures: dict[str, Any], field: str = "ratio_p95") -> tuple[float, list[str]]:
    """The largest ``field`` ratio of the queries in ``figures``, and the ids over ten times."""
    ratios = {k: v[field] for k, v in figures.items() if k != "roundtrip" and isinstance(v, dict)}
    return max(ratios.values()), sorted(k for k, r in ratios.items() if r > 10)


def add_worst(figures: dict[str, Any]) -> None:
    """The summary fields: worst ratios and the queries over ten times the round trip."""
    figures["worst_ratio_p95"], figures["queries_over_10x"] = worst(figures)
    figures["worst_server_ratio_p95"], figures["queries_over_10x_server"] = worst(
        figures, "server_ratio_p95"
    )
    figures["worst_page_ratio_p95"], figures["queries_over_10x_page"] = worst(
        figures, "page_ratio_p95"
    )
    figures["worst_page_ratio_p95_beside"], figures["queries_over_10x_page_beside"] = worst(
        figures, "page_ratio_p95_beside"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--compare", type=Path, help="also time the query library in this directory"
    )
    parser.add_argument(
        "--compare-runs", type=int, help="measured runs of each compared query (default: --runs)"
    )
    parser.add_argument("--keep", action="store_true", help="leave the graph in place when done")
    parser.add_argument("--reuse", action="store_true", help="time the graph a --keep run left")
    args = parser.parse_args(argv)

    graph = bench_graph()
    world = World(args.nodes, args.seed)
    print(f"server {graph.server_version()}; generating about {args.nodes} nodes", flush=True)
    began = time.perf_counter()
    written = 0
    if not args.reuse:
        wipe(graph)
        apply_schema(graph)
        written = load(graph, world)
    counts = graph.read("MATCH (n) RETURN count(n) AS n")[0]["n"]
    rels = graph.read("MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
    print(
        f"graph: {counts} nodes ({written} node rows), {rels} relationships, "
        f"loaded in {time.perf_counter() - began:.1f} s",
        flush=True,
    )

    figures: dict[str, Any] = {}
    burst = timed(lambda: roundtrip(graph), args.warmup * 10, args.runs * 10)
    base_p95 = percentile(burst, 0.95)
    figures["roundtrip"] = {
        "p50_ms": round(median(burst), 3),
        "p95_ms": round(base_p95, 3),
        "p95_ratio_vs_roundtrip": 1.0,
        "ratio_p95": 1.0,
    }
    params = typical_params(world)
    figures.update(time_library(graph, params, base_p95, args.warmup, args.runs))
    add_worst(figures)
    if args.compare:
        print(f"library in {args.compare}:", flush=True)
        runs = args.compare_runs or args.runs
        compared = time_library(graph, params, base_p95, min(args.warmup, runs), runs, args.compare)
        add_worst(compared)
        figures["compare"] = compared
    figures["nodes"] = counts
    if not args.keep:
        wipe(graph)
    graph.close()
    print(f"peak RSS {peak_rss_mb()} MB; nodes {counts}", flush=True)
    emit(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
