"""The enrichment worker against a generated world served by the real sandbox.

Two sandboxes serve one generated world (seed 3, size 300): the ``quick`` one injects a few
failures for chosen names, the ``slow`` one delays every IP RDAP answer so that a worker is
still busy when a test signals or kills it. Indicators are written pending through the writer;
the worker runs in-process or as ``attribution enrich`` subprocesses against the test Neo4j.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pending import ingest_pending

from attribution import collector
from attribution.db import Graph
from attribution.identities import parse_indicator
from attribution.worker import (
    CANDIDATES,
    Worker,
    WorkerOptions,
    claim,
    claim_in,
    claim_params,
    count_claimable,
)
from attribution.writer import apply_schema
from enrichment.config import EnrichmentConfig, NodeRetry
from enrichment.sandbox.generate import generate_world
from enrichment.sandbox.manager import Sandbox

REPO = Path(__file__).resolve().parents[2]
ATTRIBUTION = [sys.executable, "-m", "attribution.cli.main"]

DOMAIN = "signal-port.online"
ADDRESS = "27.41.10.148"
TRANSIENT = "silvertravel.com"  # its registration RDAP answers 503
# SERVFAIL for DNS and a body no RDAP client can read: every source fails, and the RDAP
# server's breaker never opens (three 503s in a row for TRANSIENT stay under its five, so no
# other name is refused while two workers run).
BROKEN = "realtygarden22.com"
SLOW_ADDRESSES = ["27.41.10.148", "185.34.214.138", "5.240.166.232", "199.77.28.210"]
WAIT = 60.0


@dataclass(frozen=True)
class World:
    home: Path
    data_dir: Path
    endpoints: dict[str, Any]
    indicators: list[str]

    @property
    def config(self) -> EnrichmentConfig:
        return EnrichmentConfig.from_sandbox(self.endpoints)

    def env(self, neo4j_env: dict[str, str]) -> dict[str, str]:
        return {
            **neo4j_env,
            "ATTRIBUTION_HOME": str(self.home),
            "PYTHONPATH": str(REPO),
        }


def _serve(root: Path, source: Path, faults: dict[str, Any]) -> Iterator[World]:
    data_dir = root / "data"
    shutil.copytree(source, data_dir)
    for zone in faults.get("dns", {}).get("servfail_zones", []):
        (data_dir / "dns" / "zones" / f"{zone}.zone").unlink()
    (data_dir / "faults.json").write_text(json.dumps(faults), encoding="utf-8")
    home = root / "home"
    sandbox = Sandbox(home / "sandbox")
    endpoints = sandbox.up(data_dir)
    try:
        indicators = (data_dir / "indicators.txt").read_text(encoding="utf-8").split()
        yield World(home, data_dir, endpoints, indicators)
    finally:
        sandbox.down()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("nsd") is None and not Path("/usr/sbin/nsd").exists():
        pytest.skip("nsd is not installed")
    out = tmp_path_factory.mktemp("world") / "world"
    generate_world(out, seed=3, size=300)
    return out


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory, generated: Path) -> Iterator[World]:
    faults = {
        "rdap": [
            {"path": f"/domain/{TRANSIENT}", "kind": "status", "status": 503},
            {"path": f"/domain/{BROKEN}", "kind": "malformed"},
        ],
        "dns": {"servfail_zones": [BROKEN]},
    }
    yield from _serve(tmp_path_factory.mktemp("quick"), generated, faults)


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory, generated: Path) -> Iterator[World]:
    # Below the sandbox configuration's 2 s HTTP timeout: slow, but it succeeds.
    faults = {"rdap": [{"path": "/ip/", "prefix": True, "kind": "delay", "seconds": 1.5}]}
    yield from _serve(tmp_path_factory.mktemp("slow"), generated, faults)


def run_worker(graph: Graph, world: World, **options: Any) -> dict[str, Any]:
    opts = WorkerOptions(worker_id="w-test", **options)
    return Worker(graph, world.config, opts).run().as_dict()


def _key(var: str) -> str:
    return (
        f"CASE labels({var})[0] WHEN 'Domain' THEN {var}.name WHEN 'IPAddress' THEN {var}.address "
        f"WHEN 'Prefix' THEN {var}.cidr WHEN 'AutonomousSystem' THEN {var}.asn "
        f"WHEN 'Network' THEN {var}.handle ELSE {var}.key END"
    )


def node_keys(graph: Graph) -> set[tuple[str, object]]:
    rows = graph.read(f"MATCH (n) RETURN labels(n)[0] AS label, {_key('n')} AS key")
    return {(r["label"], r["key"]) for r in rows}


def rel_keys(graph: Graph) -> set[tuple[str, object, object]]:
    rows = graph.read(
        f"MATCH (a)-[r]->(b) RETURN type(r) AS type, {_key('a')} AS a, {_key('b')} AS b"
    )
    return {(r["type"], r["a"], r["b"]) for r in rows}


def states(graph: Graph) -> dict[str, dict[str, Any]]:
    rows = graph.read(
        "MATCH (n) WHERE n:Domain OR n:IPAddress RETURN coalesce(n.name, n.address) AS key, "
        "n.enrich_state AS state, n.lease_owner AS owner, n.enrich_failures AS failures, "
        "n.enrich_depth AS depth, n.enriched_at IS NOT NULL AS enriched"
    )
    return {r["key"]: r for r in rows}


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


EXPECTED_NODES = {
    ("Domain", DOMAIN),
    ("IPAddress", "31.17.248.248"),
    ("Domain", "ns5.hoshidns.jp"),
    ("Domain", "ns6.hoshidns.jp"),
    ("Domain", "hoshidns.jp"),
    ("Domain", "mx2.postbox-mail.com"),
    ("Domain", "postbox-mail.com"),
    ("Registrar", "onyx domain registrar ooo"),
    ("IPAddress", ADDRESS),
    ("Domain", "edge-27-41-10-148.deploy.kumoedge.jp"),
    ("Domain", "kumoedge.jp"),
    ("Prefix", "27.41.0.0/18"),
    ("AutonomousSystem", 139643),
    ("Network", "NET-27-41-0-0-1"),
}


def test_a_domain_and_an_address_become_their_exact_graph(graph: Graph, quick: World) -> None:
    ingest_pending(graph, [DOMAIN, ADDRESS])
    summary = run_worker(graph, quick, max_depth=0)
    assert summary["claimed_keys"] == [f"domain:{DOMAIN}", f"ip:{ADDRESS}"]
    assert (summary["done"], summary["failed"], summary["discovered"]) == (2, 0, 0)
    stages = summary["stage_seconds"]
    assert sorted(stages) == ["claim", "enrich", "rows", "write", "write_finish", "write_summaries"]
    # Every stage that waits on a server took time; turning two indicators' results into rows
    # is pure Python and can round to 0.0 s in the summary's milliseconds.
    assert min(v for k, v in stages.items() if k != "rows") > 0
    assert stages["rows"] >= 0
    assert summary["sources"] == {
        "asn": {"ok": 1},
        "dns": {"ok": 2},
        "domain_registration": {"ok": 1},
        "ip_rdap": {"ok": 1},
    }
    nodes = node_keys(graph)
    # The registrant and the network's holder come from the generated RDAP entities.
    extra = {n for n in nodes - EXPECTED_NODES if n[0] in ("Registrant", "Organization")}
    assert nodes == EXPECTED_NODES | extra
    assert {n[0] for n in extra} <= {"Registrant", "Organization"}
    holder = graph.read(
        "MATCH (:Network {handle: 'NET-27-41-0-0-1'})-[:ALLOCATED_TO]->(o:Organization) "
        "RETURN o.key AS key"
    )
    registrant = graph.read(
        "MATCH (:Domain {name: $d})-[:REGISTERED_BY]->(r:Registrant) RETURN r.key AS key",
        {"d": DOMAIN},
    )
    expected_rels = {
        ("RESOLVES_TO", DOMAIN, "31.17.248.248"),
        ("NAME_SERVER", DOMAIN, "ns5.hoshidns.jp"),
        ("NAME_SERVER", DOMAIN, "ns6.hoshidns.jp"),
        ("MAIL_SERVER", DOMAIN, "mx2.postbox-mail.com"),
        ("REGISTERED_WITH", DOMAIN, "onyx domain registrar ooo"),
        ("SUBDOMAIN_OF", "ns5.hoshidns.jp", "hoshidns.jp"),
        ("SUBDOMAIN_OF", "ns6.hoshidns.jp", "hoshidns.jp"),
        ("SUBDOMAIN_OF", "mx2.postbox-mail.com", "postbox-mail.com"),
        ("REVERSE_NAME", ADDRESS, "edge-27-41-10-148.deploy.kumoedge.jp"),
        ("SUBDOMAIN_OF", "edge-27-41-10-148.deploy.kumoedge.jp", "kumoedge.jp"),
        ("IN_PREFIX", ADDRESS, "27.41.0.0/18"),
        ("ANNOUNCED_BY", "27.41.0.0/18", 139643),
        ("IN_NETWORK", ADDRESS, "NET-27-41-0-0-1"),
    }
    expected_rels |= {("ALLOCATED_TO", "NET-27-41-0-0-1", r["key"]) for r in holder}
    expected_rels |= {("REGISTERED_BY", DOMAIN, r["key"]) for r in registrant}
    assert rel_keys(graph) == expected_rels

    [domain] = graph.read("MATCH (d:Domain {name: $d}) RETURN d", {"d": DOMAIN})
    props = domain["d"]
    assert props["enrich_state"] == "done"
    assert props["enrich_failures"] == []
    assert "lease_owner" not in props and "lease_expires" not in props
    assert props["nxdomain"] is False
    assert props["txt"] == ["v=spf1 include:_spf.postbox-mail.com ~all"]
    assert (props["soa_mname"], props["soa_serial"]) == ("ns5.hoshidns.jp", 2020102505)
    assert props["min_ttl"] == 86400
    assert sorted(props["source"]) == ["dns", "domain_rdap", "ingest:test"]
    [ns] = graph.read(
        "MATCH (:Domain {name: $d})-[r:NAME_SERVER]->(:Domain {name: 'ns5.hoshidns.jp'}) "
        "RETURN r.source AS source, r.ttl AS ttl",
        {"d": DOMAIN},
    )
    assert sorted(ns["source"]) == ["dns", "domain_rdap"] and ns["ttl"] == 86400
    [asn] = graph.read(
        "MATCH (a:AutonomousSystem {asn: 139643}) "
        "RETURN a.name AS name, a.country AS cc, a.registry AS rir, toString(a.allocated) AS at"
    )
    assert (asn["name"], asn["cc"], asn["rir"]) == ("KUMO-AS Kumo Edge KK, JP", "JP", "apnic")
    assert asn["at"] == "2014-09-29"
    [prefix] = graph.read(
        "MATCH (p:Prefix {cidr: '27.41.0.0/18'}) "
        "RETURN p.country AS cc, p.registry AS rir, toString(p.allocated) AS at"
    )
    assert (prefix["cc"], prefix["rir"], prefix["at"]) == ("JP", "apnic", "2014-09-29")
    [net] = graph.read("MATCH (n:Network {handle: 'NET-27-41-0-0-1'}) RETURN n")
    assert (net["n"]["name"], net["n"]["cidrs"], net["n"]["registry"]) == (
        "KUMO-NET-5",
        ["27.41.0.0/18"],
        "apnic",
    )
    # Enriching again (everything stale) gives the same graph.
    again = run_worker(graph, quick, max_depth=0, stale_after=timedelta(0))
    assert again["claimed"] == 2
    assert node_keys(graph) == nodes
    assert rel_keys(graph) == expected_rels


def test_the_collector_runs_less_often_during_a_run_and_as_before_after(
    graph: Graph, quick: World
) -> None:
    ingest_pending(graph, [DOMAIN, ADDRESS])
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    opts = WorkerOptions(worker_id="w-test", max_depth=0)
    Worker(graph, quick.config, opts, progress=lambda _: during.append(gc.get_threshold())).run()
    assert during and set(during) == {collector.BULK_THRESHOLDS}
    assert gc.get_threshold() == before


def test_discovered_names_and_addresses_are_followed_one_hop(graph: Graph, quick: World) -> None:
    ingest_pending(graph, [DOMAIN])
    summary = run_worker(graph, quick)
    followed = {"31.17.248.248", "ns5.hoshidns.jp", "ns6.hoshidns.jp", "mx2.postbox-mail.com"}
    assert summary["discovered"] == 4
    assert set(summary["claimed_keys"]) == {f"domain:{DOMAIN}", "ip:31.17.248.248"} | {
        f"domain:{n}" for n in followed - {"31.17.248.248"}
    }
    found = states(graph)
    assert {k for k, v in found.items() if v["state"] == "done"} == {DOMAIN} | followed
    assert {k: found[k]["depth"] for k in followed} == dict.fromkeys(followed, 1)
    # What the depth-1 nodes point at is recorded but not queued.
    unqueued = {k for k, v in found.items() if v["state"] is None}
    assert unqueued and "hoshidns.jp" in unqueued


def test_discovery_stops_at_max_discovered(graph: Graph, quick: World) -> None:
    ingest_pending(graph, [DOMAIN])
    summary = run_worker(graph, quick, max_discovered=2)
    assert summary["discovered"] == 2
    assert summary["claimed"] == 3


def test_transient_failures_are_recorded_with_reasons_not_as_no_data(
    graph: Graph, quick: World
) -> None:
    ingest_pending(graph, [TRANSIENT, BROKEN])
    summary = run_worker(graph, quick, max_depth=0)
    assert summary["failed_keys"] == [f"domain:{BROKEN}"]
    assert summary["sources"]["domain_registration"] == {"failed": 2}
    found = states(graph)
    [failure] = found[TRANSIENT]["failures"]
    assert failure.startswith("domain_registration: ") and "503" in failure
    assert found[TRANSIENT]["state"] == "partial"
    assert found[BROKEN]["state"] == "failed" and found[BROKEN]["enriched"]
    assert sorted(f.split(":")[0] for f in found[BROKEN]["failures"]) == [
        "dns",
        "domain_registration",
    ]
    assert "SERVFAIL" in " ".join(found[BROKEN]["failures"])
    [broken] = graph.read(
        "MATCH (d:Domain {name: $d}) RETURN d.nxdomain AS nx, d.created AS created, "
        "COUNT { (d)--() } AS rels",
        {"d": BROKEN},
    )
    assert broken == {"nx": None, "created": None, "rels": 0}
    [transient] = graph.read(
        "MATCH (d:Domain {name: $d}) RETURN d.created AS created, "
        "COUNT { (d)-[:REGISTERED_WITH]->() } AS registrars, "
        "COUNT { (d)-[:RESOLVES_TO]->() } AS addresses",
        {"d": TRANSIENT},
    )
    assert transient["created"] is None and transient["registrars"] == 0
    assert transient["addresses"] == 9


def retry_schedule(graph: Graph, name: str) -> tuple[str, int | None, int | None]:
    """A domain's state, attempts and seconds from its last run to its retry time."""
    [row] = graph.read(
        "MATCH (d:Domain {name: $d}) RETURN d.enrich_state AS state, "
        "d.enrich_attempts AS attempts, "
        "duration.inSeconds(d.enriched_at, d.enrich_retry_at).seconds AS delay",
        {"d": name},
    )
    return row["state"], row["attempts"], row["delay"]


