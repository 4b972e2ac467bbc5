"""A loopback RDAP server (RFC 9082/9083) over a sandbox data directory.

Recorded answers are sent byte-for-byte. IP networks answer for every address in their range,
the smallest enclosing network first, as a registry does. The server also accepts the request
paths of the real registries (``/registry/ip/..``, ``/rdap/ip/..``) and absolute-form request
targets, so that it can stand in for them as an HTTP proxy, and it serves IANA bootstrap files
(RFC 9224) that point every covered TLD, range and ASN at itself.
"""

from __future__ import annotations

import ipaddress
import json
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from enrichment.sandbox.layout import DataDir, FaultBudget, RdapFault, RdapRecord, normalise_domain
from enrichment.sandbox.limiting import SandboxStats

RDAP_CONTENT_TYPE = "application/rdap+json"
BOOTSTRAP_FILES = ("dns.json", "ipv4.json", "ipv6.json", "asn.json")
BOOTSTRAP_PUBLICATION = "2000-01-01T00:00:00Z"
MALFORMED_BODY = b'{"objectClassName": "ip network", "handle": "TRUNCATED", "entities": [{'
_ROOTS = {"ip", "autnum", "domain", "entity", "bootstrap", "help"}
# The manager's readiness probe carries this header, so that it never spends a fault's
# ``times`` budget meant for the client under test.
PROBE_HEADER = {"X-Sandbox-Probe": "1"}
STATS_PATH = "/_sandbox/stats"


class BadRequest(ValueError):
    """The request path is not a valid RDAP query."""


class RdapIndex:
    """Lookup of recorded answers by RDAP query, and the bootstrap built from them."""

    def __init__(self, data: DataDir) -> None:
        self.data = data

    def find_ip(self, query: str) -> RdapRecord | None:
        """Smallest recorded network that encloses an address or a whole CIDR prefix."""
        try:
            network = ipaddress.ip_network(query, strict=False)
        except ValueError as exc:
            raise BadRequest(f"not an IP address or prefix: {query}") from exc
        first, last = int(network.network_address), int(network.broadcast_address)
        candidates = [
            r
            for r in self.data.rdap["ip"]
            if r.version == network.version
            and r.first is not None
            and r.last is not None
            and r.first <= first
            and last <= r.last
        ]
        return min(candidates, key=lambda r: (r.size, r.key), default=None)

    def find_autnum(self, query: str) -> RdapRecord | None:
        """Smallest recorded AS block holding an AS number ("64500" or "AS64500")."""
        text = query.upper().removeprefix("AS")
        if not text.isdigit():
            raise BadRequest(f"not an AS number: {query}")
        number = int(text)
        candidates = [
            r
            for r in self.data.rdap["autnum"]
            if r.first is not None and r.last is not None and r.first <= number <= r.last
        ]
        return min(candidates, key=lambda r: (r.size, r.key), default=None)

    def find_domain(self, query: str) -> RdapRecord | None:
        """The recorded answer for exactly this domain name (registries do not walk up)."""
        name = normalise_domain(query)
        return next((r for r in self.data.rdap["domain"] if r.key == name), None)

    def find_entity(self, query: str) -> RdapRecord | None:
        """The recorded entity by handle; exact case first, then ignoring case."""
        records = self.data.rdap["entity"]
        exact = next((r for r in records if r.key == query), None)
        return exact or next((r for r in records if r.key.lower() == query.lower()), None)

    def tlds(self) -> list[str]:
        """TLDs that have RDAP in this world: every TLD in the data minus rdap-less ones."""
        names = [r.key for r in self.data.rdap["domain"]]
        names += list(self.data.whois_domains)
        # Reverse and Team Cymru zones are DNS plumbing, not registrations.
        names += [z for z in self.data.zones if not z.endswith(("arpa", "asn.cymru.com"))]
        found = {n.rsplit(".", 1)[-1] for n in names if n}
        return sorted(found - self.data.rdap_less_tlds)

    def prefixes(self, version: int) -> list[str]:
        """CIDR prefixes covering every recorded network of one IP version."""
        out: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
        cls = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        for r in self.data.rdap["ip"]:
            if r.version == version and r.first is not None and r.last is not None:
                out.update(ipaddress.summarize_address_range(cls(r.first), cls(r.last)))
        return [str(n) for n in sorted(out)]

    def asn_ranges(self) -> list[str]:
        """AS number ranges ("first-last") of every recorded autnum answer."""
        ranges = {(r.first, r.last) for r in self.data.rdap["autnum"]}
        return [f"{a}-{b}" for a, b in sorted(ranges)]

    def bootstrap(self, name: str, base_url: str) -> dict[str, object] | None:
        """One IANA bootstrap registry file, every entry pointing at base_url."""
        entries = {
            "dns.json": self.tlds,
            "ipv4.json": lambda: self.prefixes(4),
            "ipv6.json": lambda: self.prefixes(6),
            "asn.json": self.asn_ranges,
        }.get(name)
        if entries is None:
            return None
        values = entries()
        return {
            "description": f"Sandbox RDAP bootstrap ({name}) for {self.data.root.name}",
            "publication": BOOTSTRAP_PUBLICATION,
            "services": [[values, [base_url]]] if values else [],
            "version": "1.0",
        }


