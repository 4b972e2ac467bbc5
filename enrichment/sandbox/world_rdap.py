"""Render registration data: RDAP answers (RFC 9083) and JPRS-style port-43 WHOIS for .jp.

The JSON is shaped like what the registries send (ARIN/RIPE-style networks and autnums,
Verisign-style domains), so that ipwhois and whoisit parse it unchanged.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from enrichment.sandbox.world_build import registrable_tld
from enrichment.sandbox.world_model import (
    RDAP_LESS_TLDS,
    REDACTED,
    RIR_PORT43,
    RIR_RDAP_BASE,
    Hoster,
    Network,
    Registrant,
    Registration,
    World,
)

JST = timedelta(hours=9)
TOS_NOTICE = {
    "title": "Terms of Use",
    "description": ["Sandbox registration data; generated, not real."],
    "links": [],
}


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _vcard(name: str, org: str = "", email: str = "", country: str = "", kind: str = "org") -> list:
    card: list[list[Any]] = [["version", {}, "text", "4.0"], ["fn", {}, "text", name]]
    if org:
        card.append(["org", {}, "text", org])
    card.append(["kind", {}, "text", kind])
    if country:
        card.append(["adr", {"cc": country}, "text", ["", "", "", "", "", "", ""]])
    if email:
        card.append(["email", {}, "text", email])
    return ["vcard", card]


def _link(href: str) -> list[dict[str, str]]:
    return [{"value": href, "rel": "self", "type": "application/rdap+json", "href": href}]


def _hoster_entities(hoster: Hoster, base: str) -> list[dict[str, Any]]:
    tpl = hoster.template
    return [
        {
            "objectClassName": "entity",
            "handle": hoster.org_handle,
            "vcardArray": _vcard(tpl.name, country=tpl.country),
            "roles": ["registrant"],
            "links": _link(f"{base}/entity/{hoster.org_handle}"),
            "events": [{"eventAction": "registration", "eventDate": _time(hoster.registered)}],
        },
        {
            "objectClassName": "entity",
            "handle": hoster.abuse_handle,
            "vcardArray": _vcard(f"{tpl.name} Abuse", email=f"abuse@{tpl.domain}", kind="group"),
            "roles": ["abuse"],
            "links": _link(f"{base}/entity/{hoster.abuse_handle}"),
        },
    ]


def ip_network(hoster: Hoster, net: Network, reference: datetime) -> dict[str, Any]:
    """RDAP "ip network" object for one announced prefix."""
    tpl = hoster.template
    base = RIR_RDAP_BASE[tpl.rir]
    prefix = net.prefix
    key = "v4prefix" if prefix.version == 4 else "v6prefix"
    rdap_type = {
        "arin": "DIRECT ALLOCATION",
        "ripencc": "ALLOCATED PA",
        "apnic": "ALLOCATED PORTABLE",
    }.get(tpl.rir, "ALLOCATED")
    obj: dict[str, Any] = {
        "rdapConformance": ["rdap_level_0", "nro_rdap_profile_0", "cidr0"],
        "notices": [TOS_NOTICE],
        "objectClassName": "ip network",
        "handle": net.handle,
        "startAddress": str(prefix.network_address),
        "endAddress": str(prefix.broadcast_address),
        "ipVersion": f"v{prefix.version}",
        "name": net.name,
        "type": rdap_type,
        "country": tpl.country,
        "status": ["active"],
        "cidr0_cidrs": [{key: str(prefix.network_address), "length": prefix.prefixlen}],
        "events": [
            {"eventAction": "registration", "eventDate": _time(net.registered)},
            {"eventAction": "last changed", "eventDate": _time(reference - timedelta(days=90))},
        ],
        "links": _link(f"{base}/ip/{prefix.network_address}"),
        "entities": _hoster_entities(hoster, base),
        "remarks": [
            {"title": "description", "description": [f"{tpl.name} ({tpl.kind})"]},
        ],
        "port43": RIR_PORT43[tpl.rir],
    }
    if net.parent:
        obj["parentHandle"] = net.parent
        obj["type"] = "ASSIGNED PA"
        obj["remarks"].append(
            {"title": "reassignment", "description": ["Reassigned to a reseller customer."]}
        )
    if tpl.rir == "arin":
        obj["rdapConformance"].append("arin_originas0")
        obj["arin_originas0_originautnums"] = [hoster.asn]
    return obj


def autnum(hoster: Hoster, reference: datetime) -> dict[str, Any]:
    """RDAP "autnum" object for one AS."""
    tpl = hoster.template
    base = RIR_RDAP_BASE[tpl.rir]
    return {
        "rdapConformance": ["rdap_level_0", "nro_rdap_profile_0"],
        "notices": [TOS_NOTICE],
        "objectClassName": "autnum",
        "handle": f"AS{hoster.asn}",
        "startAutnum": hoster.asn,
        "endAutnum": hoster.asn,
        "name": f"{tpl.key.upper()}-AS",
        "type": "DIRECT ALLOCATION" if tpl.rir == "arin" else "ASSIGNED",
        "country": tpl.country,
        "status": ["active"],
        "events": [
            {"eventAction": "registration", "eventDate": _time(hoster.registered)},
            {"eventAction": "last changed", "eventDate": _time(reference - timedelta(days=120))},
        ],
        "links": _link(f"{base}/autnum/{hoster.asn}"),
        "entities": _hoster_entities(hoster, base),
        "remarks": [{"title": "description", "description": [tpl.name]}],
        "port43": RIR_PORT43[tpl.rir],
    }


def org_entity(hoster: Hoster) -> dict[str, Any]:
    """RDAP "entity" object for a hoster's organisation, with its networks and autnums."""
    tpl = hoster.template
    base = RIR_RDAP_BASE[tpl.rir]
    nets = hoster.networks + ([hoster.v6] if hoster.v6 else [])
    return {
        "rdapConformance": ["rdap_level_0", "nro_rdap_profile_0"],
        "notices": [TOS_NOTICE],
        "objectClassName": "entity",
        "handle": hoster.org_handle,
        "vcardArray": _vcard(tpl.name, country=tpl.country),
        "roles": ["registrant"],
        "events": [{"eventAction": "registration", "eventDate": _time(hoster.registered)}],
        "links": _link(f"{base}/entity/{hoster.org_handle}"),
        "entities": _hoster_entities(hoster, base)[1:],
        "networks": [
            {
                "objectClassName": "ip network",
                "handle": n.handle,
                "startAddress": str(n.prefix.network_address),
                "endAddress": str(n.prefix.broadcast_address),
                "ipVersion": f"v{n.prefix.version}",
                "name": n.name,
            }
            for n in nets
        ],
        "autnums": [
            {
                "objectClassName": "autnum",
                "handle": f"AS{hoster.asn}",
                "startAutnum": hoster.asn,
                "endAutnum": hoster.asn,
                "name": f"{tpl.key.upper()}-AS",
            }
        ]
        if not tpl.parent
        else [],
        "port43": RIR_PORT43[tpl.rir],
    }