def test_a_transient_failure_leaves_a_node_partial_with_a_backed_off_retry_time(
    graph: Graph, quick: World
) -> None:
    ingest_pending(graph, [TRANSIENT, DOMAIN])

    def run(config: EnrichmentConfig, **options: Any) -> dict[str, Any]:
        opts = WorkerOptions(worker_id="w-test", max_depth=0, **options)
        return Worker(graph, config, opts).run().as_dict()

    first = run(quick.config)
    assert (first["done"], first["partial_keys"], first["not_done"]) == (
        1,
        [f"domain:{TRANSIENT}"],
        1,
    )
    assert retry_schedule(graph, TRANSIENT) == ("partial", 1, 300)
    assert retry_schedule(graph, DOMAIN) == ("done", None, None)
    assert run(quick.config)["claimed"] == 0  # not due for five minutes
    assert count_claimable(graph) == 0
    assert count_claimable(graph, retry_failed=True) == 1
    capped = replace(quick.config, node_retry=NodeRetry(base=60, cap=100))
    assert run(capped, retry_failed=True)["claimed_keys"] == [f"domain:{TRANSIENT}"]
    assert retry_schedule(graph, TRANSIENT) == ("partial", 2, 100)
    at_once = replace(quick.config, node_retry=NodeRetry(base=0, cap=0))
    assert run(at_once, retry_failed=True)["partial"] == 1
    assert retry_schedule(graph, TRANSIENT) == ("partial", 3, 0)
    due = run(quick.config)  # its retry time has come: claimed once, not again in the pass
    assert (due["claimed_keys"], due["partial"]) == ([f"domain:{TRANSIENT}"], 1)
    assert retry_schedule(graph, TRANSIENT) == ("partial", 4, 300 * 2**3)


