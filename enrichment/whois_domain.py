"""Domain WHOIS answers read through asyncwhois, the maintained parser (see docs/whois-parsers.md).

:func:`parse_whois_domain` turns the text a registry's port-43 server sent into a
:class:`DomainRegistration`. Before asyncwhois reads anything, the answer is checked and cut:

- a rate-limit notice ("rate limit exceeded", "quota exceeded") raises :class:`TransientError`
  marked ``over_limit``; a "no match" in the registry's own words means no data (None);
- the answer is cut into records at each ``Domain Name:`` (or ``Server Name:``) line, and only
  the record naming the domain asked is parsed. Thin registries list other domains' records,
  some made on purpose (``GOOGLE.COM.SPOOF.EXAMPLE``) to inject a registrar; they never
  supply a value. An answer whose only named records are other domains is an error.

JPRS (.jp) answers in the ``[Key] value`` layout keep their own parser
(:func:`enrichment.domain_registration.parse_jprs_whois`). A value asyncwhois cannot read
(an unparsed date, a ``0001-01-01`` placeholder, a name server handle that is not a host name)
is left missing, never guessed, with a note on the registration saying what was not read. :func:`registrar_referral` names the registrar's WHOIS server a
thin registry refers to, and :func:`merge_registrar` overlays what it answers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

from asyncwhois import tldparsers
from asyncwhois.parse import TLDBaseKeys

from enrichment.failures import PermanentError, TransientError
from enrichment.observations import DomainRegistration, Provenance

VIA_WHOIS = "domain_whois"

# The first domain names were registered in 1985; an earlier date is a placeholder.
_EARLIEST = dt.datetime(1985, 1, 1, tzinfo=dt.UTC)

_JPRS_LAYOUT = re.compile(r"^\s*(?:[a-z]\.\s*)?\[(Domain Name|ドメイン名)\]", re.MULTILINE)

# "No such domain" as registries word it, at the start of a line (comment marks and RIPE-style
# error codes allowed before it): a sentence in the terms of use never matches.
_NO_MATCH = re.compile(
    r"^[ \t%#>]*(?:ERROR:\d+:\s*)?(?:No match|NOT FOUND|No entries found|No Data Found|"
    r"Domain not found|No Object Found|Object does not exist|The queried object does not exist|"
    r"Domain name not known|Domain Status:\s*No Object Found|Status:\s*(?:free|AVAILABLE)\s*$|"
    r"This domain name has not been registered|No matching record|該当するデータがありません)",
    re.IGNORECASE | re.MULTILINE,
)

# Rate-limit notices. Only short lines are read, so terms of use that mention limits ("if too
# many queries are received ...", "rate limited") are not taken for a notice.
_OVER_LIMIT = re.compile(
    r"rate limit exceeded|query limit exceeded|limit exceeded|quota exceeded|"
    r"too many (?:queries|requests|connections)|queries exceeded|"
    r"exceeded (?:the )?(?:allowed|maximum)|access control limit|error:201: access denied",
    re.IGNORECASE,
)
_NOTICE_MAX_LINE = 160

# A line that starts a record: "Domain Name: x", "domain....: x", "Server Name: x", or the
# key alone with the name on the next line ("Domain name:\n    google.uk").
_RECORD_KEY = re.compile(
    r"^[ \t]*(?:domain(?:[ _]?name)?|server name)[ \t.]*:[ \t]*(?P<value>\S*)[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_NAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9])?\.[a-z0-9-]+\.?$", re.IGNORECASE)

_REFERRAL = re.compile(
    r"^[ \t]*(?:Registrar WHOIS Server|refer|Whois Server)[ \t]*:[ \t]*(?P<host>\S+)",
    re.IGNORECASE | re.MULTILINE,
)


def check_over_limit(text: str, server: str) -> None:
    """Raise an over-limit :class:`TransientError` when a short line is a rate-limit notice."""
    for line in text.splitlines():
        if len(line) <= _NOTICE_MAX_LINE and _OVER_LIMIT.search(line):
            error = TransientError(f"WHOIS {server} over limit: {line.strip()[:120]}", server)
            error.over_limit = True
            raise error


def says_no_match(text: str) -> bool:
    """Whether the answer says, in the registry's words, that the domain is not registered."""
    return bool(_NO_MATCH.search(text))


