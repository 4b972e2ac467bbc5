"""Domain WHOIS through asyncwhois (enrichment.whois_domain), on real registry answers.

The answers are the recorded ones in ``../shared/fixtures/whois-texts`` (one per TLD, see its
PROVENANCE.md), found next to the RDAP fixtures (``ATTRIBUTION_FIXTURES_DIR``); they are never
copied into the repository and the tests that need them skip, naming the folder, when absent.
Every expected value below was written by hand from the answer's text. Dates the text states
without a zone are read as UTC; asyncwhois keeps only the date of .cl and .fi answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from pathlib import Path

import pytest

from enrichment import domain_registration
from enrichment.clients import EnrichmentClients
from enrichment.config import EnrichmentConfig, RetryPolicy
from enrichment.failures import PermanentError, QuotaExhausted, TransientError
from enrichment.observations import DomainRegistration, Provenance
from enrichment.registries import RegistryLimit
from enrichment.whois_domain import merge_registrar, parse_whois_domain, registrar_referral

REPO = Path(__file__).resolve().parents[2]
TEXTS = Path(
    os.environ.get("ATTRIBUTION_FIXTURES_DIR", REPO.parent / "shared/fixtures/rdap-whois-asn")
).parent.joinpath("whois-texts")
AT = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
GOOGLE_NS = ("ns1.google.com", "ns2.google.com", "ns3.google.com", "ns4.google.com")
GDOMAINS_NS = tuple(f"ns{i}.googledomains.com" for i in range(1, 5))

needs_texts = pytest.mark.skipif(
    not (TEXTS / "tld_com.txt").exists(),
    reason=f"recorded WHOIS answers not found at {TEXTS} (next to ATTRIBUTION_FIXTURES_DIR)",
)


def _t(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, us, tzinfo=dt.UTC)


# tld, domain, registrar, created, updated, expires, name servers (in the answer's order),
# one status the answer states.
CASES = [
    (
        "ai",
        "google.ai",
        "Markmonitor",
        _t(2017, 12, 16, 5, 37, 20, 801000),
        _t(2019, 8, 24, 9, 32, 27, 549000),
        _t(2021, 9, 25, 5, 37, 20, 856000),
        ("ns3.zdns.google", "ns4.zdns.google", "ns1.zdns.google", "ns2.zdns.google"),
        "clientupdateprohibited",
    ),
    (
        "app",
        "google.app",
        "MarkMonitor Inc.",
        _t(2018, 3, 29, 16, 2, 13),
        _t(2020, 3, 2, 10, 35, 15),
        _t(2021, 3, 29, 16, 2, 13),
        GDOMAINS_NS,
        "clientdeleteprohibited",
    ),
    (
        "ar",
        "google.ar",
        "nicar",
        _t(2019, 11, 1, 12, 21, 37, 677445),
        _t(2019, 11, 1, 12, 28, 38, 182736),
        _t(2020, 11, 1),
        ("ns1.markmonitor.com", "ns3.markmonitor.com"),
        None,
    ),
    (
        "aw",
        "google.aw",
        "SETAR N.V.",
        _t(2017, 9, 13),
        _t(2018, 5, 21),
        None,
        GDOMAINS_NS,
        "active",
    ),
    (
        "ax",
        "google.ax",
        "xTom",
        _t(2016, 9, 8),
        _t(2020, 9, 5),
        _t(2021, 9, 8),
        ("kate.ns.cloudflare.com", "merlin.ns.cloudflare.com"),
        "registered",
    ),
    (
        "be",
        "google.be",
        "MarkMonitor Inc.",
        _t(2000, 12, 12),
        None,
        None,
        ("ns2.google.com", "ns1.google.com", "ns4.google.com", "ns3.google.com"),
        "not available",
    ),
    (
        "cat",
        "google.cat",
        "MarkMonitor",
        _t(2006, 2, 14, 8, 55, 44, 988000),
        _t(2021, 1, 15, 15, 8, 11, 515000),
        _t(2022, 2, 14, 8, 55, 44, 988000),
        GOOGLE_NS,
        "clienttransferprohibited",
    ),
    (
        "cc",
        "apple.cc",
        "CSC CORPORATE DOMAINS, INC.",
        _t(2002, 8, 4, 23, 51, 3),
        _t(2016, 11, 12, 0, 19, 39),
        _t(2024, 8, 4, 23, 51, 3),
        ("d.ns.apple.com", "a.ns.apple.com", "c.ns.apple.com", "b.ns.apple.com"),
        "clienttransferprohibited",
    ),
    (
        "cl",
        "google.cl",
        "MarkMonitor Inc.",
        _t(2002, 10, 22),
        None,
        _t(2020, 11, 20),
        GOOGLE_NS,
        None,
    ),
    (
        "cn",
        "google.cn",
        "厦门易名科技股份有限公司",
        _t(2003, 3, 17, 12, 20, 5),
        None,
        _t(2022, 3, 17, 12, 48, 36),
        ("ns2.google.com", "ns1.google.com", "ns3.google.com", "ns4.google.com"),
        "serverdeleteprohibited",
    ),
    (
        "co",
        "google.co",
        "MarkMonitor, Inc.",
        _t(2010, 2, 25, 1, 4, 59),
        _t(2020, 1, 28, 10, 35, 17),
        _t(2021, 2, 24, 23, 59, 59),
        ("ns3.google.com", "ns1.google.com", "ns2.google.com", "ns4.google.com"),
        "clientdeleteprohibited",
    ),
    # -0700 in the text: midnight Pacific is 07:00 UTC.
    (
        "com",
        "google.com",
        "MarkMonitor, Inc.",
        _t(1997, 9, 15, 7),
        _t(2019, 9, 9, 15, 39, 4),
        _t(2028, 9, 13, 7),
        ("ns3.google.com", "ns1.google.com", "ns2.google.com", "ns4.google.com"),
        "serverdeleteprohibited",
    ),
    (
        "cr",
        "amazon.cr",
        "COMLAUDE",
        _t(2008, 3, 23, 18),
        _t(2021, 2, 5, 7, 2, 42),
        _t(2022, 3, 24),
        (
            "pdns1.ultradns.net",
            "ns2.p31.dynect.net",
            "pdns6.ultradns.co.uk",
            "pdns2.ultradns.net",
            "pdns5.ultradns.info",
            "ns3.p31.dynect.net",
            "pdns3.ultradns.org",
            "pdns4.ultradns.org",
            "ns1.p31.dynect.net",
        ),
        None,
    ),
    (
        "cz",
        "amazon.cz",
        "REG-NOMIQ",
        _t(1997, 9, 19, 2),
        _t(2017, 1, 12, 16, 58, 49),
        _t(2021, 10, 28),
        (
            "pdns1.ultradns.net",
            "pdns2.ultradns.net",
            "pdns3.ultradns.org",
            "pdns4.ultradns.org",
            "pdns5.ultradns.info",
            "pdns6.ultradns.co.uk",
        ),
        None,
    ),
    ("de", "google.de", None, None, _t(2018, 3, 12, 20, 44, 25), None, GOOGLE_NS, "connect"),
    (
        "do",
        "google.do",
        "Registrar NIC .DO (midominio.do)",
        _t(2010, 3, 8, 4),
        _t(2020, 2, 11, 18, 28, 48, 291000),
        _t(2021, 3, 8, 4),
        ("ns1.google.com", "ns2.google.com"),
        "ok",
    ),
    # +03:00 in the text.
    (
        "ee",
        "google.ee",
        "Zone Media OÜ",
        _t(2010, 7, 4, 1, 34, 46),
        _t(2019, 10, 7, 14, 50, 9),
        _t(2020, 11, 9),
        GOOGLE_NS,
        "ok",
    ),
    (
        "fi",
        "google.fi",
        "MarkMonitor Inc.",
        _t(2006, 6, 30),
        _t(2020, 6, 2),
        _t(2021, 7, 4),
        ("ns3.google.com", "ns4.google.com", "ns1.google.com", "ns2.google.com"),
        "registered",
    ),
    (
        "fr",
        "google.fr",
        "MARKMONITOR Inc.",
        _t(2000, 7, 26, 22),
        _t(2019, 11, 28, 10, 33, 6),
        _t(2020, 12, 30, 17, 16, 48),
        GOOGLE_NS,
        "active",
    ),
    (
        "ge",
        "google.ge",
        "proservice ltd",
        _t(2006, 7, 28),
        None,
        _t(2021, 7, 29),
        ("ns4.google.com", "ns3.google.com", "ns2.google.com", "ns1.google.com"),
        "ok",
    ),
    (
        "ie",
        "google.ie",
        "Markmonitor Inc",
        _t(2002, 3, 21),
        None,
        _t(2021, 3, 21),
        ("ns1.google.com", "ns2.google.com", "ns3.google.com"),
        "active",
    ),
    (
        "info",
        "google.info",
        "MarkMonitor Inc.",
        _t(2001, 7, 31, 23, 57, 50),
        _t(2020, 6, 29, 9, 38, 8),
        _t(2021, 7, 31, 23, 57, 50),
        GOOGLE_NS,
        "serverdeleteprohibited",
    ),
    (
        "me",
        "google.me",
        "MarkMonitor Inc.",
        _t(2008, 6, 13, 17, 17, 40),
        _t(2020, 5, 12, 9, 36, 44),
        _t(2021, 6, 13, 17, 17, 40),
        ("ns1.google.com", "ns2.google.com", "ns4.google.com", "ns3.google.com"),
        "clientupdateprohibited",
    ),
    (
        "nl",
        "google.nl",
        "MarkMonitor Inc.",
        _t(1999, 5, 27),
        _t(2015, 12, 30),
        None,
        GOOGLE_NS,
        "active",
    ),
    # .pl: the registration runs to the "renewal date"; "option expiration date" is an option's.
    (
        "pl",
        "google.pl",
        "Markmonitor, Inc.",
        _t(2002, 9, 19, 13),
        _t(2020, 8, 17, 11, 37, 9),
        _t(2021, 9, 18, 14),
        GOOGLE_NS,
        None,
    ),
    (
        "ru",
        "google.ru",
        "RU-CENTER-RU",
        _t(2004, 3, 3, 21),
        None,
        _t(2021, 3, 4, 21),
        GOOGLE_NS,
        "delegated",
    ),
    # +02 in the text.
    (
        "ua",
        "google.com.ua",
        "MarkMonitor Inc.",
        _t(2002, 12, 3, 22),
        _t(2022, 11, 2, 9, 28, 26),
        _t(2023, 12, 3, 22),
        GOOGLE_NS,
        "clientupdateprohibited",
    ),
    (
        "uk",
        "google.uk",
        "Markmonitor Inc. t/a MarkMonitor Inc. [Tag = MARKMONITOR]",
        _t(2014, 6, 11),
        _t(2020, 5, 10),
        _t(2021, 6, 11),
        GDOMAINS_NS,
        "registered until expiry date",
    ),
    (
        "us",
        "google.us",
        "MarkMonitor, Inc.",
        _t(2002, 4, 19, 23, 16, 1),
        _t(2020, 3, 22, 10, 31, 37),
        _t(2021, 4, 18, 23, 59, 59),
        ("ns2.google.com", "ns4.google.com", "ns3.google.com", "ns1.google.com"),
        "clientdeleteprohibited",
    ),
    (
        "vg",
        "google.vg",
        "MarkMonitor, Inc.",
        _t(1999, 6, 5),
        _t(2020, 12, 10, 23, 2, 58),
        _t(2021, 6, 5, 23, 59, 59),
        ("ns4.google.com", "ns1.google.com", "ns3.google.com", "ns2.google.com"),
        "clienttransferprohibited",
    ),
    (
        "top",
        "com-wu.top",
        "NameSilo, LLC",
        _t(2020, 2, 25, 7),
        _t(2020, 5, 22, 7),
        _t(2021, 2, 25, 7),
        ("ns1.dnsowl.com", "ns2.dnsowl.com", "ns3.dnsowl.com"),
        "clienttransferprohibited",
    ),
    # "Updated Date: 0001-01-01T00:00:00.00Z" is a placeholder: missing, not year 1.
    (
        "xyz",
        "example.xyz",
        "NAMECHEAP INC",
        _t(2019, 10, 15, 9, 9, 55),
        None,
        _t(2020, 10, 15, 9, 9, 55),
        ("ns1.ynamesrv.xyz", "ns2.ynamesrv.xyz", "ns3.ynamesrv.xyz"),
        "servertransferprohibited",
    ),
]


def _read(tld: str) -> str:
    return (TEXTS / f"tld_{tld}.txt").read_text(encoding="utf-8")


@needs_texts
@pytest.mark.parametrize(
    ("tld", "domain", "registrar", "created", "updated", "expires", "nameservers", "status"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_real_answer(
    tld: str,
    domain: str,
    registrar: str | None,
    created: dt.datetime | None,
    updated: dt.datetime | None,
    expires: dt.datetime | None,
    nameservers: tuple[str, ...],
    status: str | None,
) -> None:
    reg = parse_whois_domain(domain, _read(tld), f"whois.nic.{tld}:43", AT)
    assert reg is not None
    assert reg.domain == domain
    assert reg.registrar == registrar
    assert (reg.created, reg.updated, reg.expires) == (created, updated, expires)
    assert reg.nameservers == nameservers
    if status is None:
        assert reg.statuses == ()
    else:
        assert status in reg.statuses
    assert reg.protocol == "whois"
    assert reg.provenance == Provenance("domain_whois", f"whois.nic.{tld}:43", AT)


def test_at_least_thirty_tlds() -> None:
    assert len({case[0] for case in CASES}) >= 30


@needs_texts
def test_registrant_privacy_and_iana_id() -> None:
    xyz = parse_whois_domain("example.xyz", _read("xyz"), "s", AT)
    assert xyz is not None
    assert (xyz.registrant_name, xyz.registrant_organization) == (
        "WhoisGuard Protected",
        "WhoisGuard, Inc.",
    )
    assert xyz.privacy_signs == ("whoisguard",)
    assert xyz.registrar_iana_id == "1068"
    app = parse_whois_domain("google.app", _read("app"), "s", AT)
    assert app is not None
    assert app.registrant_name == "REDACTED FOR PRIVACY"
    assert app.privacy_signs == ("redacted", "privacy")
    com = parse_whois_domain("google.com", _read("com"), "s", AT)
    assert com is not None
    assert (com.registrar_iana_id, com.privacy_signs) == ("292", ())


@needs_texts
def test_norid_name_server_handles_are_not_host_names() -> None:
    reg = parse_whois_domain("google.no", _read("no"), "whois.norid.no:43", AT)
    assert reg is not None
    assert reg.nameservers == ()  # NSGO26H-NORID ... are handles
    assert (reg.created, reg.updated) == (_t(2001, 2, 26), _t(2020, 1, 27))


@needs_texts
def test_jp_stays_on_the_jprs_parser() -> None:
    reg = parse_whois_domain("amazon.jp", _read("jp"), "whois.jprs.jp:43", AT)
    assert reg is not None
    assert reg.domain == "amazon.jp"
    assert reg.registrant_name == "Amazon, Inc."
    # [登録年月日] 2010/09/22 and [最終更新] 2020/10/01 01:05:09 (JST), Japan time.
    assert reg.created == _t(2010, 9, 21, 15)
    assert reg.updated == _t(2020, 9, 30, 16, 5, 9)
    assert reg.statuses == ("active",)
    assert reg.nameservers[:2] == ("pdns1.ultradns.net", "pdns6.ultradns.co.uk")


THIN = """\
Whois Server Version 2.0