def test_claims_are_exclusive_and_leases_lapse(graph: Graph) -> None:
    ingest_pending(graph, ["a.example.com", "b.example.com", "192.0.2.1"])
    first = claim(graph, "one", 2, lease=timedelta(seconds=60))
    assert [i.key for i in first.items] == ["ip:192.0.2.1", "domain:a.example.com"]
    second = claim(graph, "two", 10, lease=timedelta(seconds=60))
    assert [i.key for i in second.items] == ["domain:b.example.com"]
    assert claim(graph, "three", 10).items == []
    assert count_claimable(graph) == 0
    graph.run_write(
        "MATCH (n:Domain {name: 'a.example.com'}) SET n.lease_expires = datetime() - duration('PT1S')"
    )
    third = claim(graph, "three", 10)
    assert [i.key for i in third.items] == ["domain:a.example.com"]
    owners = graph.read(
        "MATCH (n:Domain) WHERE n.indicator RETURN n.name AS name, n.lease_owner AS owner"
    )
    assert {r["name"]: r["owner"] for r in owners} == {
        "a.example.com": "three",
        "b.example.com": "two",
    }


def _most_rows(plan: Any) -> int:
    """The most rows any step of a profiled plan produced."""
    return max([plan["rows"], *(_most_rows(child) for child in plan.get("children", []))])


