"""Build the infrastructure of a world: hosters, address space, registrars, provider domains.

Everything random comes from one ``random.Random(seed)`` and every loop runs over fixed-order
sequences, so one (seed, size, reference_time) always gives the same world.
"""

from __future__ import annotations

import ipaddress
import random
from datetime import datetime, timedelta

from enrichment.sandbox.world_model import (
    HOSTER_CATALOGUE,
    PRIVACY_SERVICES,
    REDACTED,
    REGISTRAR_CATALOGUE,
    RIR_ASN_RANGES,
    RIR_FIRST_OCTETS,
    RIR_HANDLE_SUFFIX,
    WORDS,
    Hoster,
    Network,
    Registrant,
    Registrar,
    Registration,
    Truth,
    World,
    Zone,
)

BENIGN_SHARES = (
    ("cdn", 0.13),
    ("cdn-hostname", 0.04),
    ("cloud", 0.10),
    ("small-hoster", 0.10),
    ("parked", 0.05),
    ("sinkhole", 0.02),
    ("lookalike-young", 0.04),
    ("lookalike-cheap-tld", 0.04),
    ("lookalike-dyndns", 0.04),
)  # the rest of the benign budget is shared hosting
MALICIOUS_SHARE = 0.24
FAMILY_KINDS = ("phishing", "dga", "fast-flux", "c2", "bulletproof", "phishing", "dga", "dyndns-c2")
FAMILY_WEIGHTS = {
    "phishing": 5,
    "dga": 6,
    "fast-flux": 3,
    "c2": 2,
    "bulletproof": 3,
    "dyndns-c2": 1,
}
FAMILY_HAS_OWN_NS = ("dga", "fast-flux", "c2", "bulletproof")
NX_DGA_SHARE = 0.65
DAY = timedelta(days=1)


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _hexid(rng: random.Random, digits: int = 10) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}X}"


def registrable_tld(name: str) -> str:
    """Return the public suffix of a generated name (only "co.jp" has two labels)."""
    return "co.jp" if name.endswith(".co.jp") else name.rsplit(".", 1)[1]


