"""The offline sandbox over real protocols: nsd, the RDAP server and the WHOIS server.

One sandbox serves, for the whole module, the recorded real answers (shared fixtures folder)
plus a few synthetic records and injected faults written here. Tests that need the recorded
answers skip when the folder is absent.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import psutil
import pytest
import requests
from ipwhois.asn import IPASN
from ipwhois.net import Net

from enrichment.sandbox.fixtures import default_fixtures_dir, install_recorded_answers
from enrichment.sandbox.manager import Sandbox, unresponsive_port

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(shutil.which("nsd", path="/usr/sbin:/usr/bin") is None, reason="needs nsd"),
]

FIXTURES = default_fixtures_dir()
HAVE_FIXTURES = (FIXTURES / "PROVENANCE.md").exists()
needs_fixtures = pytest.mark.skipif(
    not HAVE_FIXTURES,
    reason=f"recorded answers not found at {FIXTURES} (set ATTRIBUTION_FIXTURES_DIR)",
)

EXAMPLE_ZONE = """\
$TTL 300
@ IN SOA ns.example.test. hostmaster.example.test. 2024010101 3600 600 86400 300
@ IN NS ns.example.test.
ns IN A 127.0.0.1
www 60 IN A 192.0.2.10
www 60 IN AAAA 2001:db8::10
mail IN MX 10 mx.example.test.
"""

ASN_ZONE = """\
$TTL 14400
@ IN SOA ns.sandbox.invalid. hostmaster.sandbox.invalid. 1 3600 600 86400 300
@ IN NS ns.sandbox.invalid.
AS15169 IN TXT "15169 | US | arin | 2000-03-30 | GOOGLE, US"
"""

# A synthetic /24 inside Google's recorded 74.125.0.0/16, to show that the smallest wins.
SMALL_NET = {
    "objectClassName": "ip network",
    "handle": "TEST-74-125-225",
    "startAddress": "74.125.225.0",
    "endAddress": "74.125.225.255",
    "ipVersion": "v4",
    "name": "SANDBOX-SMALLER",
}

JP_WHOIS = "[ JPRS database provides information on network administration. ]\r\n" + (
    "Domain Information:\r\n[Domain Name]                   EXAMPLE.JP\r\n"
)

FAULTS = {
    "rdap": [
        {"path": "/ip/198.51.100.9", "kind": "status", "status": 429, "retry_after": 2},
        {"path": "/autnum/2914", "kind": "status", "status": 429, "retry_after": 1, "times": 1},
        {"path": "/autnum/64511", "kind": "status", "status": 500},
        {"path": "/domain/broken-json.test", "kind": "malformed"},
        {"path": "/entity/SLOW-HANDLE", "kind": "delay", "seconds": 3},
    ],
    "whois": [
        {"query": "cut.jp", "kind": "truncate", "keep_bytes": 40},
        {"query": "reset.jp", "kind": "reset", "keep_bytes": 10},
        {"query": "slow.jp", "kind": "delay", "seconds": 3},
    ],
    "dns": {"servfail_zones": ["servfail.test"]},
}


def build_world(root: Path) -> Path:
    """The module's data directory: recorded answers (when present) plus synthetic extras."""
    if HAVE_FIXTURES:
        install_recorded_answers(FIXTURES, root)
    zones = root / "dns" / "zones"
    zones.mkdir(parents=True, exist_ok=True)
    (zones / "example.test.zone").write_text(EXAMPLE_ZONE)
    (zones / "asn.cymru.com.zone").write_text(ASN_ZONE)
    (root / "rdap" / "ip").mkdir(parents=True, exist_ok=True)
    (root / "rdap" / "ip" / "test-74-125-225.json").write_text(json.dumps(SMALL_NET))
    for name in ("example.jp", "cut.jp", "reset.jp", "slow.jp"):
        path = root / "whois" / "domain" / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(JP_WHOIS.replace("EXAMPLE.JP", name.upper()).encode())
    (root / "whois" / "rdap-less-tlds.txt").write_text("# no RDAP for .jp\njp\n")
    (root / "faults.json").write_text(json.dumps(FAULTS, indent=2))
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def sandbox(
    world: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Sandbox, dict[str, Any]]]:
    box = Sandbox(tmp_path_factory.mktemp("state"))
    endpoints = box.up(world)
    try:
        yield box, endpoints
    finally:
        box.down()
    assert not _survivors(endpoints)