def test_a_claim_reads_the_stale_finished_nodes_not_every_finished_node(graph: Graph) -> None:
    # 5,000 names finished an hour ago and 2 ten days ago: with a week's staleness a claim
    # takes the two, and no step of its plan passes the fresh ones (with this many, a plan left
    # to the planner reads them all through the enriched_at index for the retry condition).
    graph.run_write(
        "UNWIND range(1, 5000) AS i CREATE (:Domain {name: 'fresh' + i + '.example', "
        "enrich_state: 'done', enriched_at: datetime() - duration('PT1H')})"
    )
    graph.run_write(
        "UNWIND range(1, 2) AS i CREATE (:Domain {name: 'old' + i + '.example', "
        "enrich_state: 'done', enriched_at: datetime() - duration('P10D')})"
    )
    now = datetime.now(UTC)
    params = claim_params("probe", 10, timedelta(minutes=5), now - timedelta(days=7), now)
    with graph.session() as session:
        profile = session.run("PROFILE " + CANDIDATES, params).consume().profile
    assert _most_rows(profile) == 2
    taken = claim(graph, "me", 10, stale_after=timedelta(days=7))
    assert [i.key for i in taken.items] == ["domain:old1.example", "domain:old2.example"]


def test_a_graph_without_the_enriched_at_index_still_claims_its_stale_nodes(
    graph: Graph,
) -> None:
    # A graph whose schema predates the enriched_at index (no `schema apply` since): Neo4j
    # ignores the claim's hint for the missing index, and the claim still finds the stale node.
    with graph.session() as session:
        session.run("DROP INDEX domain_enriched_at IF EXISTS").consume()
    try:
        graph.run_write(
            "CREATE (:Domain {name: 'old.example', enrich_state: 'done', "
            "enriched_at: datetime() - duration('P10D')}), "
            "(:Domain {name: 'fresh.example', enrich_state: 'done', enriched_at: datetime()})"
        )
        taken = claim(graph, "me", 10, stale_after=timedelta(days=7))
        assert [i.key for i in taken.items] == ["domain:old.example"]
    finally:
        apply_schema(graph)