def error_body(status: int, description: str) -> bytes:
    """An RDAP error response body (RFC 9083 section 6)."""
    doc = {
        "rdapConformance": ["rdap_level_0"],
        "errorCode": status,
        "title": HTTPStatus(status).phrase,
        "description": [description],
    }
    return json.dumps(doc, indent=2).encode() + b"\n"


def normalise_path(target: str) -> list[str]:
    """RDAP path segments from a request target, without registry prefixes or host.

    "http://rdap.arin.net/registry/ip/192.0.2.1?x" gives ["ip", "192.0.2.1"].
    """
    path = urlsplit(target).path
    segments = [unquote(s) for s in path.split("/") if s]
    for i, segment in enumerate(segments):
        if segment.lower() in _ROOTS:
            return [segment.lower(), *segments[i + 1 :]]
    return segments


class RdapServer(ThreadingHTTPServer):
    """ThreadingHTTPServer holding the index, the fault counters and the limits.

    ``stats`` holds the RDAP server's limiter (and the WHOIS server's, for the stats page).
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], data: DataDir, stats: SandboxStats | None = None
    ) -> None:
        super().__init__(address, RdapHandler)
        self.index = RdapIndex(data)
        self.faults = FaultBudget(data.faults.rdap)
        self.stats = stats or SandboxStats()

    @property
    def base_url(self) -> str:
        """The URL clients use for this server, with a trailing slash."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def take_fault(self, path: str) -> RdapFault | None:
        """The fault for this request, counting it against a fault's `times` budget."""
        return self.faults.take(path)


class RdapHandler(BaseHTTPRequestHandler):
    """Answers GET/HEAD for RDAP queries and bootstrap files."""

    server: RdapServer
    protocol_version = "HTTP/1.1"
    server_version = "sandbox-rdap/1"

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def _send(
        self,
        status: int,
        body: bytes,
        send_body: bool,
        *,
        content_type: str = RDAP_CONTENT_TYPE,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _answer(self, send_body: bool) -> None:
        if urlsplit(self.path).path == STATS_PATH:
            body = json.dumps(self.server.stats.to_dict()).encode() + b"\n"
            self._send(200, body, send_body, content_type="application/json")
            return
        segments = normalise_path(self.path)
        path = "/" + "/".join(segments)
        probe = all(self.headers.get(k) == v for k, v in PROBE_HEADER.items())
        # The bootstrap files stand in for IANA's (data.iana.org), another service than the
        # registry's RDAP server: the registry's limit does not count them.
        iana = segments[:1] == ["bootstrap"]
        wait = None if probe or iana else self.server.stats.rdap.admit()
        if wait is not None:
            body = error_body(429, f"rate limit exceeded; retry after {wait} s")
            self._send(429, body, send_body, headers={"Retry-After": str(wait)})
            return
        fault = None if probe else self.server.take_fault(path)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
        elif fault is not None and fault.kind == "malformed":
            self._send(200, MALFORMED_BODY, send_body)
            return
        elif fault is not None:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            body = error_body(fault.status, f"injected fault for {path}")
            self._send(fault.status, body, send_body, headers=headers)
            return
        try:
            status, body, content_type = self._lookup(segments)
        except BadRequest as exc:
            status, body, content_type = 400, error_body(400, str(exc)), RDAP_CONTENT_TYPE
        self._send(status, body, send_body, content_type=content_type)

    def _lookup(self, segments: list[str]) -> tuple[int, bytes, str]:
        index = self.server.index
        if not segments:
            raise BadRequest("empty RDAP path")
        root, rest = segments[0], segments[1:]
        if root == "bootstrap" and len(rest) == 1:
            doc = index.bootstrap(rest[0], self.server.base_url)
            if doc is not None:
                body = json.dumps(doc, indent=2).encode() + b"\n"
                return 200, body, "application/json"
        elif root == "help" and not rest:
            doc = {"rdapConformance": ["rdap_level_0"], "notices": [{"title": "Sandbox"}]}
            return 200, json.dumps(doc).encode(), RDAP_CONTENT_TYPE
        elif root in {"ip", "autnum", "domain", "entity"} and rest:
            if root != "ip" and len(rest) != 1:
                raise BadRequest(f"malformed {root} query")
            if root == "ip" and len(rest) > 2:
                raise BadRequest("malformed ip query")
            query = "/".join(rest)
            finder = {
                "ip": index.find_ip,
                "autnum": index.find_autnum,
                "domain": index.find_domain,
                "entity": index.find_entity,
            }[root]
            record = finder(query)
            if record is not None:
                return 200, record.body, RDAP_CONTENT_TYPE
            return 404, error_body(404, f"no {root} object for {query}"), RDAP_CONTENT_TYPE
        path = "/" + "/".join(segments)
        return 404, error_body(404, f"no such path: {path}"), RDAP_CONTENT_TYPE