def _named(text: str, match: re.Match[str]) -> str | None:
    """The domain a record line names: on the line itself, or alone on the next line."""
    value = match["value"]
    if not value:
        rest = text[match.end() :].lstrip("\r\n")
        next_line = rest.split("\n", 1)[0].strip()
        value = next_line.split()[0] if next_line and ":" not in next_line else ""
    value = value.strip().rstrip(".").lower()
    return value if _NAME.match(value) else None


def _same_name(a: str, b: str) -> bool:
    def ascii_form(name: str) -> str:
        try:
            return name.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return name.lower()

    return ascii_form(a.rstrip(".")) == ascii_form(b.rstrip("."))


def own_record(domain: str, text: str, server: str) -> str:
    """The part of the answer that is the record of ``domain``.

    The whole text when no record line names a domain (some registries leave the name out);
    otherwise the record lines naming ``domain``, each up to the next record line.

    Raises:
        PermanentError: the answer names other domains only.
    """
    starts = [(m.start(), _named(text, m)) for m in _RECORD_KEY.finditer(text)]
    named = [(start, name) for start, name in starts if name]
    if not named:
        return text
    bounds = [start for start, _ in named] + [len(text)]
    parts = [
        text[bounds[i] : bounds[i + 1]]
        for i, (_, name) in enumerate(named)
        if _same_name(name, domain)
    ]
    if not parts:
        others = ", ".join(sorted({name for _, name in named}))[:200]
        raise PermanentError(f"WHOIS answer from {server} is about {others}, not {domain}", server)
    return "\n".join(parts)


def _date(value: Any) -> dt.datetime | None:
    """A parsed date in UTC (naive dates are read as UTC); None for text and placeholders."""
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, dt.datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    value = value.astimezone(dt.UTC)
    return value if value >= _EARLIEST else None


def _dates(fields: dict[str, Any]) -> tuple[dict[str, dt.datetime | None], tuple[str, ...]]:
    """Created, updated and expires, and a note for each one stated but not readable."""
    dates: dict[str, dt.datetime | None] = {}
    notes: list[str] = []
    for key in ("created", "updated", "expires"):
        raw = fields.get(key)
        dates[key] = _date(raw)
        shown = _text(raw)
        if dates[key] is None and shown:
            first = raw[0] if isinstance(raw, list) else raw
            what = "placeholder date" if isinstance(first, dt.datetime) else "unreadable date"
            notes.append(f"{key}: {what} {shown[:40]!r}")
    return dates, tuple(notes)


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if v and str(v).strip()), None)
    text = str(value).strip() if value is not None else ""
    return text or None


def _statuses(values: Any) -> tuple[str, ...]:
    """Status words without the ICANN link or a parenthesised remark, lower case."""
    found: list[str] = []
    for value in values if isinstance(values, list) else [values]:
        text = re.sub(r"\(?https?://\S+\)?|\(.*?\)", "", str(value or ""))
        for word in text.split(","):
            word = word.strip().rstrip(".").strip().lower()
            if word and word not in found:
                found.append(word)
    return tuple(found)


def _nameservers(values: Any) -> tuple[str, ...]:
    """Host names only: registries that list name server handles (NORID) give none."""
    found: list[str] = []
    for value in values if isinstance(values, list) else [values]:
        words = str(value or "").split()
        host = words[0].rstrip(".").lower() if words else ""
        if _NAME.match(host) and host not in found:
            found.append(host)
    return tuple(found)


# Where asyncwhois's rule for a TLD reads the wrong line: .ar's "created:" is a contact's (the
# domain's date is "registered:"); .pl's "option expiration date:" ends an option to register,
# the registration itself runs to its "renewal date:".
_CORRECTIONS: dict[str, dict[str, str]] = {
    "ar": {TLDBaseKeys.CREATED: r"registered: *(.+)"},
    "pl": {TLDBaseKeys.EXPIRES: r"renewal date: *(.+)"},
}