def _enrich(world: World, neo4j_env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*ATTRIBUTION, "enrich", "--sandbox", "--json", "--max-depth", "0", *args],
        env=world.env(neo4j_env),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any]]:
    out, err = proc.communicate(timeout=120)
    assert out.strip(), err
    return proc.returncode, json.loads(out.strip().splitlines()[-1])


def test_two_worker_processes_share_one_queue(
    graph: Graph, quick: World, neo4j_env: dict[str, str]
) -> None:
    ingest_pending(graph, quick.indicators)
    keys = {parse_indicator(v).key for v in quick.indicators}
    workers = [
        _enrich(quick, neo4j_env, "--batch", "4", "--worker-id", name) for name in ("w1", "w2")
    ]
    results = [_finish(p) for p in workers]
    claimed = [set(summary["claimed_keys"]) for _, summary in results]
    assert sum(summary["claimed"] for _, summary in results) == len(keys)
    assert claimed[0].isdisjoint(claimed[1])
    assert claimed[0] | claimed[1] == keys
    assert all(summary["lost_leases"] == [] for _, summary in results)
    failed = {k for _, summary in results for k in summary["failed_keys"]}
    assert failed == {f"domain:{BROKEN}"}
    partial = {k for _, summary in results for k in summary["partial_keys"]}
    assert partial == {f"domain:{TRANSIENT}"}
    assert sorted(rc for rc, _ in results) == sorted(
        1 if summary["not_done"] else 0 for _, summary in results
    )
    found = states(graph)
    indicator_states = {found[str(parse_indicator(v).value)]["state"] for v in quick.indicators}
    assert indicator_states == {"done", "partial", "failed"}
    assert all(found[str(parse_indicator(v).value)]["owner"] is None for v in quick.indicators)


