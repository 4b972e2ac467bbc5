"""The one table of registry limits: how fast, and how much a day, each registry may be asked.

Registries throttle or block clients that exceed their limits, and some block for long: AFRINIC
blocks an address for a year after repeated 24-hour blocks, LACNIC blocked clients that kept
well under its published rate. Every request the enrichment sources send is therefore charged
to one *registry*: a named set of servers (RDAP and WHOIS hosts of the same organisation share
one budget, since the organisation counts them together) with a token bucket and, where the
registry publishes one, a daily quota. ``docs/registry-limits.md`` is generated from
:data:`REGISTRIES` (a unit test keeps the two identical), so users read the same numbers the
code applies.

A host the table does not list is its own registry, named by the host, with the configured
default limit: that is how each TLD's RDAP server is limited (keyed per host, so two TLDs run
by one back-end operator on different hosts get one budget each).

Daily quotas are counted per UTC day. Where a registry counts over any 24 hours (RIPE,
AFRINIC), the quota per UTC day is half the published figure: two adjacent UTC days then never
add up to more than the published figure within any 24 hours.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_FIGURE = "no published figure; conservative value"


@dataclass(frozen=True)
class RegistryLimit:
    """The limits of one registry.

    Attributes:
        name: the registry's name, used in counters, pause and quota keys and failure reasons.
        hosts: host names (or ``host:port`` for servers on a non-standard port) it covers.
        requests / period: the average rate, ``requests`` per ``period`` seconds.
        burst: how many requests may go out back to back after a quiet spell.
        daily_quota: requests per UTC day, or None when the registry publishes no quota.
        source: where the numbers come from, or :data:`NO_FIGURE`.
        note: why the client's value differs from the published one, if it does.
    """

    name: str
    hosts: tuple[str, ...]
    requests: int
    period: float
    burst: int
    daily_quota: int | None
    source: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.requests < 1 or self.period <= 0 or self.burst < 1:
            raise ValueError(f"{self.name}: requests and burst must be >= 1 and period > 0")
        if self.daily_quota is not None and self.daily_quota < 1:
            raise ValueError(f"{self.name}: a daily quota must be at least 1")

    @property
    def rate(self) -> float:
        """Requests per second on average."""
        return self.requests / self.period


LACNIC_SLIDES = (
    "LACNIC's RDAP Service (A. Formoso, GTER 41, May 2016): 10 queries per minute and "
    "1,000 per hour per address"
)
RIPE_AUP = (
    "RIPE Database Acceptable Use Policy (ripe.net/manage-ips-and-asns/db/support/documentation/"
    "ripe-database-acceptable-use-policy): 1,000 personal data sets per 24 hours"
)
AFRINIC_FAQ = (
    "AFRINIC WHOIS FAQ (afrinic.net/support/whois/faq/daily-whois-query-limit): 5,000 person-object "
    "queries per address per day; blocked for a year after more than 10 blocks in 3 months"
)
CYMRU_PAGE = (
    "team-cymru.com/ip-asn-mapping: no figure; addresses sending many single WHOIS queries "
    "are null-routed, DNS is the recommended interface"
)

REGISTRIES: tuple[RegistryLimit, ...] = (
    RegistryLimit(
        "RIPE",
        ("rdap.db.ripe.net", "whois.ripe.net"),
        2,
        1.0,
        2,
        500,
        RIPE_AUP,
        "rate: no published figure. Every RDAP or WHOIS query to RIPE is counted as one "
        "personal data set (an answer about a network usually carries its contacts), and the "
        "quota per UTC day is half the 24-hour figure",
    ),
    RegistryLimit("ARIN", ("rdap.arin.net", "whois.arin.net"), 2, 1.0, 2, None, NO_FIGURE),
    RegistryLimit("APNIC", ("rdap.apnic.net", "whois.apnic.net"), 2, 1.0, 2, None, NO_FIGURE),
    RegistryLimit(
        "LACNIC",
        ("rdap.lacnic.net", "whois.lacnic.net"),
        5,
        60.0,
        1,
        None,
        LACNIC_SLIDES,
        "half the published rate: clients sending 6 a minute were still blocked; 5 a minute "
        "also stays under the hourly limit (300 < 1,000)",
    ),
    RegistryLimit(
        "AFRINIC",
        ("rdap.afrinic.net", "whois.afrinic.net"),
        1,
        2.0,
        1,
        2500,
        AFRINIC_FAQ,
        "very conservative, as a block can last a year: rate has no published figure; the "
        "quota per UTC day is half the published daily figure, every query counted",
    ),
    RegistryLimit("JPRS", ("whois.jprs.jp",), 1, 2.0, 1, None, NO_FIGURE),
    RegistryLimit("Team Cymru WHOIS", ("whois.cymru.com",), 1, 1.0, 1, None, CYMRU_PAGE),
    RegistryLimit(
        "Team Cymru DNS",
        (),
        10,
        1.0,
        10,
        None,
        CYMRU_PAGE,
        "asked through the local resolver, so charged by name, not by host",
    ),
    RegistryLimit("IANA bootstrap", ("data.iana.org",), 1, 1.0, 4, None, NO_FIGURE),
)

TLD_RDAP_DEFAULT_NOTE = (
    "every other host (each TLD's RDAP server, registrars' RDAP servers) is its own registry, "
    "named by the host, with the configured default limit"
)
CYMRU_DNS = "Team Cymru DNS"


def registry_table(
    registries: tuple[RegistryLimit, ...] = REGISTRIES,
    default_rate: float = 1.0,
    default_burst: int = 2,
) -> str:
    """The Markdown table of ``registries`` and the default, as in docs/registry-limits.md."""
    lines = [
        "| Registry | Hosts | Rate | Burst | Daily quota | Source | Note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in registries:
        hosts = ", ".join(f"`{h}`" for h in r.hosts) or "(by name)"
        quota = f"{r.daily_quota:,}" if r.daily_quota is not None else "none"
        rate = f"{r.requests} per {r.period:g} s"
        lines.append(
            f"| {r.name} | {hosts} | {rate} | {r.burst} | {quota} | {r.source} | {r.note} |"
        )
    lines.append(
        f"| any other host | (per host) | {default_rate:g} per 1 s | {default_burst} | none "
        f"| {NO_FIGURE} | {TLD_RDAP_DEFAULT_NOTE} |"
    )
    return "\n".join(lines) + "\n"