def _asyncwhois(record: str, tld: str) -> dict[str, Any]:
    """asyncwhois's parser for the TLD (its generic one where it has none) on one record."""
    parser = getattr(tldparsers, f"Regex{tld.upper()}", tldparsers.TLDParser)()
    parser.update_reg_expressions(_CORRECTIONS.get(tld, {}))
    parsed = parser.parse(record)
    return {getattr(key, "value", key): value for key, value in parsed.items()}


def parse_whois_domain(
    domain: str, text: str, server: str, retrieved_at: dt.datetime
) -> DomainRegistration | None:
    """Parse a domain WHOIS answer; None when it says there is no such domain.

    Raises:
        TransientError: the answer is a rate-limit notice (marked ``over_limit``).
        PermanentError: the answer names other domains only, or nothing at all.
    """
    from enrichment.domain_registration import parse_jprs_whois, privacy_signs

    if _JPRS_LAYOUT.search(text):
        return parse_jprs_whois(domain, text, server, retrieved_at)
    check_over_limit(text, server)
    if says_no_match(text):
        return None
    if not text.strip():
        raise PermanentError(f"empty WHOIS answer from {server}", server)
    domain = domain.strip().rstrip(".").lower()
    fields = _asyncwhois(own_record(domain, text, server), domain.rsplit(".", 1)[-1])
    registrant = _text(fields.get("registrant_name"))
    organization = _text(fields.get("registrant_organization"))
    dates, notes = _dates(fields)
    nameservers = _nameservers(fields.get("name_servers") or [])
    listed = _text(fields.get("name_servers"))
    if listed and not nameservers:
        notes += (f"name servers: not host names {listed[:40]!r}",)
    return DomainRegistration(
        domain=domain,
        registrar=_text(fields.get("registrar")),
        created=dates["created"],
        updated=dates["updated"],
        expires=dates["expires"],
        statuses=_statuses(fields.get("status") or []),
        nameservers=nameservers,
        registrant_name=registrant,
        registrant_organization=organization,
        privacy_signs=privacy_signs([registrant, organization]),
        protocol="whois",
        provenance=Provenance(VIA_WHOIS, server, retrieved_at),
        registrar_iana_id=_text(fields.get("registrar_iana_id")),
        notes=notes,
    )


def registrar_referral(domain: str, text: str, server: str) -> str | None:
    """The registrar WHOIS server the record of ``domain`` refers to, if any.

    Read from ``Registrar WHOIS Server:``, ``refer:`` or ``Whois Server:`` in that record only;
    None when it names none, or names the server that answered.
    """
    try:
        record = own_record(domain, text, server)
    except PermanentError:
        return None
    match = _REFERRAL.search(record)
    if not match:
        return None
    host = re.sub(r"^(?:whois|https?)://", "", match["host"], flags=re.IGNORECASE)
    host = host.split("/")[0].rstrip(".").lower()
    if not _NAME.match(host) or host == server.rsplit(":", 1)[0].lower():
        return None
    return host


def merge_registrar(
    registry: DomainRegistration, registrar: DomainRegistration
) -> DomainRegistration:
    """The registry's record, completed by the registrar's where the registry left a field out.

    The registry stays authoritative for what it states (dates, statuses, name servers); the
    registrar adds the registrant and its privacy signs, which thin registries do not hold.
    """
    return dataclasses.replace(
        registry,
        registrar=registry.registrar or registrar.registrar,
        created=registry.created or registrar.created,
        updated=registry.updated or registrar.updated,
        expires=registry.expires or registrar.expires,
        statuses=registry.statuses or registrar.statuses,
        nameservers=registry.nameservers or registrar.nameservers,
        registrant_name=registry.registrant_name or registrar.registrant_name,
        registrant_organization=(
            registry.registrant_organization or registrar.registrant_organization
        ),
        privacy_signs=tuple(dict.fromkeys(registry.privacy_signs + registrar.privacy_signs)),
        registrar_iana_id=registry.registrar_iana_id or registrar.registrar_iana_id,
        notes=registry.notes + tuple(f"registrar's answer, {note}" for note in registrar.notes),
    )