def test_a_killed_workers_leases_lapse_and_another_worker_completes_them(
    graph: Graph, slow: World, neo4j_env: dict[str, str]
) -> None:
    ingest_pending(graph, SLOW_ADDRESSES)
    killed = _enrich(slow, neo4j_env, "--lease-seconds", "2", "--worker-id", "doomed")

    def leased_by(owner: str) -> bool:
        found = states(graph)
        return all(found[a]["owner"] == owner for a in SLOW_ADDRESSES)

    try:
        wait_for(lambda: leased_by("doomed"), "the first worker's claim")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=30)
    assert {states(graph)[a]["state"] for a in SLOW_ADDRESSES} == {"leased"}
    wait_for(
        lambda: (
            graph.read(
                "MATCH (n:IPAddress) WHERE n.lease_expires > datetime() RETURN count(n) AS n"
            )[0]["n"]
            == 0
        ),
        "the leases to lapse",
    )
    rc, summary = _finish(_enrich(slow, neo4j_env, "--worker-id", "rescuer"))
    assert rc == 0
    assert summary["claimed_keys"] == sorted(f"ip:{a}" for a in SLOW_ADDRESSES)
    assert summary["done"] == len(SLOW_ADDRESSES)
    found = states(graph)
    assert {(found[a]["state"], found[a]["owner"]) for a in SLOW_ADDRESSES} == {("done", None)}


