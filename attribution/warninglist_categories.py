"""The one table saying what each MISP warninglist means for an action against a server.

Every list the ``pymispwarninglists`` package bundles (and the few older names of the shared
test subset) has an explicit row in :data:`CATEGORY_BY_LIST`: its category, in the report's
words, and through the category its *meaning*:

``benign``
    The listed thing is legitimate and known: top sites, public resolvers, CRL/OCSP servers,
    research scanners and crawlers, sinkholes and block pages, known organisations. A hit is
    benign evidence: *do not act* (``do-not-act-likely-benign`` when it vouches for the target).
``shared``
    The listed thing serves many unrelated parties: cloud and CDN ranges, dynamic DNS,
    trusted sites commonly abused (LOTS), URL shorteners and link-in-bio pages, VPN exits,
    mail providers, parking services, public suffixes. A hit says nothing about the target's
    owner, but *acting hits others* (``do-not-act-collateral-risk``).
``reserved``
    Special-use address ranges and names (RFC 1918, 5735, 6598, 3849, 6761, multicast,
    link-local): never a public server; treated like benign evidence (do not act).
``not-applicable``
    Lists of file hashes, certificate fingerprints, e-mail addresses, phone numbers and
    application ids. They are listed but never consulted for an address or a name.

Lists published upstream after the bundled package are categorised by
:data:`CATEGORY_BY_PREFIX` (families such as ``*-nt-scanning``); anything still unknown is
``other`` with meaning ``context``: shown, but no reason not to act. The unit test
``test_every_bundled_list_has_an_explicit_category`` fails when a bundled list has no row.
"""

from __future__ import annotations

__all__ = [
    "BENIGN",
    "CATEGORY_BY_LIST",
    "CATEGORY_BY_PREFIX",
    "CONTEXT",
    "DO_NOT_ACT_CATEGORIES",
    "MEANINGS",
    "MEANING_BY_CATEGORY",
    "NOT_APPLICABLE",
    "RESERVED",
    "SHARED",
    "SHARED_CATEGORIES",
    "category_for",
    "meaning_for",
]

BENIGN = "benign"
SHARED = "shared"
RESERVED = "reserved"
NOT_APPLICABLE = "not-applicable"
CONTEXT = "context"
MEANINGS = (BENIGN, SHARED, RESERVED, NOT_APPLICABLE, CONTEXT)

MEANING_BY_CATEGORY: dict[str, str] = {
    "top-sites": BENIGN,
    "public-dns": BENIGN,
    "crl": BENIGN,
    "organisation": BENIGN,
    "security-vendor": BENIGN,
    "scanners": BENIGN,
    "crawlers": BENIGN,
    "sinkholes": BENIGN,
    "ip-check": BENIGN,
    "reserved": RESERVED,
    "cloud": SHARED,
    "cdn": SHARED,
    "dynamic-dns": SHARED,
    "lots": SHARED,
    "shared-platform": SHARED,
    "vpn": SHARED,
    "mail": SHARED,
    "parking": SHARED,
    "tld": SHARED,
    "not-network": NOT_APPLICABLE,
    "other": CONTEXT,
}

# Benign evidence against acting (the report's likely-benign side).
DO_NOT_ACT_CATEGORIES = frozenset(
    c for c, m in MEANING_BY_CATEGORY.items() if m in (BENIGN, RESERVED)
)
# Acting would hit other parties (the report's collateral side).
SHARED_CATEGORIES = frozenset(c for c, m in MEANING_BY_CATEGORY.items() if m == SHARED)

_TOP = "top-sites"
_SCAN = "scanners"