def _survivors(endpoints: dict[str, Any]) -> list[int]:
    """Processes still running from the sandbox's process groups."""
    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            group = psutil.os.getpgid(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
        if group in endpoints["pids"].values() and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc.pid)
    return found


def whois(endpoints: dict[str, Any], query: str, timeout: float = 5.0) -> bytes:
    with socket.create_connection(
        (endpoints["whois_host"], endpoints["whois_port"]), timeout=timeout
    ) as conn:
        conn.sendall(query.encode())
        chunks = []
        while chunk := conn.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def resolver(endpoints: dict[str, Any]) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = [endpoints["dns_host"]]
    res.port = endpoints["dns_port"]
    res.lifetime = 3.0
    return res


# --- lifecycle ---------------------------------------------------------------------------------


def test_up_status_idempotent_down_leaves_nothing(world: Path, tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "state")
    endpoints = box.up(world)
    try:
        assert set(endpoints) == {
            "dns_host",
            "dns_port",
            "rdap_base_url",
            "rdap_bootstrap_url",
            "whois_host",
            "whois_port",
            "data_dir",
            "pids",
        }
        assert endpoints["dns_host"] == endpoints["whois_host"] == "127.0.0.1"
        port = int(endpoints["rdap_base_url"].rsplit(":", 1)[1].rstrip("/"))
        assert endpoints["rdap_base_url"] == f"http://127.0.0.1:{port}/"
        assert endpoints["rdap_bootstrap_url"] == f"http://127.0.0.1:{port}/bootstrap/"
        assert endpoints["data_dir"] == str(world.resolve())
        assert set(endpoints["pids"]) == {"nsd", "servers"}
        stored = json.loads((tmp_path / "state" / "sandbox.json").read_text())
        assert stored == endpoints
        status = box.status()
        assert status["up"] is True
        assert status["answering"] == {"dns": True, "rdap": True, "whois": True}
        assert box.up(world) == endpoints  # idempotent: same processes, same ports
        assert Sandbox(tmp_path / "state").status()["up"] is True
    finally:
        assert box.down() is True
    assert not _survivors(endpoints)
    for pid in endpoints["pids"].values():
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    assert box.status() == {"up": False, "endpoints": None, "processes": {}, "answering": {}}
    assert box.down() is False


def test_status_tells_the_truth_after_a_crash(world: Path, tmp_path: Path) -> None:
    box = Sandbox(tmp_path / "state")
    endpoints = box.up(world)
    try:
        psutil.Process(endpoints["pids"]["servers"]).kill()
        psutil.Process(endpoints["pids"]["servers"]).wait(5)
        status = box.status()
        assert status["up"] is False
        assert status["processes"]["servers"]["alive"] is False
        assert status["processes"]["nsd"]["alive"] is True
        assert status["answering"] == {"dns": True, "rdap": False, "whois": False}
        again = box.up(world)  # a half-dead sandbox is cleared and started afresh
        assert box.status()["up"] is True
        assert again["pids"] != endpoints["pids"]
    finally:
        box.down()
    assert not _survivors(endpoints)


def test_up_reports_a_broken_zone_with_nsd_message(tmp_path: Path) -> None:
    zones = tmp_path / "world" / "dns" / "zones"
    zones.mkdir(parents=True)
    (zones / "bad.test.zone").write_text(
        "$TTL 300\n@ IN SOA ns. host. 1 2 3 4 5\nx IN A 300.1.1.1\n"
    )
    with pytest.raises(RuntimeError, match=r"zone bad\.test .* rejected by nsd-checkzone"):
        Sandbox(tmp_path / "state").up(tmp_path / "world")
    assert not (tmp_path / "state" / "sandbox.json").exists()


# --- DNS from nsd ------------------------------------------------------------------------------


def test_dns_answers_exact_records_and_ttls(sandbox: tuple[Sandbox, dict[str, Any]]) -> None:
    _, endpoints = sandbox
    res = resolver(endpoints)
    a = res.resolve("www.example.test", "A")
    assert [r.to_text() for r in a] == ["192.0.2.10"]
    assert a.rrset is not None and a.rrset.ttl == 60
    aaaa = res.resolve("www.example.test", "AAAA")
    assert [r.to_text() for r in aaaa] == ["2001:db8::10"]
    mx = res.resolve("mail.example.test", "MX")
    assert [r.to_text() for r in mx] == ["10 mx.example.test."]
    assert mx.rrset is not None and mx.rrset.ttl == 300
    with pytest.raises(dns.resolver.NXDOMAIN):
        res.resolve("nope.example.test", "A")
    asn = res.resolve("AS15169.asn.cymru.com", "TXT")
    assert [r.to_text() for r in asn] == ['"15169 | US | arin | 2000-03-30 | GOOGLE, US"']
    assert asn.rrset is not None and asn.rrset.ttl == 14400


