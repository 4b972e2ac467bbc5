"""Canonical identities: one normal form per domain, IP address, CIDR block and AS number.

Every indicator that enters the service goes through this module first, so that
``Bücher.Example.``, ``xn--bcher-kva.example`` and ``BÜCHER.example`` become one graph node,
and so that a value that is not an infrastructure identity is refused with a reason that
names it. Nothing here touches the network.

Decisions, each chosen so that two spellings of the same thing meet and two different
things never do:

Domains
    Surrounding whitespace is stripped, one trailing dot (the DNS root) is removed, the
    name is mapped with UTS 46 (non-transitional: ``ß`` stays ``ß`` and encodes as its own
    A-label) and every non-ASCII label is encoded to punycode under IDNA 2008. ASCII labels
    are checked as LDH (letters, digits, hyphen; no hyphen at either end) but not against
    the IDNA 2008 rule on hyphens in positions 3 and 4, because real host names such as
    ``r3---sn-abc.googlevideo.com`` have them; a label that starts with ``xn--`` must be a
    valid A-label. Labels are 1..63 octets, the name at most 253. The last label may not
    be all digits, so IPv4 literals and their typos (``192.0.2.300``) are never domains.
    An underscore is accepted only in labels left of the registrable domain
    (``_dmarc.example.com``, ``my_host.example.com``), where DNS allows it and real hosts
    use it; registries never allow it in the registered name or the suffix.
Registrable domains
    The Public Suffix List snapshot bundled with tldextract, never fetched, with ICANN
    *and* private suffixes. With private suffixes ``a.github.io`` and ``b.github.io`` are
    two registrable domains, as they are two tenants; grouping them under ``github.io``
    would make a malicious tenant taint every benign one, the failure this service exists
    to avoid.
IP addresses
    IPv4 in dotted decimal only: leading zeros (``010.0.0.1``, octal to some parsers and
    decimal to others) are refused, as are the shortened and integer forms. IPv6 is written
    compressed and in lower case; zone ids (``fe80::1%eth0``) are refused because they name
    an interface on one host, not an internet address; brackets are refused (they belong to
    URLs, see :func:`parse_url`). An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``, as a
    dual-stack socket reports an IPv4 peer) is the IPv4 host and is written as IPv4.
CIDR blocks
    ``address/prefix`` with a decimal prefix length; host bits set is an error, a netmask
    instead of a prefix length is an error. :func:`parse_indicator` turns a /32 or /128 into
    an IP identity, since it names one host.
AS numbers
    ``AS64500``, ``as64500``, ``ASN64500`` and ``64500`` are equal; range 0..4294967295.
    asdot (RFC 5396) ``1.10`` means 1 * 65536 + 10 = 65546 when given to
    :func:`canonical_asn`; :func:`parse_indicator` reads asdot only with the ``AS`` prefix,
    because a bare ``1.10`` in a list is more likely a version number than an AS.
Other values
    An e-mail address is refused: it names a person's mailbox, not infrastructure (give its
    domain on its own). A URL given where an indicator is expected yields its host; callers
    that want the URL use :func:`parse_url`, which returns both. :func:`parse_indicator`
    also reads the common defanged spellings of feeds (``example[.]com``, ``hxxp://``).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import idna
import tldextract

__all__ = [
    "MAX_DOMAIN_LENGTH",
    "TARGET_KINDS",
    "Identity",
    "IdentityKind",
    "InvalidIdentity",
    "canonical_asn",
    "canonical_cidr",
    "canonical_domain",
    "canonical_ip",
    "parse_indicator",
    "parse_target",
    "parse_url",
    "private_suffix",
    "registrable_domain",
]

MAX_DOMAIN_LENGTH = 253
MAX_LABEL_LENGTH = 63
MAX_ASN = 4_294_967_295
# Longest text any identity can be written in, with room for a URL around a host; longer
# input is refused before any parsing work is spent on it.
MAX_INPUT_LENGTH = 2048

IdentityKind = Literal["domain", "ip", "cidr", "asn"]

_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")
_LDH_UNDERSCORE_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\Z")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_ASN_TEXT = re.compile(r"(?:asn?)?((?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))?)\Z", re.IGNORECASE)
_DEFANG = (
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[dot]", "."),
    ("(dot)", "."),
    ("[:]", ":"),
    ("[://]", "://"),
)


class InvalidIdentity(ValueError):
    """A value that is not a valid identity; the message names the value and the reason."""

    def __init__(self, value: object, reason: str) -> None:
        self.value = value
        self.reason = reason
        super().__init__(f"{_show(value)}: {reason}")


@dataclass(frozen=True, slots=True)
class Identity:
    """One canonical infrastructure identity.

    ``value`` is the canonical text (or the AS number as an int); ``key`` is unique across
    kinds and is what the graph uses to merge nodes.
    """

    kind: IdentityKind
    value: str | int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"

    def __str__(self) -> str:
        return self.key


def _show(value: object, limit: int = 80) -> str:
    """A short, printable rendering of a value for messages (control characters escaped)."""
    text = value if isinstance(value, str) else repr(value)
    shown = repr(text[:limit])
    return shown + ("..." if len(text) > limit else "")


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidIdentity(value, f"{what} must be text, not {type(value).__name__}")
    if len(value) > MAX_INPUT_LENGTH:
        raise InvalidIdentity(value, f"longer than {MAX_INPUT_LENGTH} characters")
    clean = value.isascii() and value.isprintable()
    for char in () if clean else value:
        if unicodedata.category(char) in ("Cc", "Cf") and char not in " \t\r\n":
            raise InvalidIdentity(value, f"contains control or format character U+{ord(char):04X}")
    text = value.strip()
    if not text:
        raise InvalidIdentity(value, f"empty {what}")
    return text


@lru_cache(maxsize=1)
def _psl() -> tldextract.TLDExtract:
    # No suffix-list URLs and no cache directory: the snapshot shipped inside tldextract is
    # used and nothing is fetched or written.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


@lru_cache(maxsize=1 << 16)
def _psl_split(ascii_name: str) -> tuple[str, str]:
    """(registrable domain or "", public suffix or "") of an already canonical name; kept for
    the names seen last, since a batch of records names the same domains again and again."""
    result = _psl()(ascii_name)
    return result.top_domain_under_public_suffix, result.suffix


def canonical_domain(value: str) -> str:
    """The canonical form of a domain name: lower case, punycode, no trailing dot.

    Raises :class:`InvalidIdentity` for empty labels, over-long names or labels, characters
    not allowed in host names, IP literals and invalid IDNA.
    """
    if isinstance(value, str):
        return _canonical_domain_of_text(value)
    return _canonical_domain(value)


@lru_cache(maxsize=1 << 16)
def _canonical_domain_of_text(value: str) -> str:
    """:func:`_canonical_domain` kept for the names seen last (a refusal is not kept)."""
    return _canonical_domain(value)


def _canonical_domain(value: str) -> str:
    text = _check_text(value, "domain")
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise InvalidIdentity(value, "the root name is not a domain")
    if len(text) > MAX_DOMAIN_LENGTH * 4:
        raise InvalidIdentity(value, f"longer than {MAX_DOMAIN_LENGTH} characters")
    if _is_ip_literal(text):
        raise InvalidIdentity(value, "an IP address, not a domain")
    if text.isascii():
        # For ASCII input the UTS 46 mapping is exactly lower-casing; skipping it makes
        # bulk loads (warninglists, feeds) several times faster.
        mapped = text.lower()
    else:
        try:
            # UTS 46 mapping on the whole name also maps the ideographic full stop to "."
            # and folds case; STD3 rules stay off so underscores reach our own label check.
            mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
        except idna.IDNAError as exc:
            raise InvalidIdentity(value, f"not a valid internationalized name ({exc})") from None
    labels = mapped.split(".")
    encoded = [_encode_label(value, label) for label in labels]
    name = ".".join(encoded)
    if len(name) > MAX_DOMAIN_LENGTH:
        raise InvalidIdentity(value, f"longer than {MAX_DOMAIN_LENGTH} octets once encoded")
    if encoded[-1].isdigit():
        raise InvalidIdentity(value, "the last label is all digits, so this is not a domain")
    if "_" in name:
        registrable, suffix = _psl_split(name.replace("_", "u"))
        protected = registrable or suffix or encoded[-1]
        if "_" in name[len(name) - len(protected) :]:
            raise InvalidIdentity(
                value, "underscore in the registered name or public suffix is not allowed"
            )
    return name


def _encode_label(value: str, label: str) -> str:
    if not label:
        raise InvalidIdentity(value, "empty label")
    if label.isascii():
        if label.startswith("xn--"):
            try:
                unicode_label = idna.decode(label)
                if idna.encode(unicode_label).decode("ascii") != label:
                    raise idna.IDNAError("A-label does not round-trip")
            except idna.IDNAError as exc:
                raise InvalidIdentity(value, f"invalid A-label {label!r} ({exc})") from None
        elif not _LDH_LABEL.match(label):
            if _LDH_UNDERSCORE_LABEL.match(label):
                pass  # underscore: position checked once the whole name is known
            elif label.startswith("-") or label.endswith("-"):
                raise InvalidIdentity(value, f"label {label!r} starts or ends with a hyphen")
            else:
                bad = next(c for c in label if not (c.isalnum() or c in "-_"))
                raise InvalidIdentity(value, f"character {bad!r} is not allowed in a host name")
        encoded = label
    else:
        try:
            encoded = idna.alabel(label).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidIdentity(
                value, f"label {label!r} is not valid IDNA 2008 ({exc})"
            ) from None
    if len(encoded) > MAX_LABEL_LENGTH:
        raise InvalidIdentity(value, f"label longer than {MAX_LABEL_LENGTH} octets")
    return encoded


def registrable_domain(value: str) -> str | None:
    """The registrable domain (public suffix plus one label), or None for a bare suffix.

    Uses ICANN and private Public Suffix List entries (see the module docstring). Names
    under no known suffix (``printer.local``) also give None.
    """
    name = canonical_domain(value)
    registrable, _suffix = _psl_split(name)
    return registrable or None


def private_suffix(value: str) -> str | None:
    """The private Public Suffix List entry the name lies under, or None.

    Private entries (``github.io``, ``duckdns.org``) are platforms where anyone can publish
    names; a name strictly under one is a tenant's. The entry itself and names under ICANN
    suffixes only give None.
    """
    name = canonical_domain(value)
    result = _psl()(name)
    if result.is_private and result.suffix and result.suffix != name:
        return str(result.suffix)
    return None


def _is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def canonical_ip(value: str) -> str:
    """The canonical text of an IPv4 or IPv6 address (see the module docstring)."""
    text = _check_text(value, "IP address")
    return str(_parse_ip(value, text))


def _parse_ip(value: str, text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if "%" in text:
        raise InvalidIdentity(value, "IPv6 zone id is not allowed (it names a local interface)")
    if text.startswith("["):
        raise InvalidIdentity(value, "brackets are not part of an IP address")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        parts = text.split(".")
        if all(p.isdigit() for p in parts) and any(len(p) > 1 and p[0] == "0" for p in parts):
            raise InvalidIdentity(
                value, "leading zeros in an IPv4 octet are ambiguous (octal or decimal)"
            ) from None
        raise InvalidIdentity(value, "not an IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def canonical_cidr(value: str) -> str:
    """The canonical text of a CIDR block; host bits set is an error."""
    text = _check_text(value, "CIDR block")
    return str(_parse_cidr(value, text))


def _parse_cidr(value: str, text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    address_text, slash, prefix = text.partition("/")
    if not slash:
        raise InvalidIdentity(value, "a CIDR block needs a /prefix length")
    if not _DECIMAL.match(prefix):
        raise InvalidIdentity(value, f"prefix length {prefix!r} is not a decimal number")
    if "%" in address_text:
        raise InvalidIdentity(value, "IPv6 zone id is not allowed (it names a local interface)")
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        raise InvalidIdentity(value, "the network part is not an IP address") from None
    if int(prefix) > address.max_prefixlen:
        raise InvalidIdentity(
            value, f"prefix length {prefix} is longer than {address.max_prefixlen}"
        )
    try:
        return ipaddress.ip_network(f"{address}/{prefix}", strict=True)
    except ValueError:
        raise InvalidIdentity(
            value, f"host bits are set (the network is {ipaddress.ip_network(text, strict=False)})"
        ) from None


def canonical_asn(value: str | int) -> int:
    """The AS number from ``AS64500``, ``as64500``, ``64500``, asdot ``1.10`` or an int."""
    if isinstance(value, bool):
        raise InvalidIdentity(value, "an AS number must be text or an integer, not a boolean")
    if isinstance(value, int):
        number = value
    else:
        text = _check_text(value, "AS number")
        match = _ASN_TEXT.match(text)
        if not match:
            raise InvalidIdentity(value, "not an AS number (AS64500, 64500 or asdot 1.10)")
        digits = match.group(1)
        if "." in digits:
            high, low = (int(part) for part in digits.split("."))
            if high > 65535 or low > 65535:
                raise InvalidIdentity(value, "each asdot half must be 0..65535")
            number = high * 65536 + low
        else:
            number = int(digits)
    if not 0 <= number <= MAX_ASN:
        raise InvalidIdentity(value, f"AS number out of range 0..{MAX_ASN}")
    return number


def _refang(text: str) -> str:
    for defanged, plain in _DEFANG:
        text = text.replace(defanged, plain)
    lowered = text[:6].lower()
    if lowered.startswith("hxxps:") or lowered.startswith("hxxp:"):
        text = "http" + text[4:]
    return text


def _looks_like_url(text: str) -> bool:
    return "://" in text


def parse_url(value: str) -> tuple[Identity, str]:
    """The host identity of a URL and the URL with its scheme and host made canonical.

    The path, query and fragment are kept as given; user information is dropped from the
    returned URL because it may hold a credential.
    """
    text = _refang(_check_text(value, "URL"))
    if not _looks_like_url(text):
        raise InvalidIdentity(value, "not a URL (no scheme://)")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise InvalidIdentity(value, f"not a valid URL ({exc})") from None
    if not parts.scheme or not host:
        raise InvalidIdentity(value, "URL without a host")
    identity = _host_identity(value, host)
    host_text = str(identity.value)
    if identity.kind == "ip" and ":" in host_text:
        host_text = f"[{host_text}]"
    netloc = host_text if port is None else f"{host_text}:{port}"
    url = urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))
    return identity, url


def _host_identity(value: str, host: str) -> Identity:
    try:
        return Identity("ip", canonical_ip(host))
    except InvalidIdentity:
        pass
    try:
        return Identity("domain", canonical_domain(host))
    except InvalidIdentity as exc:
        raise InvalidIdentity(value, f"URL host: {exc.reason}") from None


TARGET_KINDS = ("domain", "ip")
"""The kinds a report, a label or an approval can be about: servers are reached by name or
address."""


def parse_target(value: str, purpose: str = "a target") -> Identity:
    """The canonical identity of a domain or an IP address; InvalidIdentity for anything else
    (a CIDR, an AS number), naming ``purpose`` in the message."""
    identity = parse_indicator(value)
    if identity.kind not in TARGET_KINDS:
        raise InvalidIdentity(
            value, f"a {identity.kind} cannot be {purpose}; give a domain or address"
        )
    return identity


def parse_indicator(value: str) -> Identity:
    """Detect the kind of an indicator and return its canonical identity.

    Order: URL (its host), CIDR, IP address, AS number (``AS`` prefix or bare digits),
    domain. A domain must have at least two labels here, so that a stray word in a list is
    not taken for a top-level domain.
    """
    text = _refang(_check_text(value, "indicator"))
    if any(char.isspace() for char in text):
        raise InvalidIdentity(value, "contains whitespace; an indicator is a single token")
    if _looks_like_url(text):
        return parse_url(text)[0]
    if "@" in text:
        raise InvalidIdentity(
            value, "an e-mail address names a mailbox, not infrastructure; give its domain"
        )
    if "/" in text:
        network = _parse_cidr(value, text)
        if network.prefixlen == network.max_prefixlen:
            return Identity("ip", str(_parse_ip(value, str(network.network_address))))
        return Identity("cidr", str(network))
    if ":" in text or (text.replace(".", "").isdigit() and text.count(".") == 3):
        return Identity("ip", str(_parse_ip(value, text)))
    if text.isdigit() or (text[:2].lower() == "as" and _ASN_TEXT.match(text)):
        return Identity("asn", canonical_asn(text))
    if "." not in text.rstrip("."):
        raise InvalidIdentity(value, "a single word is not a domain, IP address or AS number")
    return Identity("domain", canonical_domain(text))