def test_sigterm_releases_a_watching_workers_claims(
    graph: Graph, slow: World, neo4j_env: dict[str, str]
) -> None:
    ingest_pending(graph, SLOW_ADDRESSES)
    watcher = _enrich(slow, neo4j_env, "--watch", "--poll-seconds", "0.2", "--worker-id", "watcher")
    try:
        wait_for(
            lambda: {states(graph)[a]["owner"] for a in SLOW_ADDRESSES} == {"watcher"},
            "the watcher's claim",
        )
    finally:
        watcher.send_signal(signal.SIGTERM)
    rc, summary = _finish(watcher)
    assert rc == 0
    assert summary["released"] == len(SLOW_ADDRESSES)
    assert summary["done"] == 0
    found = states(graph)
    assert {(found[a]["state"], found[a]["owner"]) for a in SLOW_ADDRESSES} == {("pending", None)}


def test_sandbox_commands_report_status(tmp_path: Path, generated: Path) -> None:
    env = {**os.environ, "ATTRIBUTION_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ATTRIBUTION, "sandbox", *args], env=env, cwd=REPO, capture_output=True, text=True
        )

    assert cli("status").returncode == 3
    up = cli("up", str(generated))
    try:
        assert up.returncode == 0, up.stderr
        assert "ATTRIBUTION_SANDBOX_ENDPOINTS=" in up.stdout
        status = cli("status", "--json")
        assert status.returncode == 0
        assert json.loads(status.stdout)["endpoints"]["data_dir"] == str(generated.resolve())
    finally:
        down = cli("down", "--json")
    assert json.loads(down.stdout) == {"stopped": True}
    assert cli("status").returncode == 3


def test_a_claim_that_waited_for_anothers_locks_skips_what_it_leased(graph: Graph) -> None:
    ingest_pending(graph, ["a.example.com", "b.example.com"])
    now = datetime.now(UTC)
    params = claim_params("first", 10, timedelta(seconds=60), now - timedelta(days=7), now)
    with graph.session() as session:
        first_tx = session.begin_transaction()
        try:
            first = claim_in(first_tx, params)
            assert len(first.items) == 2
            with ThreadPoolExecutor(1) as pool:
                second = pool.submit(claim, graph, "second", 10, lease=timedelta(seconds=60))

                def second_is_blocked() -> bool:
                    rows = graph.read(
                        "SHOW TRANSACTIONS YIELD status, currentQuery "
                        "WHERE status STARTS WITH 'Blocked' RETURN count(*) AS n"
                    )
                    return rows[0]["n"] > 0

                wait_for(second_is_blocked, "the second claim to wait for the first's locks")
                first_tx.commit()
                result = second.result(timeout=WAIT)
        finally:
            if first_tx.closed() is False:
                first_tx.rollback()
    assert result.candidates == 2
    assert result.items == []
    owners = graph.read("MATCH (n:Domain) WHERE n.indicator RETURN DISTINCT n.lease_owner AS owner")
    assert owners == [{"owner": "first"}]


def test_a_batch_slower_than_its_lease_keeps_its_claims(graph: Graph, slow: World) -> None:
    """Each address waits 1.5 s for its RDAP answer, longer than the 0.9 s lease: renewals
    every 0.3 s keep another worker from taking the batch over while it is enriched."""
    ingest_pending(graph, SLOW_ADDRESSES[:2])
    stolen: list[str] = []
    running = True

    def thief() -> None:
        # Wait until the worker holds both, then keep trying to take them.
        while running and {states(graph)[a]["owner"] for a in SLOW_ADDRESSES[:2]} != {"w-test"}:
            time.sleep(0.05)
        while running:
            taken = claim(graph, "thief", 10, lease=timedelta(minutes=5)).items
            stolen.extend(i.key for i in taken)
            time.sleep(0.1)

    with ThreadPoolExecutor(max_workers=1) as pool:
        watching = pool.submit(thief)
        try:
            summary = run_worker(graph, slow, max_depth=0, lease=timedelta(seconds=0.9))
        finally:
            running = False
        watching.result()
    assert stolen == []
    assert summary["lost_leases"] == []
    assert summary["done"] == 2 and summary["lease_renewals"] >= 1
    found = states(graph)
    assert {found[a]["state"] for a in SLOW_ADDRESSES[:2]} == {"done"}
