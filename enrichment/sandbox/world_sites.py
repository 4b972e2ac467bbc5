"""Benign sites, their naive-rule look-alikes, and malicious campaigns on top of the infrastructure.

``size`` is the exact number of domain rows in the ground truth: provider domains, campaign name
server domains, brand sites, benign sites and hostnames, and malicious names (including DGA names
that were never registered and so have no DNS data at all).
"""

from __future__ import annotations

import random
import string
from collections import Counter
from datetime import datetime

from enrichment.sandbox.world_build import (
    BENIGN_SHARES,
    FAMILY_HAS_OWN_NS,
    FAMILY_KINDS,
    FAMILY_WEIGHTS,
    MALICIOUS_SHARE,
    NX_DGA_SHARE,
    InfraBuilder,
    _pick,
)
from enrichment.sandbox.world_model import (
    BENIGN_TLD_WEIGHTS,
    BRANDS,
    CHEAP_TLDS,
    FAMILY_WORDS_A,
    FAMILY_WORDS_B,
    LURE_WORDS,
    MALICIOUS_TLD_WEIGHTS,
    WORDS,
    Family,
    Hoster,
    Registrant,
    Registrar,
    Truth,
    World,
)

MIN_SIZE = 300
HOSTING_FOR = {
    "cdn": "cdn",
    "cloud": "cloud",
    "shared-hosting": "shared-hosting",
    "small-hoster": "small-hoster",
}
DEDICATED_KINDS = ("cloud", "small-hoster")


