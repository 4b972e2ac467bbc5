"""Domain registration source: registrar, dates, statuses, name servers, privacy signs.

get: RDAP through the configured bootstrap (dns.json, loaded into whoisit's bootstrap), or
port-43 WHOIS at the configured server where the TLD has no RDAP service (.jp at JPRS).
transform: :func:`transform_rdap_domain` (whoisit's RDAP domain parser) and
:func:`parse_whois_domain` (JPRS ``[Key] value`` answers here, every other WHOIS layout through
asyncwhois in :mod:`enrichment.whois_domain`), each from already-fetched payloads. A thin
registry's WHOIS answer is completed once by the registrar WHOIS server it refers to.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import tldextract
import whoisit
from whoisit.bootstrap import BaseBootstrap
from whoisit.errors import ParseError, UnsupportedError
from whoisit.utils import recursive_merge

from enrichment import whois_domain
from enrichment.failures import (
    NoDataError,
    Outcome,
    PermanentError,
    QuotaExhausted,
    SourceError,
)
from enrichment.observations import (
    DomainRegistration,
    Provenance,
    SourceResult,
    result_from_error,
)
from enrichment.retry import Attempted, with_retry
from enrichment.whois_client import WhoisAnswer, whois_query

if TYPE_CHECKING:
    from enrichment.clients import EnrichmentClients

SOURCE = "domain_registration"
VIA_RDAP = "domain_rdap"
VIA_WHOIS = "domain_whois"
# Registrars' WHOIS servers (the referral of a thin registry) answer on the standard port.
REGISTRAR_WHOIS_PORT = 43

JST = dt.timezone(dt.timedelta(hours=9), "JST")

# Offline public suffix list (the snapshot bundled with tldextract): no network at import.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

# Registrant names that say the registrant is hidden, and known privacy/proxy services.
_PRIVACY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern, re.IGNORECASE))
    for label, pattern in (
        ("redacted", r"\bredacted\b"),
        ("privacy", r"\bprivacy\b"),
        ("proxy", r"\bproxy\b"),
        ("withheld", r"\bwithheld\b"),
        ("not disclosed", r"\bnot\s+disclosed\b|\bnon-public\b"),
        ("data protected", r"\bdata\s+protected\b|\bgdpr\b"),
        ("whoisguard", r"\bwhois\s*guard\b"),
        ("domains by proxy", r"\bdomains\s+by\s+proxy\b"),
        ("identity protection", r"\bidentity\s+protect"),
        ("whois protection", r"\bwhois\s+(privacy|protection|shield)\b|\bwhoisshield\b"),
    )
)

_NO_MATCH = re.compile(
    r"^\s*(No match|NOT FOUND|No entries found|No Data Found|Domain not found|"
    r"The queried object does not exist|該当するデータがありません)",
    re.IGNORECASE | re.MULTILINE,
)


def registered_domain(name: str) -> tuple[str, str]:
    """The registered domain and its TLD for a host name (``www.example.co.jp`` ->
    ``("example.co.jp", "jp")``). Names under a TLD unknown to the public suffix list
    (``.test`` in the sandbox) register at the second level."""
    name = name.strip().rstrip(".").lower()
    labels = name.split(".")
    if len(labels) < 2:
        raise ValueError(f"{name!r} is not a domain name under a TLD")
    parts = _EXTRACT(name)
    if parts.suffix and parts.domain:
        return f"{parts.domain}.{parts.suffix}", labels[-1]
    return ".".join(labels[-2:]), labels[-1]


def privacy_signs(texts: Iterable[str | None], redacted: Iterable[str] = ()) -> tuple[str, ...]:
    """Why a registrant looks hidden: matched patterns in names, plus RFC 9537 redactions."""
    signs: list[str] = []
    for text in texts:
        for label, pattern in _PRIVACY_PATTERNS:
            if text and pattern.search(text) and label not in signs:
                signs.append(label)
    for field in redacted:
        sign = f"redacted field: {field}"
        if field and sign not in signs:
            signs.append(sign)
    return tuple(signs)


def _utc(value: object) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _host(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _registrar(entities: dict[str, list[dict[str, Any]]]) -> tuple[str | None, str | None]:
    """Name and IANA id of one registrar entity: the first with a name, else the first.

    Both come from the same entity, so an answer listing several registrars never pairs one's
    name with another's id. A handle alone is the registry's own name, not the IANA id.
    """
    registrars = entities.get("registrar") or []
    chosen = next((e for e in registrars if e.get("name")), registrars[0] if registrars else {})
    iana_id = next(
        (
            str(p.get("identifier") or "").strip() or None
            for p in chosen.get("public_ids") or ()
            if p.get("type") == "IANA Registrar ID"
        ),
        None,
    )
    return chosen.get("name") or None, iana_id


def _rfc3339(value: object) -> dt.datetime | None:
    """An RDAP date (RFC 3339 as RFC 9083 requires, or a bare ISO date), else None."""
    if not isinstance(value, str) or not re.match(r"\d{4}-\d{2}-\d{2}(?:[Tt ]|$)", value.strip()):
        return None
    try:
        return dt.datetime.fromisoformat(value.strip().upper())
    except ValueError:
        return None


EVENT_DATES = {"registration": "created", "last changed": "updated", "expiration": "expires"}
"""The RDAP event actions whose dates a registration keeps, and the field each fills (the
actions whoisit reads its three dates from; a later event of an action wins, as in whoisit)."""


def _read_events(
    payload: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, dt.datetime], tuple[str, ...]]:
    """The answer without its events, the dates of :data:`EVENT_DATES` read from them, and a
    note for each event whose date is unreadable.

    whoisit reads any text as a date (``28.06.2004`` becomes 28 June), so an unreadable date is
    left out here: missing rather than guessed, and the rest of the answer kept. whoisit also
    reads every event date twice with dateutil's fuzzy parser, about a twentieth of an
    enrichment worker's time; the dates are read here once instead, and whoisit gets the answer
    without the events (its own list of them is not used).
    """
    events = payload.get("events")
    if not isinstance(events, list):
        return payload, {}, ()
    dates: dict[str, dt.datetime] = {}
    notes: list[str] = []
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("eventAction"), str):
            continue
        action = event["eventAction"].strip().lower()
        date = _rfc3339(event.get("eventDate"))
        if date is None:
            notes.append(f"{action}: unreadable date {str(event.get('eventDate'))[:40]!r}")
        elif action in EVENT_DATES:
            dates[EVENT_DATES[action]] = date
    return {**payload, "events": []}, dates, tuple(notes)


def transform_rdap_domain(
    domain: str, payload: dict[str, Any], url: str, retrieved_at: dt.datetime
) -> DomainRegistration:
    """Parse an RDAP domain answer (whoisit's parser) into a :class:`DomainRegistration`.

    Raises:
        PermanentError: the answer is not an RDAP domain object whoisit can parse.
    """
    if payload.get("objectClassName", "domain") != "domain":
        raise PermanentError(
            f"not an RDAP domain answer from {url}: {payload.get('objectClassName')!r}", url
        )
    payload, dates, notes = _read_events(payload)
    try:
        parsed = whoisit.parse(BaseBootstrap(), "domain", domain, payload)
    except (ParseError, KeyError, TypeError, AttributeError, ValueError) as error:
        raise PermanentError(f"not an RDAP domain answer from {url}: {error}", url) from error
    entities: dict[str, list[dict[str, Any]]] = parsed.get("entities") or {}
    registrar, registrar_iana_id = _registrar(entities)
    registrant = (entities.get("registrant") or [{}])[0]
    registrant_name = registrant.get("name") or None
    registrant_org = registrant.get("organisation") or None
    remarks = [
        " ".join([r.get("title") or "", *(r.get("description") or [])])
        for r in parsed.get("remarks") or []
    ]
    return DomainRegistration(
        domain=(parsed.get("name") or domain).lower(),
        registrar=registrar,
        created=_utc(dates.get("created")),
        updated=_utc(dates.get("updated")),
        expires=_utc(dates.get("expires")),
        statuses=tuple(str(s).lower() for s in parsed.get("status") or ()),
        nameservers=tuple(_host(n) for n in parsed.get("nameservers") or ()),
        registrant_name=registrant_name,
        registrant_organization=registrant_org,
        privacy_signs=privacy_signs(
            [registrant_name, registrant_org, *remarks], parsed.get("redacted") or ()
        ),
        protocol="rdap",
        provenance=Provenance(VIA_RDAP, url, retrieved_at),
        registrar_iana_id=registrar_iana_id,
        notes=notes,
    )


_JPRS_LINE = re.compile(r"^\s*(?:[a-z]\.\s*)?\[(?P<key>[^\]]+)\]\s*(?P<value>.*?)\s*$")
_JPRS_KEYS = {
    "domain name": "domain",
    "ドメイン名": "domain",
    "registrant": "registrant",
    "登録者名": "registrant",
    "name server": "nameserver",
    "ネームサーバ": "nameserver",
    "created on": "created",
    "登録年月日": "created",
    "expires on": "expires",
    "有効期限": "expires",
    "last updated": "updated",
    "最終更新": "updated",
    "status": "status",
    "状態": "status",
}
_JPRS_DATE = re.compile(r"(\d{4})/(\d{2})/(\d{2})(?:\s+(\d{2}):(\d{2}):(\d{2}))?")


def _jprs_date(value: str | None) -> dt.datetime | None:
    """JPRS dates are Japan time: ``2001/02/03`` or ``2023/03/01 01:05:04 (JST)``."""
    match = _JPRS_DATE.search(value or "")
    if not match:
        return None
    y, m, d, hh, mm, ss = (int(g) if g else 0 for g in match.groups())
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=JST).astimezone(dt.UTC)


def _status_words(value: str) -> list[str]:
    # JPRS statuses read "Active", "Connected (2024/03/31)", "To be deleted (...)".
    text = re.sub(r"\(.*?\)", "", value).strip().lower()
    return [text] if text else []


def _first(fields: dict[str, list[str]], key: str) -> str | None:
    values = fields.get(key)
    return values[0] if values else None


def parse_jprs_whois(
    domain: str, text: str, server: str, retrieved_at: dt.datetime
) -> DomainRegistration | None:
    """Parse a JPRS (.jp) WHOIS answer; None when it says there is no such domain.

    Raises:
        PermanentError: an answer that is neither "no match" nor has a ``[Domain Name]``.
    """
    if _NO_MATCH.search(text):
        return None
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = _JPRS_LINE.match(line)
        if match:
            key = _JPRS_KEYS.get(match["key"].strip().lower())
            if key and match["value"]:
                fields.setdefault(key, []).append(match["value"])
    if "domain" not in fields:
        raise PermanentError(f"WHOIS answer from {server} names no domain", server)
    registrant = _first(fields, "registrant")
    statuses = [w for v in fields.get("status", []) for w in _status_words(v)]
    dates = {key: _jprs_date(_first(fields, key)) for key in ("created", "updated", "expires")}
    notes = tuple(
        f"{key}: unreadable date {_first(fields, key)!r}"
        for key, value in dates.items()
        if value is None and _first(fields, key)
    )
    return DomainRegistration(
        domain=fields["domain"][0].lower(),
        registrar=None,
        created=dates["created"],
        updated=dates["updated"],
        expires=dates["expires"],
        statuses=tuple(statuses),
        nameservers=tuple(_host(n) for n in fields.get("nameserver", [])),
        registrant_name=registrant,
        registrant_organization=None,
        privacy_signs=privacy_signs([registrant]),
        protocol="whois",
        provenance=Provenance(VIA_WHOIS, server, retrieved_at),
        notes=notes,
    )


def parse_whois_domain(
    domain: str, text: str, server: str, retrieved_at: dt.datetime
) -> DomainRegistration | None:
    """Parse a port-43 domain WHOIS answer; None when the registry says there is no such domain.

    The JPRS parser reads ``[Key] value`` answers; every other layout goes through asyncwhois
    (:func:`enrichment.whois_domain.parse_whois_domain`), which takes values only from the
    record naming ``domain``.

    Raises:
        TransientError: the answer is a rate-limit notice (marked ``over_limit``).
        PermanentError: the answer names other domains only, or nothing at all.
    """
    return whois_domain.parse_whois_domain(domain, text, server, retrieved_at)


async def _via_rdap(
    domain: str, tld: str, clients: EnrichmentClients
) -> tuple[DomainRegistration, int] | None:
    """The RDAP answer, or None when the bootstrap has no RDAP service for the TLD."""
    bootstrap = await clients.bootstrap.whoisit_bootstrap()
    if bootstrap is None:
        return None
    try:
        endpoints, _ = bootstrap.get_dns_endpoints(tld)
    except UnsupportedError:
        return None
    base = endpoints[0] if endpoints[0].endswith("/") else endpoints[0] + "/"
    url = f"{base}domain/{domain}"
    done = await with_retry(lambda: clients.http.get_json(url), clients.config.retry, clients.rng)
    attempts = done.attempts
    payload = done.value.payload
    if clients.config.follow_registrar_rdap:
        payload, extra = await _merge_registrar(payload, clients)
        attempts += extra
    return transform_rdap_domain(domain, payload, url, done.value.retrieved_at), attempts


async def _merge_registrar(
    payload: dict[str, Any], clients: EnrichmentClients
) -> tuple[dict[str, Any], int]:
    """Overlay the registrar's RDAP answer (thin registries link it as "related")."""
    for link in payload.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") not in ("related", "registration"):
            continue
        href = str(link.get("href") or "")
        if not href or str(link.get("type") or "").startswith("text/html"):
            continue
        try:
            done = await with_retry(
                functools.partial(clients.http.get_json, href), clients.config.retry, clients.rng
            )
        except QuotaExhausted:
            raise  # the lookup waits for the quota rather than dropping the registrar's part
        except SourceError as error:
            # The registry's answer stands on its own; the registrar's only adds detail.
            return payload, error.attempts
        merged = dict(payload)
        recursive_merge(merged, done.value.payload)
        return merged, done.attempts
    return payload, 0


async def _whois(
    host: str, port: int, domain: str, clients: EnrichmentClients
) -> Attempted[WhoisAnswer]:
    """One port-43 query through the request gate, with the configured retries."""
    return await with_retry(
        lambda: whois_query(
            clients.gate,
            host,
            port,
            domain,
            clients.config.whois_timeout,
            clients.config.whois_over_limit_pause,
        ),
        clients.config.retry,
        clients.rng,
    )


async def _via_whois(
    domain: str, tld: str, clients: EnrichmentClients
) -> tuple[DomainRegistration, int]:
    server = clients.config.whois_server_for(tld)
    if server is None:
        raise PermanentError(f"no RDAP service and no WHOIS server configured for .{tld}")
    host, port = server
    done = await _whois(host, port, domain, clients)
    answer = done.value
    registration = parse_whois_domain(domain, answer.text, answer.server, answer.retrieved_at)
    if registration is None:
        error = NoDataError(f"no registration for {domain} at {answer.server}", answer.server)
        error.attempts = done.attempts
        raise error
    referral = whois_domain.registrar_referral(domain, answer.text, answer.server)
    if referral is None:
        return registration, done.attempts
    registration, extra = await _follow_referral(domain, referral, registration, clients)
    return registration, done.attempts + extra


async def _follow_referral(
    domain: str, host: str, registration: DomainRegistration, clients: EnrichmentClients
) -> tuple[DomainRegistration, int]:
    """Complete a thin registry's answer from the registrar WHOIS server it names, once.

    The registrar's server is asked through the same gate (its host gets its registry limit,
    or the default one). Only the registrar's record of ``domain`` is read, and only for
    fields the registry left empty. A spent quota propagates; any other failure of the
    registrar leaves the registry's answer standing.
    """
    try:
        done = await _whois(host, REGISTRAR_WHOIS_PORT, domain, clients)
        answer = done.value
        found = parse_whois_domain(domain, answer.text, answer.server, answer.retrieved_at)
    except QuotaExhausted:
        raise  # the lookup waits for the quota rather than dropping the registrar's part
    except SourceError as error:
        return registration, error.attempts
    if found is None:
        return registration, done.attempts
    return whois_domain.merge_registrar(registration, found), done.attempts


async def fetch_domain_registration(name: str, clients: EnrichmentClients) -> SourceResult:
    """Registration data for the registered domain of ``name``.

    RDAP when the bootstrap lists the TLD, else port-43 WHOIS at the server configured for it.
    ``no_data`` for RDAP 404 or a WHOIS "no match"; ``failed`` otherwise when nothing usable
    arrived. The result's subject is the registered domain.
    """
    try:
        domain, tld = registered_domain(name)
    except ValueError as error:
        return result_from_error(SOURCE, name, PermanentError(str(error)))
    try:
        found = await _via_rdap(domain, tld, clients)
        if found is None:
            found = await _via_whois(domain, tld, clients)
    except SourceError as error:
        return result_from_error(SOURCE, domain, error)
    registration, attempts = found
    return SourceResult(SOURCE, domain, Outcome.OK, (registration,), attempts=attempts)