@needs_fixtures
def test_dns_cymru_origin_longest_prefix(sandbox: tuple[Sandbox, dict[str, Any]]) -> None:
    _, endpoints = sandbox
    res = resolver(endpoints)
    v4 = res.resolve("229.225.125.74.origin.asn.cymru.com", "TXT")
    assert [r.to_text() for r in v4] == ['"15169 | 74.125.225.0/24 | US | arin | 2007-03-13"']
    assert v4.rrset is not None and v4.rrset.ttl == 14400
    # 210.107.0.0/17 is published as 128 /24 wildcards.
    kr = res.resolve("1.127.107.210.origin.asn.cymru.com", "TXT")
    assert [r.to_text() for r in kr] == ['"3786 | 210.107.0.0/17 | KR | apnic |"']
    with pytest.raises(dns.resolver.NXDOMAIN):
        res.resolve("1.128.107.210.origin.asn.cymru.com", "TXT")
    v6 = res.resolve("0.b.7.0.8.f.3.4.1.0.0.2.origin6.asn.cymru.com", "TXT")
    assert [r.to_text() for r in v6] == ['"37578 | 2001:43f8:7b0::/48 | KE | afrinic | 2013-03-22"']


@needs_fixtures
@pytest.mark.parametrize(
    "address", ["74.125.225.229", "62.239.237.1", "2001:4860:4860::8888", "2a00:2381:ffff::1"]
)
def test_ipwhois_dns_lookup_matches_the_recording(
    sandbox: tuple[Sandbox, dict[str, Any]], address: str
) -> None:
    _, endpoints = sandbox
    net = Net(address, timeout=3)
    net.dns_resolver = resolver(endpoints)
    result = IPASN(net).lookup(asn_methods=["dns"], get_asn_description=True)
    recorded = json.loads((FIXTURES / "ipwhois" / "rdap.json").read_text())[address]["asn_data"]
    assert {k: result[k] for k in recorded} == recorded


# --- RDAP --------------------------------------------------------------------------------------


