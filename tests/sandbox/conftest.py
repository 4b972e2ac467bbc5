"""A running loopback sandbox for the enrichment source tests.

The data directory is built in a temporary folder: the shared recorded real answers (installed
with the sandbox's own installer) plus a small hand-written zone, JPRS answer and fault list.
The sandbox is started once per module and always stopped.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from enrichment.sandbox.fixtures import default_fixtures_dir, install_recorded_answers
from enrichment.sandbox.manager import Sandbox

EXAMPLE_ZONE = """$ORIGIN example.test.
$TTL 300
@       3600 IN SOA ns1.example.test. hostmaster.example.test. 2025010101 3600 900 604800 300
@       3600 IN NS  ns1.example.test.
@            IN A    192.0.2.10
@            IN AAAA 2001:db8::10
@            IN MX   10 mail.example.test.
@            IN TXT  "v=spf1 -all"
ns1          IN A    192.0.2.53
mail         IN A    192.0.2.25
www      60  IN CNAME example.test.
"""

REVERSE_ZONE = """$ORIGIN 2.0.192.in-addr.arpa.
$TTL 300
@   3600 IN SOA ns1.example.test. hostmaster.example.test. 2025010101 3600 900 604800 300
@   3600 IN NS  ns1.example.test.
10  120  IN PTR example.test.
"""

ASN_ZONE = """$ORIGIN asn.cymru.com.
$TTL 300
@   3600 IN SOA ns1.example.test. hostmaster.example.test. 2025010101 3600 900 604800 300
@   3600 IN NS  ns1.example.test.
AS15169 IN TXT "15169 | US | arin | 2000-03-30 | GOOGLE - Google LLC, US"
"""

# Written for these tests in the format JPRS documents; not a recorded answer.
JPRS_ANSWER = """[ JPRS database provides information on network administration. Its use is    ]
[ restricted to network administration purposes.                               ]

Domain Information:
[Domain Name]                   EXAMPLE.JP

[Registrant]                    Example Shoji KK

[Name Server]                   ns1.example.jp
[Name Server]                   ns2.example.jp

[Created on]                    2001/02/03
[Expires on]                    2026/02/28
[Status]                        Active
[Last Updated]                  2025/03/01 01:05:04 (JST)
"""

EXAMPLE_DOMAIN_RDAP = {
    "objectClassName": "domain",
    "handle": "EXAMPLE-TEST-1",
    "ldhName": "example.test",
    "status": ["active"],
    "events": [
        {"eventAction": "registration", "eventDate": "2020-01-02T03:04:05Z"},
        {"eventAction": "expiration", "eventDate": "2030-01-02T03:04:05Z"},
    ],
    "nameservers": [{"objectClassName": "nameserver", "ldhName": "ns1.example.test"}],
    "entities": [
        {
            "objectClassName": "entity",
            "handle": "9999",
            "roles": ["registrar"],
            "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Ex Reg"]]],
        },
        {
            "objectClassName": "entity",
            "handle": "R-1",
            "roles": ["registrant"],
            "vcardArray": ["vcard", [["fn", {}, "text", "REDACTED FOR PRIVACY"]]],
        },
    ],
}

FAULTS = {
    "rdap": [
        {"path": "/ip/62.239.237.1", "kind": "status", "status": 429, "retry_after": 0},
        {"path": "/ip/210.107.73.73", "kind": "status", "status": 503, "times": 1},
        {"path": "/ip/200.57.141.161", "kind": "malformed"},
        {"path": "/ip/196.11.240.215", "kind": "delay", "seconds": 3},
    ],
    "whois": [{"query": "cut.jp", "kind": "truncate", "keep_bytes": 40}],
    "dns": {"servfail_zones": ["servfail.test"]},
}


def build_data_dir(root: Path, fixtures: Path) -> Path:
    """Lay out the sandbox data directory used by the source tests."""
    install_recorded_answers(fixtures, root)
    zones = root / "dns" / "zones"
    zones.mkdir(parents=True, exist_ok=True)
    (zones / "example.test.zone").write_text(EXAMPLE_ZONE, encoding="utf-8")
    (zones / "2.0.192.in-addr.arpa.zone").write_text(REVERSE_ZONE, encoding="utf-8")
    (zones / "asn.cymru.com.zone").write_text(ASN_ZONE, encoding="utf-8")
    whois = root / "whois" / "domain"
    whois.mkdir(parents=True, exist_ok=True)
    (whois / "example.jp.txt").write_text(JPRS_ANSWER, encoding="utf-8")
    (whois / "cut.jp.txt").write_text(JPRS_ANSWER.replace("EXAMPLE.JP", "CUT.JP"), "utf-8")
    (root / "whois" / "rdap-less-tlds.txt").write_text("jp\n", encoding="utf-8")
    domains = root / "rdap" / "domain"
    domains.mkdir(parents=True, exist_ok=True)
    (domains / "example.test.json").write_text(json.dumps(EXAMPLE_DOMAIN_RDAP), "utf-8")
    (root / "faults.json").write_text(json.dumps(FAULTS), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def sandbox_endpoints(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Endpoints of a sandbox serving :func:`build_data_dir`; stopped after the module."""
    fixtures = default_fixtures_dir()
    if not (fixtures / "PROVENANCE.md").exists():
        pytest.skip(f"recorded answers not found at {fixtures} (ATTRIBUTION_FIXTURES_DIR)")
    if shutil.which("nsd") is None and not Path("/usr/sbin/nsd").exists():
        pytest.skip("nsd is not installed")
    root = tmp_path_factory.mktemp("sandbox")
    data_dir = build_data_dir(root / "data", fixtures)
    sandbox = Sandbox(root / "state")
    endpoints = sandbox.up(data_dir)
    try:
        yield endpoints
    finally:
        sandbox.down()