class InfraBuilder:
    """Hosters, registrars, provider domains and the helpers that sites and campaigns use."""

    def __init__(self, seed: int, size: int, reference_time: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = reference_time
        self.world = World(seed=seed, size=size, reference_time=reference_time)
        self.used_names: set[str] = {"nic.com", "nic.net"}
        self.used_chunks: set[tuple[int, int]] = set()
        self.used_asns: set[int] = set()
        self.used_v6: set[int] = set()
        self.by_kind: dict[str, list[Hoster]] = {}
        self.by_key: dict[str, Hoster] = {}
        self.shared_servers: dict[str, list[tuple[str, int]]] = {}

    # -- infrastructure -------------------------------------------------------------------

    def _date(self, min_days: int, max_days: int) -> datetime:
        """A whole-second time between max_days and min_days before the reference time."""
        seconds = self.rng.randrange(min_days * 86400, max_days * 86400 + 1)
        return self.now - timedelta(seconds=seconds)

    def _network(self, rir: str, length: int, owner: str, registered: datetime) -> Network:
        rng = self.rng
        while True:
            chunk = (rng.choice(RIR_FIRST_OCTETS[rir]), rng.randrange(1, 255))
            if chunk not in self.used_chunks:
                self.used_chunks.add(chunk)
                break
        block = 1 << (32 - length)
        third = (rng.randrange(0, 65536 // block) * block) >> 8 if length > 16 else 0
        prefix = ipaddress.IPv4Network(f"{chunk[0]}.{chunk[1]}.{third}.0/{length}")
        handle = f"NET-{chunk[0]}-{chunk[1]}-{third}-0-1"
        name = f"{owner.upper()}-NET-{len(self.used_chunks)}"
        return Network(prefix, handle, name, registered)

    def _reassign(self, parent: Hoster, owner: str, registered: datetime) -> Network:
        """Carve the last /24 of the parent's first block out for a reseller customer."""
        block = parent.networks[0]
        offset = block.prefix.num_addresses - 256
        block.used.update(range(offset, offset + 256))
        prefix = ipaddress.IPv4Network(f"{block.prefix.network_address + offset}/24")
        octets = str(prefix.network_address).split(".")
        handle = f"NET-{'-'.join(octets)}-2"
        return Network(prefix, handle, f"{owner.upper()}-CUSTOMER", registered, parent=block.handle)

    def _hosters(self) -> None:
        rng = self.rng
        for tpl in HOSTER_CATALOGUE:
            if tpl.reputation == "bad":
                registered = self._date(400, 2200)
            else:
                registered = self._date(2500, 9000)
            if tpl.parent:
                parent = self.by_key[tpl.parent]
                asn = parent.asn
                networks = [self._reassign(parent, tpl.key, registered)]
            else:
                low, high = RIR_ASN_RANGES[tpl.rir]
                asn = rng.randrange(low, high)
                while asn in self.used_asns:
                    asn = rng.randrange(low, high)
                self.used_asns.add(asn)
                networks = [
                    self._network(tpl.rir, n, tpl.key, registered) for n in tpl.prefix_lengths
                ]
            v6 = None
            if tpl.ipv6:
                group = rng.randrange(0x100, 0xFFFF)
                while group in self.used_v6:
                    group = rng.randrange(0x100, 0xFFFF)
                self.used_v6.add(group)
                v6 = Network(
                    ipaddress.IPv6Network(f"2001:db8:{group:x}::/48"),
                    f"NET6-2001-DB8-{group:X}-1",
                    f"{tpl.key.upper()}-V6",
                    registered,
                )
            suffix = RIR_HANDLE_SUFFIX[tpl.rir]
            hoster = Hoster(
                template=tpl,
                asn=asn,
                org_handle=f"ORG-{tpl.key.upper()[:6]}{rng.randrange(1, 99)}{suffix}",
                abuse_handle=f"ABUSE{rng.randrange(100, 9999)}{suffix}",
                registered=registered,
                networks=networks,
                v6=v6,
                ns_names=(f"ns1.{tpl.domain}", f"ns2.{tpl.domain}"),
                ns_addresses=("", ""),
            )
            hoster.ns_addresses = (self._alloc(hoster, "ns"), self._alloc(hoster, "ns"))
            for ns_name, ns_ip in zip(hoster.ns_names, hoster.ns_addresses, strict=True):
                self.world.ptr[ns_ip] = ns_name
            self.world.hosters.append(hoster)
            self.by_key[tpl.key] = hoster
            self.by_kind.setdefault(tpl.kind, []).append(hoster)
        self.world.registrars = [
            Registrar(t, f"IANA{t.iana_id}-ABUSE") for t in REGISTRAR_CATALOGUE
        ]

    def _alloc(self, hoster: Hoster, role: str, v6: bool = False) -> str:
        net = hoster.v6 if v6 and hoster.v6 is not None else self.rng.choice(hoster.networks)
        address = net.new_address(self.rng)
        self.world.address_hoster[address] = hoster
        self.world.address_tenants.setdefault(address, [])
        self.world.ptr[address] = self._ptr_name(hoster, address, role)
        return address

    def _ptr_name(self, hoster: Hoster, address: str, role: str) -> str:
        domain = hoster.template.domain
        dashed = address.replace(".", "-").replace(":", "-")
        if role == "ns":
            return f"ns.{domain}"
        if role == "mx":
            return f"mx{self.rng.randrange(1, 40)}.{domain}"
        styles = {
            "cdn": f"edge-{dashed}.deploy.{domain}",
            "cloud": f"vm-{dashed}.compute.{domain}",
            "shared-hosting": f"web{self.rng.randrange(1, 999)}.{domain}",
            "small-hoster": f"vps{self.rng.randrange(100, 9999)}.{domain}",
            "bulletproof": f"host-{dashed}.{domain}",
            "residential": f"p{self.rng.getrandbits(32):08x}.dyn.{domain}",
            "sinkhole": f"sinkhole-{self.rng.randrange(1, 9)}.{domain}",
            "parking": f"park{self.rng.randrange(1, 99)}.{domain}",
        }
        return styles.get(hoster.kind, f"host-{dashed}.{domain}")

    def _provider_domains(self) -> None:
        good = [r for r in self.world.registrars if r.template.reputation == "good"]
        for hoster in self.world.hosters:
            tpl = hoster.template
            created = self._date(3000, 9500)
            registrant = Registrant(
                handle=f"C{_hexid(self.rng)}-REG",
                name=tpl.name,
                org=tpl.name,
                country=tpl.country,
                email=f"hostmaster-{_hexid(self.rng, 8).lower()}@{tpl.domain}",
                privacy=False,
            )
            zone = self._register(tpl.domain, self.rng.choice(good), registrant, created)
            for i, (ns, ip) in enumerate(zip(hoster.ns_names, hoster.ns_addresses, strict=True)):
                zone.add("@", 86400, "NS", ns + ".")
                zone.add(f"ns{i + 1}", 86400, "A", ip)
            web = self._alloc(hoster, "web")
            zone.add("@", 3600, "A", web)
            zone.add("www", 3600, "CNAME", tpl.domain + ".")
            mail = self._alloc(hoster, "mx")
            zone.add("@", 3600, "MX", f"10 mail.{tpl.domain}.")
            zone.add("mail", 3600, "A", mail)
            zone.add("@", 3600, "TXT", f'"v=spf1 ip4:{mail} -all"')
            zone.add("_dmarc", 3600, "TXT", '"v=DMARC1; p=reject"')
            self._tenant(tpl.domain, web, mail)
            if tpl.reputation == "bad":
                self._truth(tpl.domain, "malicious", "bulletproof", "")
            else:
                self._truth(tpl.domain, "benign", "infrastructure", "")
            kind = tpl.kind
            if kind == "cdn":
                count = 24 + self.world.size // 150
                hoster.pool = [self._alloc(hoster, "web") for _ in range(count)]
                if hoster.v6 is not None:
                    hoster.pool += [self._alloc(hoster, "web", v6=True) for _ in range(8)]
            elif kind in ("parking", "sinkhole", "mail-provider"):
                role = "mx" if kind == "mail-provider" else "web"
                hoster.pool = [self._alloc(hoster, role) for _ in range(4)]
                if kind == "mail-provider":
                    for i, ip in enumerate(hoster.pool):
                        zone.add(f"mx{i + 1}", 3600, "A", ip)
                    zone.add("_spf", 3600, "TXT", f'"v=spf1 ip4:{hoster.networks[0].prefix} -all"')
            elif kind == "dns-provider":
                for i in range(3, 7):
                    ip = self._alloc(hoster, "ns")
                    self.world.ptr[ip] = f"ns{i}.{tpl.domain}"
                    zone.add(f"ns{i}", 86400, "A", ip)
                    hoster.pool.append(ip)

    # -- registration and zones ------------------------------------------------------------

    def _register(
        self, name: str, registrar: Registrar, registrant: Registrant, created: datetime
    ) -> Zone:
        updated = created + (self.now - created) * self.rng.random()
        updated = updated.replace(microsecond=0)
        years = max(1, (self.now - created).days // 365 + self.rng.randrange(1, 3))
        expires = (
            created.replace(year=created.year + years)
            if created.day < 29
            else (created + timedelta(days=365 * years))
        )
        age_days = (self.now - created).days
        if age_days > 365 and self.rng.random() < 0.7:
            status: tuple[str, ...] = ("client delete prohibited", "client transfer prohibited")
        elif age_days < 60:
            status = ("active", "add period") if age_days < 5 else ("active",)
        else:
            status = ("active",)
        self.world.registrations[name] = Registration(
            registrar=registrar,
            registrant=registrant,
            created=created,
            updated=updated,
            expires=expires,
            status=status,
            handle=f"{self.rng.getrandbits(36)}_DOMAIN_{registrable_tld(name).upper()}-SBX",
        )
        zone = Zone(
            origin=name,
            primary_ns="",
            contact=f"hostmaster.{name}",
            serial=int(updated.strftime("%Y%m%d")) * 100 + self.rng.randrange(1, 10),
        )
        self.world.zones[name] = zone
        return zone

    def _tenant(self, name: str, *addresses: str) -> None:
        for address in addresses:
            tenants = self.world.address_tenants[address]
            if name not in tenants:
                tenants.append(name)

    def _truth(self, name: str, label: str, category: str, family: str) -> None:
        self.world.domain_truth[name] = Truth(name, "domain", label, category, family)

    def _new_name(self, tld_weights: dict[str, int], tld: str | None = None) -> str:
        rng = self.rng
        while True:
            first, second = rng.choice(WORDS), rng.choice(WORDS)
            shape = rng.random()
            if shape < 0.5:
                label = first + second
            elif shape < 0.75:
                label = f"{first}-{second}"
            elif shape < 0.9:
                label = first + second + str(rng.randrange(1, 99))
            else:
                label = first + rng.choice(WORDS) + second
            name = f"{label}.{tld or _pick(rng, tld_weights)}"
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    def _registrant(self, privacy: bool, country: str = "") -> Registrant:
        rng = self.rng
        handle = f"C{_hexid(rng)}-REG"
        if privacy:
            org, cc, domain = rng.choice(PRIVACY_SERVICES)
            shown = org if rng.random() < 0.6 else REDACTED
            email = f"{_hexid(rng, 12).lower()}@{domain}"
            return Registrant(handle, REDACTED, shown, cc, email, True)
        country = country or rng.choice(("US", "JP", "JP", "DE", "GB", "FR", "SG", "BR", "CA"))
        org = f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} " + rng.choice(
            ("Co., Ltd.", "KK", "LLC", "Inc.", "GmbH", "Ltd", "Corp")
        )
        email = f"reg-{_hexid(rng, 8).lower()}@{rng.choice(WORDS)}{rng.choice(WORDS)}.com"
        return Registrant(handle, f"Registrant {handle[1:9]}", org, country, email, False)

    def _site_zone(
        self,
        name: str,
        ns: tuple[str, ...],
        ttl: int,
        a: list[str],
        aaaa: list[str] = (),  # type: ignore[assignment]
        mx: str = "",
        www: str = "",
    ) -> Zone:
        zone = self.world.zones[name]
        for host in ns:
            zone.add("@", 86400, "NS", host + ".")
        for ip in a:
            zone.add("@", ttl, "A", ip)
        for ip in aaaa:
            zone.add("@", ttl, "AAAA", ip)
        if www:
            zone.add("www", ttl, "CNAME", www + ".")
        elif a:
            zone.add("www", ttl, "CNAME", name + ".")
        if mx:
            zone.add("@", 3600, "MX", f"10 {mx}.")
            zone.add("@", 3600, "TXT", f'"v=spf1 include:_spf.{mx.split(".", 1)[1]} ~all"')
        self._tenant(name, *a, *aaaa)
        return zone

    def _benign_ns(self, hoster: Hoster) -> tuple[str, ...]:
        if self.rng.random() < 0.35:
            provider = self.rng.choice(self.by_kind["dns-provider"])
            first = self.rng.randrange(0, len(provider.pool) - 1)
            return (
                self.world.ptr[provider.pool[first]],
                self.world.ptr[provider.pool[first + 1]],
            )
        return hoster.ns_names

    def _mail_host(self, name: str, own_ip: str) -> str:
        if self.rng.random() < 0.5:
            provider = self.rng.choice(self.by_kind["mail-provider"])
            return f"mx{self.rng.randrange(1, 5)}.{provider.template.domain}"
        zone = self.world.zones[name]
        zone.add("mail", 3600, "A", own_ip)
        return f"mail.{name}"

    def _shared_server(self, hoster: Hoster) -> str:
        servers = self.shared_servers.setdefault(hoster.key, [])
        open_servers = [i for i, (_, cap) in enumerate(servers) if cap > 0]
        if not open_servers or self.rng.random() < 0.03:
            servers.append((self._alloc(hoster, "web"), self.rng.randrange(20, 160)))
            open_servers = [len(servers) - 1]
        index = self.rng.choice(open_servers)
        ip, capacity = servers[index]
        servers[index] = (ip, capacity - 1)
        return ip