class WorldBuilder(InfraBuilder):
    """Assembles a complete :class:`World`; call :meth:`build` once."""

    def build(self) -> World:
        if self.world.size < MIN_SIZE:
            raise ValueError(f"size must be at least {MIN_SIZE} domains, got {self.world.size}")
        self._hosters()
        self._provider_domains()
        families = self._families()
        self._brands()
        budget = self.world.size - len(self.world.domain_truth)
        malicious = round(budget * MALICIOUS_SHARE)
        self._benign(budget - malicious, families)
        self._campaigns(families, malicious)
        self._label_addresses()
        self.world.families = families
        return self.world

    # -- shared helpers ---------------------------------------------------------------------

    def _registrar(self, reputations: tuple[str, ...]) -> Registrar:
        pool = [r for r in self.world.registrars if r.template.reputation in reputations]
        return self.rng.choice(pool)

    def _hoster(self, kind: str) -> Hoster:
        return self.rng.choice(self.by_kind[kind])

    def _label(self, rng: random.Random, alphabet: str, low: int, high: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(low, high + 1)))

    # -- families ---------------------------------------------------------------------------

    def _families(self) -> list[Family]:
        rng = self.rng
        count = max(5, min(24, self.world.size // 400))
        names: set[str] = set()
        families = []
        for index in range(count):
            kind = FAMILY_KINDS[index % len(FAMILY_KINDS)]
            name = f"{rng.choice(FAMILY_WORDS_A)}-{rng.choice(FAMILY_WORDS_B)}"
            while name in names:
                name = f"{rng.choice(FAMILY_WORDS_A)}-{rng.choice(FAMILY_WORDS_B)}"
            names.add(name)
            registrar = self._registrar(("poor", "poor", "mixed"))
            registrants = [
                self._registrant(rng.random() < 0.6, rng.choice(("RU", "CN", "PA", "US", "UA")))
                for _ in range(rng.randrange(1, 4))
            ]
            if kind == "fast-flux":
                residential = sorted(self.by_kind["residential"], key=lambda h: h.key)
                hosters = rng.sample(residential, rng.randrange(5, len(residential) + 1))
            elif kind == "dyndns-c2":
                hosters = [self._hoster("residential"), self._hoster("bulletproof")]
            elif kind in ("dga", "bulletproof"):
                hosters = [self._hoster("bulletproof")]
                if kind == "dga":
                    hosters.append(self._hoster("cloud"))
            else:
                hosters = [self._hoster("bulletproof"), self._hoster("cloud")]
            family = Family(name, kind, registrar, registrants, (), hosters)
            family.dga_style = rng.choice(("consonant", "hex", "wordpair"))
            if kind in FAMILY_HAS_OWN_NS and rng.random() < 0.75:
                self._family_ns(family)
            families.append(family)
        return families

    def _family_ns(self, family: Family) -> None:
        rng = self.rng
        tld = rng.choice(("ru", "top", "xyz", "biz", "net", "info"))
        word = rng.choice(("dns", "ns", "resolve", "zone"))
        name = f"{rng.choice(WORDS)}{word}{rng.randrange(1, 99)}.{tld}"
        while name in self.used_names:
            name = f"{rng.choice(WORDS)}dns{rng.randrange(100, 999)}.{tld}"
        self.used_names.add(name)
        created = self._date(20, 400)
        zone = self._register(name, family.registrar, family.registrants[0], created)
        family.ns_names = (f"ns1.{name}", f"ns2.{name}")
        for ns in family.ns_names:
            zone.add("@", 86400, "NS", ns + ".")
        if family.kind != "fast-flux":
            bulletproof = next(h for h in family.hosters if h.kind == "bulletproof")
            for ns in family.ns_names:
                ip = self._alloc(bulletproof, "web")
                zone.add(ns.split(".", 1)[0], 3600, "A", ip)
                self._tenant(name, ip)
                family.addresses.append(ip)
        family.domains.append(name)
        self._truth(name, "malicious", "rogue-ns", family.name)

    # -- benign -----------------------------------------------------------------------------

    def _brands(self) -> None:
        rng = self.rng
        for brand, tld in BRANDS:
            name = f"{brand}.{tld}"
            self.used_names.add(name)
            country = "JP" if tld.endswith("jp") else rng.choice(("US", "GB", "SG"))
            registrant = Registrant(
                handle=f"C{rng.getrandbits(40):010X}-REG",
                name=f"{brand.title()} Corporation",
                org=f"{brand.title()} Corporation",
                country=country,
                email=f"domain-admin@{name}",
                privacy=False,
            )
            registrar = self._registrar(("good",))
            self._register(name, registrar, registrant, self._date(3650, 9500))
            cdn = self._hoster("cdn")
            edges = rng.sample([ip for ip in cdn.pool if "." in ip], 3)
            provider = self._hoster("dns-provider")
            ns = tuple(self.world.ptr[ip] for ip in provider.pool[:2])
            mail = f"mx1.{self._hoster('mail-provider').template.domain}"
            self._site_zone(name, ns, 300, edges, mx=mail)
            self._truth(name, "benign", "corporate", "")
            self.world.allowlist_candidates.append(name)

    def _benign(self, budget: int, families: list[Family]) -> None:
        counts = {category: round(budget * share) for category, share in BENIGN_SHARES}
        counts["shared-hosting"] = budget - sum(counts.values())
        cdn_hostnames = [self._cdn_hostname() for _ in range(counts["cdn-hostname"])]
        for _ in range(counts["lookalike-dyndns"]):
            self._dyndns_host("benign", "lookalike-dyndns", "", self._hoster("residential"))
        order = (
            "cdn", "cloud", "shared-hosting", "small-hoster", "parked", "sinkhole",
            "lookalike-young", "lookalike-cheap-tld",
        )  # fmt: skip
        for category in order:
            for _ in range(counts[category]):
                if category == "sinkhole":
                    self._sinkholed(self.rng.choice(families))
                elif category == "parked":
                    self._parked()
                else:
                    www = cdn_hostnames.pop() if category == "cdn" and cdn_hostnames else ""
                    self._benign_site(category, www)

    def _cdn_hostname(self) -> str:
        cdn = self._hoster("cdn")
        while True:
            label = "d" + self._label(self.rng, string.ascii_lowercase + string.digits, 12, 14)
            name = f"{label}.{cdn.template.domain}"
            if name not in self.used_names:
                break
        self.used_names.add(name)
        zone = self.world.zones[cdn.template.domain]
        edges = self.rng.sample([ip for ip in cdn.pool if "." in ip], 2)
        for ip in edges:
            zone.add(label, 60, "A", ip)
        self._tenant(name, *edges)
        self._truth(name, "benign", "cdn-hostname", "")
        return name

    def _dyndns_host(self, label: str, category: str, family: str, hoster: Hoster) -> str:
        rng = self.rng
        provider = self._hoster("dyndns-provider")
        while True:
            host = rng.choice(WORDS) + rng.choice(("", "-", "")) + rng.choice(WORDS)
            if rng.random() < 0.5:
                host += str(rng.randrange(1, 999))
            name = f"{host}.{provider.template.domain}"
            if name not in self.used_names:
                break
        self.used_names.add(name)
        ip = self._alloc(hoster, "web")
        self.world.zones[provider.template.domain].add(host, 60, "A", ip)
        self._tenant(name, ip)
        self._truth(name, label, category, family)
        return name

    def _benign_site(self, category: str, www: str) -> None:
        rng = self.rng
        if category == "lookalike-cheap-tld":
            name = self._new_name({}, rng.choice(CHEAP_TLDS))
        else:
            name = self._new_name(BENIGN_TLD_WEIGHTS)
        japanese = name.endswith(".jp")
        hosting = HOSTING_FOR.get(category) or rng.choice(
            ("cdn", "cloud", "shared-hosting", "shared-hosting", "small-hoster")
        )
        if category == "lookalike-young":
            created = self._date(1, 30)
            privacy = rng.random() < 0.6
        else:
            created = self._date(120, 9000) if rng.random() < 0.1 else self._date(365, 9000)
            privacy = rng.random() < 0.3
        if japanese:
            registrar = next(r for r in self.world.registrars if r.template.key == "kiri")
        else:
            registrar = self._registrar(("good", "good", "good", "mixed"))
        registrant = self._registrant(privacy, "JP" if japanese else "")
        self._register(name, registrar, registrant, created)
        hoster = self._hoster(hosting)
        if japanese and hosting != "cdn" and rng.random() < 0.7:
            jp_hosters = [h for h in self.by_kind[hosting] if h.template.country == "JP"]
            hoster = rng.choice(jp_hosters) if jp_hosters else hoster
        aaaa: list[str] = []
        if hosting == "cdn":
            a = rng.sample([ip for ip in hoster.pool if "." in ip], rng.randrange(2, 5))
            v6 = [ip for ip in hoster.pool if ":" in ip]
            if v6 and rng.random() < 0.5:
                aaaa = rng.sample(v6, 2)
            ttl = rng.choice((20, 60, 300))
        elif hosting == "shared-hosting":
            a = [self._shared_server(hoster)]
            ttl = rng.choice((3600, 3600, 14400, 86400))
        else:
            a = [self._alloc(hoster, "web")]
            if hoster.v6 is not None and rng.random() < 0.4:
                aaaa = [self._alloc(hoster, "web", v6=True)]
            ttl = rng.choice((300, 600, 1800, 3600, 3600))
        mx = self._mail_host(name, a[0])
        if mx.startswith("mail."):
            self._tenant(name, a[0])
        self._site_zone(name, self._benign_ns(hoster), ttl, a, aaaa, mx=mx, www=www)
        self._truth(name, "benign", category, "")
        if not category.startswith("lookalike") and (self.now - created).days > 1000:
            self.world.allowlist_candidates.append(name)

    def _parked(self) -> None:
        rng = self.rng
        name = self._new_name(BENIGN_TLD_WEIGHTS)
        registrant = self._registrant(rng.random() < 0.7)
        self._register(name, self._registrar(("good", "mixed")), registrant, self._date(60, 4000))
        parking = self._hoster("parking")
        ip = rng.choice(parking.pool)
        zone = self._site_zone(name, parking.ns_names, 3600, [ip])
        zone.add("@", 3600, "TXT", f'"parking-verification={rng.getrandbits(48):012x}"')
        self._truth(name, "benign", "parked", "")

    def _sinkholed(self, family: Family) -> None:
        rng = self.rng
        weights = MALICIOUS_TLD_WEIGHTS
        name = self._new_name(weights)
        sinkhole = self._hoster("sinkhole")
        registrant = Registrant(
            handle=f"C{rng.getrandbits(40):010X}-REG",
            name=sinkhole.template.name,
            org=sinkhole.template.name,
            country=sinkhole.template.country,
            email=f"sinkhole@{sinkhole.template.domain}",
            privacy=False,
        )
        self._register(name, family.registrar, registrant, self._date(30, 700))
        self.world.registrations[name].updated = self._date(1, 60)
        self._site_zone(name, sinkhole.ns_names, 300, [rng.choice(sinkhole.pool)])
        self._truth(name, "benign", "sinkhole", family.name)

    # -- malicious --------------------------------------------------------------------------

    def _campaigns(self, families: list[Family], budget: int) -> None:
        weights = [FAMILY_WEIGHTS[f.kind] for f in families]
        total = sum(weights)
        counts = [max(2, budget * w // total) for w in weights]
        counts[0] += budget - sum(counts)
        for family, count in zip(families, counts, strict=True):
            if family.kind == "fast-flux":
                self._flux_pool(family, count)
            for _ in range(count):
                self._malicious(family)

    def _flux_pool(self, family: Family, count: int) -> None:
        pool = [self._alloc(self.rng.choice(family.hosters), "web") for _ in range(12 + 3 * count)]
        family.addresses.extend(pool)
        if family.ns_names:
            zone = self.world.zones[family.ns_names[0].split(".", 1)[1]]
            for ns in family.ns_names:
                for ip in self.rng.sample(pool, 3):
                    zone.add(ns.split(".", 1)[0], 180, "A", ip)
                    self._tenant(zone.origin, ip)

    def _malicious_name(self, family: Family) -> str:
        rng = self.rng
        while True:
            if family.kind == "phishing":
                brand, _ = rng.choice(BRANDS)
                lure, other = rng.choice(LURE_WORDS), rng.choice(LURE_WORDS)
                pattern = rng.randrange(5)
                if pattern == 4:
                    i = rng.randrange(1, len(brand) - 2)
                    brand = brand[:i] + brand[i + 1] + brand[i] + brand[i + 2 :]
                label = (
                    f"{brand}-{lure}", f"{lure}-{brand}", f"{brand}{lure}{rng.randrange(1, 99)}",
                    f"{brand}-{lure}-{other}", brand,
                )[pattern]  # fmt: skip
                name = f"{label}.{_pick(rng, MALICIOUS_TLD_WEIGHTS)}"
            elif family.kind == "dga":
                name = f"{self._dga_label(family)}.{rng.choice((*CHEAP_TLDS, 'com', 'net', 'ru'))}"
            elif family.kind == "c2":
                word = rng.choice(WORDS)
                label = rng.choice(
                    (f"cdn-update-{word}", f"{word}-telemetry", f"api-{word}{rng.choice(WORDS)}",
                     f"{word}sync{rng.randrange(1, 99)}", f"static-{word}-cache")
                )  # fmt: skip
                name = f"{label}.{_pick(rng, MALICIOUS_TLD_WEIGHTS)}"
            elif family.kind == "fast-flux":
                return self._new_name(MALICIOUS_TLD_WEIGHTS)
            else:
                return self._new_name({}, rng.choice((*CHEAP_TLDS, "ru", "cn", "com")))
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    def _dga_label(self, family: Family) -> str:
        rng = self.rng
        if family.dga_style == "hex":
            return self._label(rng, "0123456789abcdef", 12, 20)
        if family.dga_style == "wordpair":
            return rng.choice(WORDS) + rng.choice(WORDS) + rng.choice(WORDS)
        return self._label(rng, "bcdfghjklmnpqrstvwxz" + "aeiou" * 2, 10, 18)

    def _malicious(self, family: Family) -> None:
        rng = self.rng
        kind = family.kind
        if kind == "dyndns-c2":
            hoster = rng.choice(family.hosters)
            name = self._dyndns_host("malicious", "c2", family.name, hoster)
            family.domains.append(name)
            family.addresses.append(self._zone_a(name))
            return
        name = self._malicious_name(family)
        category = {"bulletproof": "bulletproof"}.get(kind, kind)
        if kind == "dga" and rng.random() < NX_DGA_SHARE:
            family.nx_domains.append(name)
            self._truth(name, "malicious", "dga", family.name)
            return
        created = {
            "phishing": lambda: self._date(1, 40) if rng.random() < 0.85 else self._date(60, 900),
            "dga": lambda: self._date(0, 10),
            "fast-flux": lambda: self._date(5, 200),
            "c2": lambda: self._date(30, 500),
            "bulletproof": lambda: self._date(3, 300),
        }[kind]()
        self._register(name, family.registrar, rng.choice(family.registrants), created)
        ns = family.ns_names
        aaaa: list[str] = []
        mx = ""
        if kind == "phishing":
            hosting = rng.choice(
                ("shared-hosting", "shared-hosting", "cdn", "cloud", "small-hoster")
            )
            hoster = self._hoster(hosting)
            if hosting == "shared-hosting":
                a = [self._shared_server(hoster)]
            elif hosting == "cdn":
                a = rng.sample([ip for ip in hoster.pool if "." in ip], 2)
            else:
                a = [self._dedicated(family, hoster)]
            ns = hoster.ns_names
            ttl = rng.choice((300, 600))
        elif kind == "fast-flux":
            a = rng.sample(family.addresses, rng.randrange(5, 10))
            ttl = rng.choice((60, 120, 180, 300))
        elif kind == "bulletproof":
            a = [self._dedicated(family, family.hosters[0], reuse=0.7)]
            ttl = rng.choice((600, 1800, 3600))
            if rng.random() < 0.5:
                self.world.zones[name].add("mail", ttl, "A", a[0])
                mx = f"mail.{name}"
        else:
            hoster = rng.choice(family.hosters)
            a = [self._dedicated(family, hoster, reuse=0.6)]
            ttl = rng.choice((300, 600, 1800))
        zone = self._site_zone(name, ns or family.hosters[0].ns_names, ttl, a, aaaa)
        if mx:
            zone.add("@", ttl, "MX", f"10 {mx}.")
        family.domains.append(name)
        self._truth(name, "malicious", category, family.name)

    def _dedicated(self, family: Family, hoster: Hoster, reuse: float = 0.4) -> str:
        own = [ip for ip in family.addresses if self.world.address_hoster[ip] is hoster]
        if own and self.rng.random() < reuse:
            return self.rng.choice(own)
        ip = self._alloc(hoster, "web")
        family.addresses.append(ip)
        return ip

    def _zone_a(self, name: str) -> str:
        host, origin = name.split(".", 1)
        zone = self.world.zones[origin]
        return next(r.rdata for r in reversed(zone.records) if r.owner == host and r.rtype == "A")

    # -- address labels ---------------------------------------------------------------------

    def _label_addresses(self) -> None:
        truth = self.world.domain_truth
        for address in sorted(self.world.address_tenants):
            hoster = self.world.address_hoster[address]
            tenants = self.world.address_tenants[address]
            bad = [truth[t] for t in tenants if t in truth and truth[t].label == "malicious"]
            families = Counter(t.family for t in bad).most_common(1)
            family = families[0][0] if families else ""
            kind = hoster.kind
            only_bad = bool(tenants) and len(bad) == len(tenants)
            if kind == "bulletproof":
                row = ("malicious", "bulletproof", family)
            elif kind == "residential" and bad:
                category = "fast-flux" if bad[0].category in ("fast-flux", "rogue-ns") else "c2"
                row = ("malicious", category, family)
            elif kind in DEDICATED_KINDS and only_bad:
                row = ("malicious", bad[0].category, family)
            else:
                category = {"parking": "parked"}.get(kind, kind)
                row = ("benign", category, "")
            ip_kind = "ipv6" if ":" in address else "ipv4"
            self.world.address_truth[address] = Truth(address, ip_kind, *row)


def build_world(seed: int, size: int, reference_time: datetime) -> World:
    """Build the in-memory world for one seed and size."""
    return WorldBuilder(seed, size, reference_time).build()