def registrant_entity(registrant: Registrant, first_seen: datetime) -> dict[str, Any]:
    """RDAP "entity" object for a domain registrant that is not behind a privacy service."""
    obj = _registrant_entity(registrant)
    obj["rdapConformance"] = ["rdap_level_0"]
    obj["notices"] = [TOS_NOTICE]
    obj["events"] = [{"eventAction": "registration", "eventDate": _time(first_seen)}]
    return obj


def _registrant_entity(registrant: Registrant) -> dict[str, Any]:
    entity: dict[str, Any] = {"objectClassName": "entity", "roles": ["registrant"]}
    if registrant.privacy:
        entity["handle"] = REDACTED
        entity["vcardArray"] = _vcard(
            REDACTED, org=registrant.org, email=registrant.email, country=registrant.country
        )
        entity["remarks"] = [
            {
                "title": "REDACTED FOR PRIVACY",
                "type": "object redacted due to authorization",
                "description": ["Some of the data in this object has been removed."],
            }
        ]
    else:
        entity["handle"] = registrant.handle
        entity["vcardArray"] = _vcard(
            registrant.name, org=registrant.org, email=registrant.email, country=registrant.country
        )
    return entity


def domain(name: str, reg: Registration, nameservers: list[str]) -> dict[str, Any]:
    """RDAP "domain" object with registrar (IANA id), registrant, events and name servers."""
    tld = registrable_tld(name)
    base = f"https://rdap.nic.{tld}/domain"
    registrar = reg.registrar.template
    obj: dict[str, Any] = {
        "rdapConformance": [
            "rdap_level_0",
            "icann_rdap_technical_implementation_guide_0",
            "icann_rdap_response_profile_0",
        ],
        "notices": [TOS_NOTICE],
        "objectClassName": "domain",
        "handle": reg.handle,
        "ldhName": name.upper(),
        "status": list(reg.status),
        "events": [
            {"eventAction": "registration", "eventDate": _time(reg.created)},
            {"eventAction": "expiration", "eventDate": _time(reg.expires)},
            {"eventAction": "last changed", "eventDate": _time(reg.updated)},
        ],
        "links": _link(f"{base}/{name.upper()}"),
        "entities": [
            {
                "objectClassName": "entity",
                "handle": str(registrar.iana_id),
                "roles": ["registrar"],
                "publicIds": [{"type": "IANA Registrar ID", "identifier": str(registrar.iana_id)}],
                "vcardArray": _vcard(registrar.name),
                "entities": [
                    {
                        "objectClassName": "entity",
                        "handle": reg.registrar.abuse_handle,
                        "roles": ["abuse"],
                        "vcardArray": _vcard("", email=f"abuse@{registrar.domain}", kind="group"),
                    }
                ],
            },
            _registrant_entity(reg.registrant),
        ],
        "nameservers": [
            {"objectClassName": "nameserver", "ldhName": ns.upper()} for ns in nameservers
        ],
        "secureDNS": {"delegationSigned": False},
    }
    return obj