CATEGORY_BY_LIST: dict[str, str] = {
    # Top sites and the big operators' own names.
    "alexa": _TOP,
    "cisco_top1000": _TOP,
    "cisco_top5k": _TOP,
    "cisco_top10k": _TOP,
    "cisco_top20k": _TOP,
    "cloudflare-top10k": _TOP,
    "google-chrome-crux-1million": _TOP,
    "majestic_million": _TOP,
    "moz-top500": _TOP,
    "tranco": _TOP,
    "tranco10k": _TOP,
    "google": _TOP,
    "microsoft": _TOP,
    "microsoft-office365": _TOP,
    "microsoft-win10-connection-endpoints": _TOP,
    # Public resolvers.
    "public-dns-hostname": "public-dns",
    "public-dns-v4": "public-dns",
    "public-dns-v6": "public-dns",
    # Certificate revocation.
    "crl-hostname": "crl",
    "crl-ip": "crl",
    # Known organisations' own names and ranges.
    "apple": "organisation",
    "bank-website": "organisation",
    "covid": "organisation",
    "covid-19-cyber-threat-coalition-whitelist": "organisation",
    "covid-19-krassi-whitelist": "organisation",
    "dax30": "organisation",
    "university_domains": "organisation",
    "wikimedia": "organisation",
    # Security vendors: their blogs, sandboxes, phishing simulations, false-positive lists.
    "automated-malware-analysis": "security-vendor",
    "digitalside": "security-vendor",
    "microsoft-attack-simulator": "security-vendor",
    "security-provider-blogpost": "security-vendor",
    # Research and commercial scanners.
    "alphastrike-research-nt-scanning": _SCAN,
    "alphastrike-scanning": _SCAN,
    "bufferover-nt-scanning": _SCAN,
    "censys-scanning": _SCAN,
    "check-host-net": _SCAN,
    "coalition-signals-intelligence-nt-scanning": _SCAN,
    "cybergreen-nt-scanning": _SCAN,
    "cyberresilience-nt-scanning": _SCAN,
    "cypex-nt-scanning": _SCAN,
    "f6-nt-scanning": _SCAN,
    "internet-census-nt-scanning": _SCAN,
    "intrinsec-nt-scanning": _SCAN,
    "ipinfo-nt-scanning": _SCAN,
    "ipip-nt-scanning": _SCAN,
    "modat-nt-scanning": _SCAN,
    "modat-scanner": _SCAN,
    "netsecscan-nt-scanning": _SCAN,
    "netsecscan-scanning": _SCAN,
    "onyphe-nt-scanning": _SCAN,
    "onyphe-scanner": _SCAN,
    "probethenet-nt-scanning": _SCAN,
    "rapid7-nt-scanning": _SCAN,
    "research-scanner-nt-scanning": _SCAN,
    "shadowforce-nt-scanning": _SCAN,
    "shadowforce-scanning": _SCAN,
    "shadowserver": _SCAN,
    "shadowserver-nt-scanning": _SCAN,
    "shodan-nt-scanning": _SCAN,
    "shodan-scanning": _SCAN,
    "skipa-nt-scanning": _SCAN,
    "tenable-cloud-ipv4": _SCAN,
    "tenable-cloud-ipv6": _SCAN,
    # Search and AI crawlers.
    "googlebot": "crawlers",
    "openai-gptbot": "crawlers",
    # Sinkholes and resolver block pages.
    "sinkholes": "sinkholes",
    "umbrella-blockpage-hostname": "sinkholes",
    "umbrella-blockpage-v4": "sinkholes",
    "umbrella-blockpage-v6": "sinkholes",
    # Services that tell a client its address or test connectivity.
    "captive-portals": "ip-check",
    "findip-host": "ip-check",
    "whats-my-ip": "ip-check",
    # Special-use ranges and names.
    "ipv6-linklocal": "reserved",
    "multicast": "reserved",
    "rfc1918": "reserved",
    "rfc3849": "reserved",
    "rfc5735": "reserved",
    "rfc6598": "reserved",
    "rfc6761": "reserved",
    # Clouds (multi-tenant ranges).
    "amazon-aws": "cloud",
    "github": "cloud",
    "google-gcp": "cloud",
    "microsoft-azure": "cloud",
    "microsoft-azure-china": "cloud",
    "microsoft-azure-germany": "cloud",
    "microsoft-azure-us-gov": "cloud",
    "microsoft-office365-cn": "cloud",
    "microsoft-office365-ip": "cloud",
    "ovh-cluster": "cloud",
    "zscaler": "cloud",
    # CDNs.
    "akamai": "cdn",
    "cloudflare": "cdn",
    "fastly": "cdn",
    "stackpath": "cdn",
    # Names anyone can publish under, or that forward to anyone.
    "dynamic-dns": "dynamic-dns",
    "lots-project": "lots",
    "link-in-bio": "shared-platform",
    "public-ipfs-gateways": "shared-platform",
    "url-shortener": "shared-platform",
    # Shared mail infrastructure, VPN exits, parking services, public suffixes.
    "google-gmail-sending-ips": "mail",
    "smtp-receiving-ips": "mail",
    "smtp-sending-ips": "mail",
    "vpn-ipv4": "vpn",
    "vpn-ipv6": "vpn",
    "parking-domain": "parking",
    "parking-domain-ns": "parking",
    "second-level-tlds": "tld",
    "tlds": "tld",
    # Not about addresses or names.
    "common-contact-emails": "not-network",
    "common-ioc-false-positive": "not-network",
    "disposable-email": "not-network",
    "eicar.com": "not-network",
    "empty-hashes": "not-network",
    "microsoft-azure-appid": "not-network",
    "mozilla-CA": "not-network",
    "mozilla-IntermediateCA": "not-network",
    "nioc-filehash": "not-network",
    "phone_numbers": "not-network",
    "ti-falsepositives": "not-network",
}

# Families of lists published upstream after the bundled package, tried in order.
CATEGORY_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("amazon-", "cloud"),
    ("microsoft-azure", "cloud"),
    ("google-gcp", "cloud"),
    ("oracle-cloud", "cloud"),
    ("ovh-", "cloud"),
    ("cloudflare-top", _TOP),
    ("cloudflare", "cdn"),
    ("akamai", "cdn"),
    ("fastly", "cdn"),
    ("stackpath", "cdn"),
    ("tranco", _TOP),
    ("cisco_top", _TOP),
    ("alexa", _TOP),
    ("majestic", _TOP),
    ("umbrella-blockpage", "sinkholes"),
    ("umbrella", _TOP),
    ("public-dns", "public-dns"),
    ("rfc", "reserved"),
    ("multicast", "reserved"),
    ("dynamic-dns", "dynamic-dns"),
    ("parking", "parking"),
    ("crl-", "crl"),
    ("lots", "lots"),
    ("tlds", "tld"),
    ("second-level-tlds", "tld"),
    ("vpn-", "vpn"),
    ("sinkhole", "sinkholes"),
)

_SCANNER_SUFFIXES = ("-nt-scanning", "-scanning", "-scanner")


def category_for(list_name: str) -> str:
    """The category of a warninglist from its directory name (``other`` when unknown)."""
    if list_name in CATEGORY_BY_LIST:
        return CATEGORY_BY_LIST[list_name]
    for prefix, category in CATEGORY_BY_PREFIX:
        if list_name.startswith(prefix):
            return category
    if list_name.endswith(_SCANNER_SUFFIXES):
        return _SCAN
    return "other"


def meaning_for(category: str) -> str:
    """What a hit in ``category`` means for an action: one of :data:`MEANINGS`."""
    return MEANING_BY_CATEGORY.get(category, CONTEXT)
