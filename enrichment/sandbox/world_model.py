"""In-memory model of a generated sandbox world, and the fixed catalogues it draws from.

The generator first builds a :class:`World` (hosters with their address space, registrars,
registrants, zones, registrations, ground truth) and only then renders it into the sandbox data
directory, so that every output (zones, RDAP, WHOIS, labels, incidents) describes the same facts.
All names are made up; address space is drawn from blocks that look like public allocations of
each regional registry, and IPv6 comes from the documentation prefix 2001:db8::/32.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from datetime import datetime

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CHEAP_TLDS = ("xyz", "top", "online", "site", "shop", "info", "biz")
ALL_TLDS = (
    "com", "net", "org", "jp", "co.jp", "info", "xyz", "top", "online",
    "site", "shop", "io", "ru", "cn", "biz",
)  # fmt: skip
RDAP_LESS_TLDS = ("jp",)

BENIGN_TLD_WEIGHTS = {
    "com": 44, "net": 9, "org": 7, "jp": 5, "co.jp": 8, "io": 4, "info": 3, "biz": 1,
    "shop": 3, "online": 2, "site": 2, "xyz": 3, "top": 1, "ru": 4, "cn": 4,
}  # fmt: skip
MALICIOUS_TLD_WEIGHTS = {
    "com": 18, "net": 6, "org": 2, "xyz": 12, "top": 14, "online": 8, "site": 8, "shop": 6,
    "info": 8, "biz": 4, "ru": 7, "cn": 5, "io": 2,
}  # fmt: skip

RIR_FIRST_OCTETS = {
    "arin": (23, 45, 64, 66, 104, 107, 142, 162, 199, 207, 209),
    "ripencc": (5, 31, 37, 46, 62, 77, 79, 91, 176, 185, 188, 193, 194, 195),
    "apnic": (1, 14, 27, 36, 43, 49, 58, 101, 103, 110, 119, 122, 133, 150, 153, 202),
    "lacnic": (177, 179, 181, 186, 187, 189, 190, 191, 200, 201),
    "afrinic": (41, 102, 105, 154, 196, 197),
}
RIR_ASN_RANGES = {
    "arin": (13000, 40000),
    "ripencc": (196608, 213000),
    "apnic": (131072, 142000),
    "lacnic": (262144, 270000),
    "afrinic": (327680, 329000),
}
RIR_RDAP_BASE = {
    "arin": "https://rdap.arin.net/registry",
    "ripencc": "https://rdap.db.ripe.net",
    "apnic": "https://rdap.apnic.net",
    "lacnic": "https://rdap.lacnic.net/rdap",
    "afrinic": "https://rdap.afrinic.net/rdap",
}
RIR_PORT43 = {
    "arin": "whois.arin.net",
    "ripencc": "whois.ripe.net",
    "apnic": "whois.apnic.net",
    "lacnic": "whois.lacnic.net",
    "afrinic": "whois.afrinic.net",
}
RIR_HANDLE_SUFFIX = {
    "arin": "-ARIN",
    "ripencc": "-RIPE",
    "apnic": "-AP",
    "lacnic": "-LACNIC",
    "afrinic": "-AFRINIC",
}


@dataclass(frozen=True)
class HosterTemplate:
    """One autonomous system operator in the catalogue."""

    key: str
    name: str
    kind: str
    rir: str
    country: str
    domain: str
    prefix_lengths: tuple[int, ...]
    ipv6: bool
    reputation: str
    parent: str = ""  # a reseller: its block is reassigned out of this hoster's allocation


# kind: cdn, cloud, shared-hosting, small-hoster, bulletproof, residential, sinkhole, parking,
# dns-provider, mail-provider, dyndns-provider.
HOSTER_CATALOGUE: tuple[HosterTemplate, ...] = (
    HosterTemplate(
        "nimbus",
        "Nimbus Edge Networks, Inc.",
        "cdn",
        "arin",
        "US",
        "nimbusedge.net",
        (16, 16),
        True,
        "good",
    ),
    HosterTemplate(
        "fastlane",
        "Fastlane Delivery Network LLC",
        "cdn",
        "arin",
        "US",
        "fastlanecdn.com",
        (16,),
        True,
        "good",
    ),
    HosterTemplate(
        "kumo", "Kumo Edge KK", "cdn", "apnic", "JP", "kumoedge.jp", (17, 18), True, "good"
    ),
    HosterTemplate(
        "stratus",
        "Stratus Cloud Services LLC",
        "cloud",
        "arin",
        "US",
        "stratuscloud.com",
        (16, 16),
        True,
        "good",
    ),
    HosterTemplate(
        "sorairo",
        "Sorairo Cloud KK",
        "cloud",
        "apnic",
        "JP",
        "sorairo-cloud.co.jp",
        (17,),
        True,
        "good",
    ),
    HosterTemplate(
        "helio",
        "Helio Compute GmbH",
        "cloud",
        "ripencc",
        "DE",
        "heliocompute.net",
        (17, 18),
        True,
        "good",
    ),
    HosterTemplate(
        "hostpark",
        "HostPark Web Services Ltd",
        "shared-hosting",
        "ripencc",
        "GB",
        "hostpark.net",
        (20,),
        False,
        "good",
    ),
    HosterTemplate(
        "webnest",
        "WebNest Hosting Inc.",
        "shared-hosting",
        "arin",
        "US",
        "webnest-hosting.com",
        (20, 22),
        True,
        "good",
    ),
    HosterTemplate(
        "sakuraweb",
        "Sakurazaka Web Hosting KK",
        "shared-hosting",
        "apnic",
        "JP",
        "sakurazaka-web.jp",
        (20,),
        False,
        "good",
    ),
    HosterTemplate(
        "lumen",
        "Lumenhost SRL",
        "shared-hosting",
        "ripencc",
        "RO",
        "lumenhost.net",
        (21,),
        False,
        "mixed",
    ),
    HosterTemplate(
        "brisa",
        "Brisa Hospedagem Ltda",
        "shared-hosting",
        "lacnic",
        "BR",
        "brisahost.com",
        (21,),
        False,
        "mixed",
    ),
    HosterTemplate(
        "maple",
        "Maple Byte Hosting Corp",
        "small-hoster",
        "arin",
        "CA",
        "maplebyte.net",
        (22,),
        False,
        "good",
    ),
    HosterTemplate(
        "fjord", "Fjordnet AS", "small-hoster", "ripencc", "NO", "fjordnet.org", (23,), True, "good"
    ),
    HosterTemplate(
        "tatami",
        "Tatami Server KK",
        "small-hoster",
        "apnic",
        "JP",
        "tatami-server.co.jp",
        (22,),
        False,
        "good",
    ),
    HosterTemplate(
        "kestrel",
        "Kestrel Datacenter BV",
        "small-hoster",
        "ripencc",
        "NL",
        "kestrel-dc.net",
        (22,),
        False,
        "mixed",
    ),
    HosterTemplate(
        "savanna",
        "Savanna Hosting (Pty) Ltd",
        "small-hoster",
        "afrinic",
        "ZA",
        "savannahost.net",
        (22,),
        False,
        "good",
    ),
    HosterTemplate(
        "andes",
        "Andes Servidores SA",
        "small-hoster",
        "lacnic",
        "CL",
        "andeservers.com",
        (23,),
        False,
        "good",
    ),
    HosterTemplate(
        "lotus",
        "Lotus Data Pvt Ltd",
        "small-hoster",
        "apnic",
        "IN",
        "lotusdata.net",
        (22,),
        False,
        "mixed",
    ),
    HosterTemplate(
        "harbor",
        "Harborline VPS LLC",
        "small-hoster",
        "arin",
        "US",
        "harborline-vps.com",
        (22,),
        False,
        "mixed",
    ),
    HosterTemplate(
        "ironveil",
        "Ironveil Ltd",
        "bulletproof",
        "ripencc",
        "SC",
        "ironveil.biz",
        (22,),
        False,
        "bad",
    ),
    HosterTemplate(
        "blackmoor",
        "Blackmoor Networks SRL",
        "bulletproof",
        "ripencc",
        "MD",
        "blackmoor.top",
        (23,),
        False,
        "bad",
    ),
    HosterTemplate(
        "zerolog",
        "Zero Log Hosting Inc",
        "bulletproof",
        "lacnic",
        "BZ",
        "zerolog-hosting.net",
        (23,),
        False,
        "bad",
    ),
    HosterTemplate(
        "greyhost",
        "Greyhost Reseller Ltd",
        "bulletproof",
        "ripencc",
        "SC",
        "greyhost.top",
        (24,),
        False,
        "bad",
        parent="kestrel",
    ),
    HosterTemplate(
        "hikari",
        "Hikari Home Net Corp",
        "residential",
        "apnic",
        "JP",
        "hikari-home.jp",
        (16,),
        True,
        "good",
    ),
    HosterTemplate(
        "prairie",
        "Prairie Broadband LLC",
        "residential",
        "arin",
        "US",
        "prairiebb.net",
        (16,),
        False,
        "good",
    ),
    HosterTemplate(
        "rheinkabel",
        "Rheinkabel GmbH",
        "residential",
        "ripencc",
        "DE",
        "rheinkabel.net",
        (16,),
        True,
        "good",
    ),
    HosterTemplate(
        "volga",
        "Volga Telecom JSC",
        "residential",
        "ripencc",
        "RU",
        "volgatelecom.ru",
        (16,),
        False,
        "good",
    ),
    HosterTemplate(
        "ipe",
        "Ipe Telecom SA",
        "residential",
        "lacnic",
        "BR",
        "ipetelecom.com",
        (16,),
        False,
        "good",
    ),
    HosterTemplate(
        "ganga",
        "Ganga Fibre Ltd",
        "residential",
        "apnic",
        "IN",
        "gangafibre.net",
        (16,),
        False,
        "good",
    ),
    HosterTemplate(
        "mekong",
        "Mekong Broadband JSC",
        "residential",
        "apnic",
        "VN",
        "mekongbb.net",
        (16,),
        False,
        "good",
    ),
    HosterTemplate(
        "baobab",
        "Baobab Connect Ltd",
        "residential",
        "afrinic",
        "KE",
        "baobabconnect.net",
        (16,),
        False,
        "good",
    ),
    HosterTemplate(
        "clearwater",
        "Clearwater Threat Research",
        "sinkhole",
        "arin",
        "US",
        "clearwater-research.org",
        (24,),
        False,
        "good",
    ),
    HosterTemplate(
        "watchtower",
        "Watchtower Sinkhole eV",
        "sinkhole",
        "ripencc",
        "DE",
        "watchtower-sinkhole.org",
        (24,),
        False,
        "good",
    ),
    HosterTemplate(
        "parkwise",
        "Parkwise Domains LLC",
        "parking",
        "arin",
        "US",
        "parkwise.com",
        (24,),
        False,
        "good",
    ),
    HosterTemplate(
        "landlot",
        "Landlot Media Ltd",
        "parking",
        "ripencc",
        "CY",
        "landlot.net",
        (24,),
        False,
        "mixed",
    ),
    HosterTemplate(
        "anydns",
        "AnyDNS Global Inc",
        "dns-provider",
        "arin",
        "US",
        "anydns-global.net",
        (24,),
        True,
        "good",
    ),
    HosterTemplate(
        "hoshidns",
        "Hoshi DNS KK",
        "dns-provider",
        "apnic",
        "JP",
        "hoshidns.jp",
        (24,),
        False,
        "good",
    ),
    HosterTemplate(
        "postbox",
        "Postbox Mail Services Inc",
        "mail-provider",
        "arin",
        "US",
        "postbox-mail.com",
        (22,),
        True,
        "good",
    ),
    HosterTemplate(
        "yubin",
        "Yubin Mail KK",
        "mail-provider",
        "apnic",
        "JP",
        "yubin-mail.co.jp",
        (23,),
        False,
        "good",
    ),
    HosterTemplate(
        "homelink",
        "Homelink Dynamic DNS Ltd",
        "dyndns-provider",
        "ripencc",
        "GB",
        "homelinkdns.net",
        (24,),
        False,
        "good",
    ),
    HosterTemplate(
        "dyngo",
        "DynGo Free DNS Inc",
        "dyndns-provider",
        "arin",
        "US",
        "dyngo.org",
        (24,),
        False,
        "mixed",
    ),
)


@dataclass(frozen=True)
class RegistrarTemplate:
    """One domain registrar in the catalogue (IANA ids are made up)."""

    key: str
    name: str
    iana_id: int
    country: str
    domain: str
    reputation: str


REGISTRAR_CATALOGUE: tuple[RegistrarTemplate, ...] = (
    RegistrarTemplate(
        "globalreg", "GlobalReg Domains, Inc.", 9101, "US", "globalreg-domains.com", "good"
    ),
    RegistrarTemplate(
        "bluefin", "Bluefin Registrar LLC", 9102, "US", "bluefin-registrar.com", "good"
    ),
    RegistrarTemplate("kiri", "Kiri Domains KK", 9103, "JP", "kiri-domains.jp", "good"),
    RegistrarTemplate(
        "eurodns", "Euronames Registry Services GmbH", 9104, "DE", "euronames-reg.net", "good"
    ),
    RegistrarTemplate(
        "namebay", "Namebay Holdings Ltd", 9105, "GB", "namebay-holdings.com", "good"
    ),
    RegistrarTemplate("cheapnames", "Cheapnames Ltd", 9106, "PA", "cheapnames.biz", "mixed"),
    RegistrarTemplate("onyx", "Onyx Domain Registrar OOO", 9107, "RU", "onyx-reg.ru", "mixed"),
    RegistrarTemplate(
        "dragongate", "Dragon Gate Network Co., Ltd.", 9108, "CN", "dragongate-net.cn", "mixed"
    ),
    RegistrarTemplate("quickreg", "QuickReg Online Corp", 9109, "VG", "quickreg.online", "poor"),
    RegistrarTemplate(
        "shadowname", "Shadowname Registrar Inc", 9110, "BZ", "shadowname.site", "poor"
    ),
)

PRIVACY_SERVICES: tuple[tuple[str, str, str], ...] = (
    ("WhoisShield Privacy Services Ltd", "PA", "whoisshield-privacy.com"),
    ("Domain Privacy Guard KK", "JP", "privacy-guard.jp"),
    ("Contact Privacy Proxy LLC", "US", "contact-privacy-proxy.net"),
)
REDACTED = "REDACTED FOR PRIVACY"

SECTORS = (
    "electricity", "gas", "water", "oil", "rail", "trucking", "ocean-shipping", "aviation",
    "airports", "ports", "telecommunications", "broadcasting", "postal", "finance", "credit-cards",
)  # fmt: skip

# Fictional brands: each has a benign, allowlisted home domain and attracts phishing look-alikes.
BRANDS: tuple[tuple[str, str], ...] = (
    ("mizuhanabank", "co.jp"), ("sakuracard", "jp"), ("tsubamerail", "co.jp"),
    ("kaiunexpress", "com"), ("northwindpay", "com"), ("bluepeakmail", "com"),
    ("hikaritelecom", "co.jp"), ("orionshop", "com"), ("asahigas", "co.jp"),
    ("minatoport", "co.jp"), ("skylinkair", "com"), ("genkipost", "jp"),
    ("corvusbank", "com"), ("pinecloud", "io"), ("tokaiwater", "co.jp"),
)  # fmt: skip

WORDS = (
    "sakura", "blue", "river", "tech", "logistics", "kobe", "garden", "studio", "north", "green",
    "harbor", "maple", "cedar", "ocean", "summit", "pixel", "craft", "bright", "lumen", "atlas",
    "metro", "nova", "orbit", "delta", "field", "stone", "forest", "cloud", "bridge", "union",
    "kyoto", "osaka", "nagoya", "sendai", "fuji", "hana", "yume", "mori", "kawa", "yama",
    "shop", "market", "foods", "bakery", "coffee", "travel", "clinic", "dental", "legal", "media",
    "design", "works", "labs", "systems", "energy", "power", "farm", "books", "school", "music",
    "photo", "sports", "auto", "motors", "homes", "realty", "finance", "capital", "insure", "care",
    "health", "pet", "toys", "fashion", "style", "beauty", "hotel", "inn", "resort", "tours",
    "print", "signal", "vector", "falcon", "eagle", "tiger", "panda", "koi", "crane", "sparrow",
    "amber", "silver", "golden", "crystal", "coral", "jade", "ivory", "scarlet", "indigo", "olive",
    "alpha", "prime", "smart", "happy", "fresh", "urban", "rural", "coastal", "valley", "island",
    "net", "web", "data", "soft", "code", "hub", "base", "point", "line", "link",
    "east", "west", "south", "central", "global", "local", "city", "town", "village", "port",
    "anchor", "beacon", "compass", "lantern", "meadow", "orchard", "prairie", "quartz", "ridge",
    "shore", "tide", "willow", "zen", "kaze", "hoshi", "tsuki", "sora", "umi", "ki",
)  # fmt: skip
LURE_WORDS = (
    "login", "secure", "verify", "account", "update", "support", "signin", "auth", "billing",
    "wallet", "confirm", "service", "portal", "id", "pay", "alert", "notice", "help",
)  # fmt: skip
FAMILY_WORDS_A = (
    "ember", "grim", "silent", "crimson", "hollow", "iron", "storm", "shadow", "frost", "venom",
    "ashen", "feral", "rust", "night", "cinder", "quiet",
)  # fmt: skip
FAMILY_WORDS_B = (
    "spider", "heron", "lynx", "mantis", "raven", "viper", "jackal", "moth", "otter", "wasp",
    "badger", "kite", "mole", "newt",
)  # fmt: skip


@dataclass
class Network:
    """One announced prefix with its registry record."""

    prefix: IPNetwork
    handle: str
    name: str
    registered: datetime
    parent: str = ""  # handle of the enclosing allocation, for reassigned blocks
    used: set[int] = field(default_factory=set)

    def new_address(self, rng: random.Random) -> str:
        """Return an unused host address of this prefix (never the .0/.255 of a /24)."""
        size = self.prefix.num_addresses
        span = min(size, 1 << 20)
        while True:
            offset = rng.randrange(1, span - 1)
            if self.prefix.version == 4 and offset % 256 in (0, 255):
                continue
            if offset not in self.used:
                self.used.add(offset)
                return str(self.prefix.network_address + offset)


@dataclass
class Hoster:
    """An autonomous system with its operator, address space and infrastructure names."""

    template: HosterTemplate
    asn: int
    org_handle: str
    abuse_handle: str
    registered: datetime
    networks: list[Network]
    v6: Network | None
    ns_names: tuple[str, str]
    ns_addresses: tuple[str, str]
    pool: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.template.key

    @property
    def kind(self) -> str:
        return self.template.kind

    def new_address(self, rng: random.Random) -> str:
        return rng.choice(self.networks).new_address(rng)


@dataclass(frozen=True)
class Registrar:
    """A registrar with its registry handle."""

    template: RegistrarTemplate
    abuse_handle: str


@dataclass(frozen=True)
class Registrant:
    """A registrant contact; privacy-proxied registrants show only the proxy service."""

    handle: str
    name: str
    org: str
    country: str
    email: str
    privacy: bool
    kind: str = "org"


@dataclass
class Registration:
    """Registration data of one registered domain."""

    registrar: Registrar
    registrant: Registrant
    created: datetime
    updated: datetime
    expires: datetime
    status: tuple[str, ...]
    handle: str


@dataclass(frozen=True)
class Record:
    """One resource record, owner relative to the zone origin ("@" for the apex)."""

    owner: str
    ttl: int
    rtype: str
    rdata: str


@dataclass
class Zone:
    """A zone served by the sandbox DNS server."""

    origin: str
    primary_ns: str
    contact: str
    serial: int
    records: list[Record] = field(default_factory=list)

    def add(self, owner: str, ttl: int, rtype: str, rdata: str) -> None:
        self.records.append(Record(owner, ttl, rtype, rdata))


@dataclass(frozen=True)
class Truth:
    """One ground-truth row."""

    value: str
    kind: str
    label: str
    category: str
    family: str


@dataclass
class Family:
    """A malicious campaign: shared registrants, registrar, name servers and hosting."""

    name: str
    kind: str
    registrar: Registrar
    registrants: list[Registrant]
    ns_names: tuple[str, ...]
    hosters: list[Hoster]
    dga_style: str = ""
    domains: list[str] = field(default_factory=list)
    nx_domains: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)


@dataclass
class World:
    """Everything that the renderers write out."""

    seed: int
    size: int
    reference_time: datetime
    hosters: list[Hoster] = field(default_factory=list)
    registrars: list[Registrar] = field(default_factory=list)
    zones: dict[str, Zone] = field(default_factory=dict)
    registrations: dict[str, Registration] = field(default_factory=dict)
    domain_truth: dict[str, Truth] = field(default_factory=dict)
    address_tenants: dict[str, list[str]] = field(default_factory=dict)
    address_hoster: dict[str, Hoster] = field(default_factory=dict)
    address_truth: dict[str, Truth] = field(default_factory=dict)
    ptr: dict[str, str] = field(default_factory=dict)
    families: list[Family] = field(default_factory=list)
    allowlist_candidates: list[str] = field(default_factory=list)