@needs_fixtures
def test_rdap_smallest_enclosing_network_wins(
    sandbox: tuple[Sandbox, dict[str, Any]], world: Path
) -> None:
    _, endpoints = sandbox
    base = endpoints["rdap_base_url"]
    google = (world / "rdap" / "ip" / "74.125.225.229.json").read_bytes()
    smaller = (world / "rdap" / "ip" / "test-74-125-225.json").read_bytes()
    answer = requests.get(base + "ip/74.125.225.229", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/rdap+json"
    assert answer.content == smaller
    assert requests.get(base + "ip/74.125.1.1", timeout=5).content == google
    assert requests.get(base + "ip/74.125.0.0/16", timeout=5).content == google
    # Registry path prefixes and proxy-style absolute targets reach the same data.
    assert requests.get(base + "registry/ip/74.125.9.9", timeout=5).content == google
    arin = (FIXTURES / "20c-rdap" / "rdap" / "ip" / "206.41.110.0.input").read_bytes()
    assert requests.get(base + "rdap/ip/206.41.110.77", timeout=5).content == arin
    ripe_v6 = (world / "rdap" / "ip" / "2a00:2381:ffff::1.json").read_bytes()
    assert requests.get(base + "ip/2a00:2381:ffff::abcd", timeout=5).content == ripe_v6


@needs_fixtures
def test_rdap_objects_are_served_byte_for_byte(sandbox: tuple[Sandbox, dict[str, Any]]) -> None:
    _, endpoints = sandbox
    base = endpoints["rdap_base_url"]
    rdap = FIXTURES / "20c-rdap" / "rdap"
    for path, source in [
        ("autnum/63311", rdap / "autnum" / "63311.input"),
        ("autnum/AS9269", rdap / "autnum" / "9269.input"),
        ("domain/20C.com", rdap / "domain" / "20c.com.input"),
        ("entity/CLUE1-RIPE", rdap / "entity" / "CLUE1-RIPE.input"),
        ("entity/WOL-AFRINIC", rdap / "rdap" / "entity" / "WOL-AFRINIC.input"),
    ]:
        answer = requests.get(base + path, timeout=5)
        assert (path, answer.status_code, answer.content) == (path, 200, source.read_bytes())
    recorded = (FIXTURES / "ipwhois" / "rdap.json").read_text()
    served = requests.get(base + "ip/200.57.141.161", timeout=5).text
    assert served in recorded  # the exact recorded bytes, not a re-serialisation


def test_rdap_404_and_400_bodies(sandbox: tuple[Sandbox, dict[str, Any]]) -> None:
    _, endpoints = sandbox
    base = endpoints["rdap_base_url"]
    missing = requests.get(base + "domain/nope.test", timeout=5)
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/rdap+json"
    assert missing.json() == {
        "rdapConformance": ["rdap_level_0"],
        "errorCode": 404,
        "title": "Not Found",
        "description": ["no domain object for nope.test"],
    }
    assert requests.get(base + "ip/192.0.2.1", timeout=5).json()["errorCode"] == 404
    bad = requests.get(base + "ip/not-an-address", timeout=5)
    assert (bad.status_code, bad.json()["description"]) == (
        400,
        ["not an IP address or prefix: not-an-address"],
    )


@needs_fixtures
def test_rdap_bootstrap_points_everything_at_the_sandbox(
    sandbox: tuple[Sandbox, dict[str, Any]],
) -> None:
    _, endpoints = sandbox
    base, boot = endpoints["rdap_base_url"], endpoints["rdap_bootstrap_url"]

    def services(name: str) -> list[Any]:
        doc = requests.get(boot + name, timeout=5).json()
        assert doc["version"] == "1.0"
        return list(doc["services"])

    assert services("dns.json") == [[["com", "test"], [base]]]
    assert services("asn.json") == [
        [
            [
                "2515-2515",
                "2914-2914",
                "8283-8283",
                "9269-9269",
                "37271-37271",
                "49037-49037",
                "53170-53170",
                "61399-61399",
                "63311-63311",
                "205697-205697",
                "205726-205726",
                "206050-206050",
            ],
            [base],
        ]
    ]
    assert services("ipv4.json") == [
        [
            [
                "62.239.237.0/24",
                "74.125.0.0/16",
                "74.125.225.0/24",
                "196.11.239.0/24",
                "196.11.240.0/22",
                "196.11.244.0/23",
                "196.11.246.0/24",
                "200.57.141.161/32",
                "206.41.110.0/24",
                "210.107.0.0/17",
            ],
            [base],
        ]
    ]
    v6 = services("ipv6.json")[0][0]
    assert "2001:4860::/32" in v6 and "2a00:2381:ffff::/64" in v6


# --- WHOIS -------------------------------------------------------------------------------------


def test_whois_domain_answers(sandbox: tuple[Sandbox, dict[str, Any]], world: Path) -> None:
    _, endpoints = sandbox
    recorded = (world / "whois" / "domain" / "example.jp.txt").read_bytes()
    assert whois(endpoints, "example.jp\r\n") == recorded
    assert whois(endpoints, "EXAMPLE.JP/e\r\n") == recorded
    assert whois(endpoints, "unknown.jp\r\n") == b'No match for "UNKNOWN.JP".\r\n'


@needs_fixtures
def test_whois_cymru_answers(sandbox: tuple[Sandbox, dict[str, Any]]) -> None:
    _, endpoints = sandbox
    header = (
        "AS      | IP               | BGP Prefix          | CC | Registry | Allocated  | AS Name"
    )
    row = (
        "15169   | 74.125.225.229   | 74.125.225.0/24     | US | arin     | 2007-03-13 | GOOGLE, US"
    )
    assert whois(endpoints, " -v 74.125.225.229\r\n").decode() == f"{header}\n{row}\n"
    ipwhois_form = whois(endpoints, " -r -a -c -p -f 74.125.225.229\r\n").decode()
    assert ipwhois_form == f"{row}\n"
    assert IPASN(Net("74.125.225.229")).parse_fields_whois(ipwhois_form) == {
        "asn_registry": "arin",
        "asn": "15169",
        "asn_cidr": "74.125.225.0/24",
        "asn_country_code": "US",
        "asn_date": "2007-03-13",
        "asn_description": "GOOGLE, US",
    }
    assert whois(endpoints, "-v AS15169\r\n").decode() == (
        "AS      | CC | Registry | Allocated  | AS Name\n"
        "15169   | US | arin     | 2000-03-30 | GOOGLE, US\n"
    )
    assert whois(endpoints, "AS15169\r\n").decode() == "AS Name\nGOOGLE, US\n"
    bulk = whois(endpoints, "begin\nverbose\n62.239.237.1\n192.0.2.1\nend\n").decode()
    assert bulk == (
        "Bulk mode; whois.cymru.com [2000-01-01 00:00:00 +0000]\n"
        f"{header}\n"
        "2856    | 62.239.237.1     | 62.239.0.0/16       | GB | ripencc  | 2001-01-02 | NA\n"
        "NA      | 192.0.2.1        | NA                  | NA | NA       | NA         | NA\n"
    )
    # Two recordings exist for AS15169; the installer keeps the first address in sorted order.
    radb = json.loads((FIXTURES / "ipwhois" / "asn.json").read_text())["2001:4860:4860::8888"]
    assert whois(endpoints, " -i origin AS15169\r\n").decode() == radb["response"]


# --- injected faults ---------------------------------------------------------------------------


def test_rdap_faults(sandbox: tuple[Sandbox, dict[str, Any]]) -> None:
    _, endpoints = sandbox
    base = endpoints["rdap_base_url"]
    limited = requests.get(base + "ip/198.51.100.9", timeout=5)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    assert limited.json()["errorCode"] == 429
    assert requests.get(base + "registry/ip/198.51.100.9", timeout=5).status_code == 429
    failing = requests.get(base + "autnum/64511", timeout=5)
    assert (failing.status_code, "Retry-After" in failing.headers) == (500, False)
    malformed = requests.get(base + "domain/broken-json.test", timeout=5)
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.content)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(base + "entity/SLOW-HANDLE", timeout=0.5)
    assert time.monotonic() - started < 2.5