def jprs_whois(name: str, reg: Registration, nameservers: list[str]) -> str:
    """Port-43 answer in the JPRS English layout."""

    def jst(value: datetime) -> datetime:
        return value + JST

    registrant = reg.registrant
    shown = registrant.org if not registrant.privacy else registrant.org or REDACTED
    lines = [
        "[ JPRS database provides information on network administration. Its use is    ]",
        "[ restricted to network administration purposes. For further information,     ]",
        "[ use 'whois -h whois.jprs.jp help'. To suppress Japanese output, add'/e'     ]",
        "[ at the end of command, e.g. 'whois -h whois.jprs.jp xxx/e'.                 ]",
        "",
        "Domain Information:",
        f"[Domain Name]                   {name.upper()}",
        "",
        f"[Registrant]                    {shown}",
        "",
    ]
    lines += [f"[Name Server]                   {ns}" for ns in nameservers]
    lines += [
        "[Signing Key]                   ",
        "",
        f"[Created on]                    {jst(reg.created):%Y/%m/%d}",
        f"[Expires on]                    {jst(reg.expires):%Y/%m/%d}",
        "[Status]                        Active",
        f"[Last Updated]                  {jst(reg.updated):%Y/%m/%d %H:%M:%S} (JST)",
        "",
        "Contact Information:",
        f"[Name]                          {shown}",
        f"[Email]                         {registrant.email}",
        "[Web Page]                       ",
        "",
    ]
    return "\n".join(lines)


def _dump(path: Path, obj: dict[str, Any]) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=True) + "\n", encoding="ascii")


def write_registration(world: World, out_dir: Path) -> dict[str, int]:
    """Write rdap/ and whois/ trees; return file counts per object type."""
    rdap = out_dir / "rdap"
    dirs = {k: rdap / k for k in ("ip", "autnum", "domain", "entity")}
    whois_dir = out_dir / "whois" / "domain"
    for path in (*dirs.values(), whois_dir):
        path.mkdir(parents=True, exist_ok=True)
    counts = {"ip": 0, "autnum": 0, "domain": 0, "entity": 0, "whois": 0}
    for hoster in sorted(world.hosters, key=lambda h: h.asn):
        for net in hoster.networks + ([hoster.v6] if hoster.v6 else []):
            file_name = str(net.prefix).replace("/", "_")
            _dump(dirs["ip"] / f"{file_name}.json", ip_network(hoster, net, world.reference_time))
            counts["ip"] += 1
        if not hoster.template.parent:
            _dump(dirs["autnum"] / f"{hoster.asn}.json", autnum(hoster, world.reference_time))
            counts["autnum"] += 1
        _dump(dirs["entity"] / f"{hoster.org_handle}.json", org_entity(hoster))
        counts["entity"] += 1
    for name in sorted(world.registrations):
        reg = world.registrations[name]
        zone = world.zones[name]
        nameservers = [
            r.rdata.rstrip(".") for r in zone.records if r.owner == "@" and r.rtype == "NS"
        ]
        if registrable_tld(name).rsplit(".", 1)[-1] in RDAP_LESS_TLDS:
            text = jprs_whois(name, reg, nameservers)
            (whois_dir / f"{name}.txt").write_text(text, encoding="ascii", newline="\n")
            counts["whois"] += 1
        else:
            _dump(dirs["domain"] / f"{name}.json", domain(name, reg, nameservers))
            counts["domain"] += 1
    registrants: dict[str, tuple[Registrant, datetime]] = {}
    for name in sorted(world.registrations):
        reg = world.registrations[name]
        if reg.registrant.privacy or registrable_tld(name).endswith("jp"):
            continue
        known = registrants.get(reg.registrant.handle)
        if known is None or reg.created < known[1]:
            registrants[reg.registrant.handle] = (reg.registrant, reg.created)
    for handle in sorted(registrants):
        registrant, first_seen = registrants[handle]
        _dump(dirs["entity"] / f"{handle}.json", registrant_entity(registrant, first_seen))
        counts["entity"] += 1
    less = out_dir / "whois" / "rdap-less-tlds.txt"
    less.write_text("".join(f"{tld}\n" for tld in RDAP_LESS_TLDS), encoding="ascii")
    return counts