Domain names in the .com and .net domains can now be registered
with many different competing registrars.

   Domain Name: GOOGLE.COM.SPOOF.EXAMPLE.NET
   Registrar: EVIL REGISTRAR LLC
   Creation Date: 2020-01-01T00:00:00Z
   Registrar WHOIS Server: whois.evil.example

   Domain Name: GOOGLE.COM
   Registry Domain ID: 2138514_DOMAIN_COM-VRSN
   Registrar WHOIS Server: whois.markmonitor.com
   Updated Date: 2019-09-09T15:39:04Z
   Creation Date: 1997-09-15T04:00:00Z
   Registry Expiry Date: 2028-09-14T04:00:00Z
   Registrar: MarkMonitor Inc.
   Registrar IANA ID: 292
   Domain Status: clientDeleteProhibited https://icann.org/epp#clientDeleteProhibited
   Name Server: NS1.GOOGLE.COM
   Name Server: NS2.GOOGLE.COM

   Domain Name: GOOGLE.COM.ZZZ.EXAMPLE.ORG
   Registrar: ANOTHER SPOOF INC

>>> Last update of whois database: 2020-06-08T18:56:31Z <<<
"""


def test_spoofed_records_never_supply_values() -> None:
    reg = parse_whois_domain("google.com", THIN, "whois.verisign-grs.com:43", AT)
    assert reg is not None
    assert reg.registrar == "MarkMonitor Inc."
    assert reg.created == _t(1997, 9, 15, 4)
    assert reg.expires == _t(2028, 9, 14, 4)
    assert reg.nameservers == ("ns1.google.com", "ns2.google.com")
    assert reg.registrar_iana_id == "292"
    assert registrar_referral("google.com", THIN, "whois.verisign-grs.com:43") == (
        "whois.markmonitor.com"
    )


def test_an_answer_about_other_domains_only_is_an_error() -> None:
    with pytest.raises(PermanentError, match=r"is about google\.com\.spoof\.example\.net"):
        parse_whois_domain("example.com", THIN.replace("GOOGLE.COM\n", "GOOGLE.ORG\n"), "s", AT)


@pytest.mark.parametrize(
    "text",
    [
        'No match for "EXAMPLE-NONE.COM".\n>>> Last update of whois database: x <<<\n',
        "NOT FOUND\n",
        "%ERROR:101: no entries found\n%\n% No entries found.\n",
        "Domain Status: No Object Found\n",
        "No Data Found\n",
        "The queried object does not exist: DOMAIN NOT FOUND\n",
        "Domain: example-none.de\nStatus: free\n",
    ],
)
def test_no_match_is_no_data(text: str) -> None:
    assert parse_whois_domain("example-none.com", text, "s", AT) is None


@pytest.mark.parametrize(
    "text",
    [
        "WHOIS LIMIT EXCEEDED - SEE WWW.PIR.ORG/WHOIS FOR DETAILS\n",
        "% Quota exceeded\n",
        "Your connection limit exceeded. Please slow down and try again later.\n",
        "%ERROR:201: access denied\n",
        "Too many queries from your IP, please try again later\n",
    ],
)
def test_rate_limit_notice_is_transient(text: str) -> None:
    with pytest.raises(TransientError, match="over limit") as raised:
        parse_whois_domain("example.org", text, "whois.example:43", AT)
    assert raised.value.over_limit


@needs_texts
def test_terms_that_mention_limits_are_not_a_notice() -> None:
    # Donuts' terms: "If too many queries are received ..."; .co: "exceeding query rate".
    assert parse_whois_domain("amazon.live", _read("live"), "s", AT) is not None
    assert parse_whois_domain("google.co", _read("co"), "s", AT) is not None


def test_merge_keeps_the_registry_and_adds_the_registrant() -> None:
    registry = parse_whois_domain("google.com", THIN, "registry", AT)
    registrar_text = (
        "Domain Name: google.com\nRegistrar: MarkMonitor, Inc.\n"
        "Creation Date: 1997-09-15T07:00:00+0000\n"
        "Registrant Name: REDACTED FOR PRIVACY\nRegistrant Organization: Google LLC\n"
    )
    registrar = parse_whois_domain("google.com", registrar_text, "registrar", AT)
    assert registry is not None and registrar is not None
    merged = merge_registrar(registry, registrar)
    assert merged.registrar == "MarkMonitor Inc."
    assert merged.created == _t(1997, 9, 15, 4)
    assert (merged.registrant_name, merged.registrant_organization) == (
        "REDACTED FOR PRIVACY",
        "Google LLC",
    )
    assert merged.privacy_signs == ("redacted", "privacy")
    assert merged.provenance.server == "registry"


# A thin registry refers to its registrar's WHOIS server; both are tiny loopback servers here
# (the registrar on 127.0.0.2, so the referral names a host other than the registry's).
REFERRING = THIN.replace("whois.markmonitor.com", "127.0.0.2")
REGISTRAR_ANSWER = (
    "Domain Name: google.com.spoof.example.net\nRegistrant Organization: Evil Corp\n\n"
    "Domain Name: google.com\nRegistrar: MarkMonitor, Inc.\n"
    "Creation Date: 2001-01-01T00:00:00+0000\n"
    "Registrant Name: REDACTED FOR PRIVACY\nRegistrant Organization: Google LLC\n"
)


async def _serve(host: str, answer: bytes, asked: list[str]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append((await reader.readline()).decode().strip())
        writer.write(answer)
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, 0)


def _port(server: asyncio.Server) -> int:
    return int(server.sockets[0].getsockname()[1])


async def _thin_lookup(
    registrar_answer: bytes, monkeypatch: pytest.MonkeyPatch, quota: int | None = None
) -> tuple[list[tuple[DomainRegistration, int] | BaseException], list[str]]:
    asked: list[str] = []
    registry = await _serve("127.0.0.1", REFERRING.encode(), asked)
    registrar = await _serve("127.0.0.2", registrar_answer, asked)
    monkeypatch.setattr(domain_registration, "REGISTRAR_WHOIS_PORT", _port(registrar))
    limits = (RegistryLimit("Registrar", (f"127.0.0.2:{_port(registrar)}",), 9, 1, 9, quota, ""),)
    config = EnrichmentConfig(
        whois_servers={"com": ("127.0.0.1", _port(registry))},
        retry=RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0),
        registries=limits,
        whois_over_limit_pause=0.01,
    )
    clients = EnrichmentClients.create(config, seed=1)
    found: list[tuple[DomainRegistration, int] | BaseException] = []
    try:
        for _ in range(2 if quota else 1):
            try:
                found.append(await domain_registration._via_whois("google.com", "com", clients))
            except QuotaExhausted as error:
                found.append(error)
    finally:
        await clients.aclose()
        for server in (registry, registrar):
            server.close()
            await server.wait_closed()
    return found, asked


def test_thin_registry_referral_fills_only_what_the_registry_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found, asked = asyncio.run(_thin_lookup(REGISTRAR_ANSWER.encode(), monkeypatch))
    assert asked == ["google.com", "google.com"]
    reg, attempts = found[0]  # type: ignore[misc]
    assert attempts == 2
    assert (reg.registrar, reg.created) == ("MarkMonitor Inc.", _t(1997, 9, 15, 4))
    assert (reg.registrant_name, reg.registrant_organization) == (
        "REDACTED FOR PRIVACY",
        "Google LLC",
    )
    assert reg.privacy_signs == ("redacted", "privacy")
    assert reg.provenance.server.startswith("127.0.0.1:")


@pytest.mark.parametrize(
    "answer",
    [b"", b"Rate limit exceeded\n", b"Domain Name: other.com\nRegistrar: X\n", b"No match\n"],
)
def test_a_failing_referral_leaves_the_registry_answer(
    answer: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    found, asked = asyncio.run(_thin_lookup(answer, monkeypatch))
    reg, attempts = found[0]  # type: ignore[misc]
    retried = answer in (b"", b"Rate limit exceeded\n")
    assert attempts == (3 if retried else 2)
    assert asked == ["google.com"] * attempts
    assert (reg.registrar, reg.registrant_name, reg.registrant_organization) == (
        "MarkMonitor Inc.",
        None,
        None,
    )


def test_a_spent_registrar_quota_defers_the_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    found, asked = asyncio.run(_thin_lookup(REGISTRAR_ANSWER.encode(), monkeypatch, quota=1))
    assert found[0][1] == 2  # type: ignore[index]
    assert isinstance(found[1], QuotaExhausted)
    assert asked == ["google.com"] * 3


@needs_texts
def test_what_is_not_read_is_noted() -> None:
    xyz = parse_whois_domain("example.xyz", _read("xyz"), "s", AT)
    assert xyz is not None and xyz.notes == (
        "updated: placeholder date '0001-01-01 00:00:00+00:00'",
    )
    no = parse_whois_domain("google.no", _read("no"), "s", AT)
    assert no is not None and no.notes == ("name servers: not host names 'NSGO26H-NORID'",)


def test_an_unreadable_date_is_missing_with_a_note() -> None:
    text = "Domain Name: example.com\nCreation Date: before 1995\nExpiry Date: 2030-01-02\n"
    reg = parse_whois_domain("example.com", text, "s", AT)
    assert reg is not None
    assert (reg.created, reg.expires) == (None, _t(2030, 1, 2))
    assert reg.notes == ("created: unreadable date 'before 1995'",)
    jprs = "[Domain Name]  EXAMPLE.JP\n[Created on]  sometime\n[Expires on]  2026/02/28\n"
    jp = parse_whois_domain("example.jp", jprs, "s", AT)
    assert jp is not None and jp.created is None
    assert jp.notes == ("created: unreadable date 'sometime'",)