@needs_fixtures
def test_rdap_fault_with_times_then_recovers(sandbox: tuple[Sandbox, dict[str, Any]]) -> None:
    _, endpoints = sandbox
    base = endpoints["rdap_base_url"]
    first = requests.get(base + "autnum/2914", timeout=5)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "1")
    second = requests.get(base + "autnum/2914", timeout=5)
    source = FIXTURES / "20c-rdap" / "rdap" / "autnum" / "2914.input"
    assert (second.status_code, second.content) == (200, source.read_bytes())


def test_whois_faults(sandbox: tuple[Sandbox, dict[str, Any]], world: Path) -> None:
    _, endpoints = sandbox
    full = (world / "whois" / "domain" / "cut.jp.txt").read_bytes()
    assert whois(endpoints, "cut.jp\r\n") == full[:40]
    received = b""
    address = (endpoints["whois_host"], endpoints["whois_port"])
    with (
        pytest.raises(ConnectionResetError),
        socket.create_connection(address, timeout=5) as conn,
    ):
        conn.sendall(b"reset.jp\r\n")
        time.sleep(0.3)  # the reset can hit either the send or the reads
        while chunk := conn.recv(4096):
            received += chunk
    reset_answer = (world / "whois" / "domain" / "reset.jp.txt").read_bytes()
    assert received in (b"", reset_answer[:10])  # data queued before a reset may be dropped
    with pytest.raises(TimeoutError):
        whois(endpoints, "slow.jp\r\n", timeout=0.5)


def test_dns_servfail_and_timeout(sandbox: tuple[Sandbox, dict[str, Any]]) -> None:
    _, endpoints = sandbox
    query = dns.message.make_query("www.servfail.test", "A")
    answer = dns.query.udp(query, endpoints["dns_host"], port=endpoints["dns_port"], timeout=3)
    assert dns.rcode.to_text(answer.rcode()) == "SERVFAIL"
    with pytest.raises(dns.resolver.NoNameservers):
        resolver(endpoints).resolve("www.servfail.test", "A")
    with unresponsive_port() as port:
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
        dead = dns.resolver.Resolver(configure=False)
        dead.nameservers, dead.port, dead.lifetime = ["127.0.0.1"], port, 0.5
        with pytest.raises(dns.resolver.LifetimeTimeout):
            dead.resolve("www.example.test", "A")
