"""Render a world's DNS data as RFC 1035 master files, one per zone.

Besides one zone per registered domain, the renderer writes top-level zones (com, net, co.jp, ...)
holding the delegations, so that an unregistered name gets an authoritative NXDOMAIN instead of a
refusal; reverse zones with PTR records for every hosted address; and the Team Cymru zones that
answer origin and AS-name queries for every address in the world.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from pathlib import Path

from enrichment.sandbox.world_build import registrable_tld
from enrichment.sandbox.world_model import Hoster, Record, World, Zone

TLD_NS_ADDRESS = "192.0.2.53"  # documentation address; TLD servers exist only in the sandbox
CYMRU_TTL = 14400


def _soa(primary: str, contact: str, serial: int) -> str:
    return f"{primary}. {contact}. {serial} 7200 3600 1209600 3600"


def render_zone(zone: Zone) -> str:
    """Return the master file text of one zone (SOA first, then records in insertion order)."""
    primary = zone.primary_ns
    if not primary:
        primary = next(r.rdata for r in zone.records if r.owner == "@" and r.rtype == "NS")
        primary = primary.rstrip(".")
    lines = [
        f"$ORIGIN {zone.origin}.",
        "$TTL 3600",
        f"@\t3600\tIN\tSOA\t{_soa(primary, zone.contact, zone.serial)}",
    ]
    seen: set[Record] = set()
    for record in zone.records:
        if record in seen:
            continue
        seen.add(record)
        lines.append(f"{record.owner}\t{record.ttl}\tIN\t{record.rtype}\t{record.rdata}")
    return "\n".join(lines) + "\n"


def _tld_zones(world: World) -> dict[str, Zone]:
    """Delegations (with in-bailiwick glue) for every registered domain, per public suffix."""
    tlds: dict[str, Zone] = {}
    for name in sorted(world.registrations):
        tld = registrable_tld(name)
        zone = tlds.get(tld)
        if zone is None:
            zone = Zone(tld, f"a.nic.{tld}", f"hostmaster.nic.{tld}", 2026100100)
            zone.add("@", 172800, "NS", f"a.nic.{tld}.")
            zone.add("a.nic", 172800, "A", TLD_NS_ADDRESS)
            tlds[tld] = zone
        child = world.zones[name]
        owner = name[: -len(tld) - 1]
        for record in child.records:
            if record.owner == "@" and record.rtype == "NS":
                zone.add(owner, 172800, "NS", record.rdata)
        for record in child.records:
            if record.rtype in ("A", "AAAA") and record.owner.startswith("ns"):
                host = f"{record.owner}.{name}."
                if any(r.owner == "@" and r.rdata == host for r in child.records):
                    zone.add(f"{record.owner}.{owner}", 172800, record.rtype, record.rdata)
    return tlds


def _reverse_zones(world: World) -> dict[str, Zone]:
    zones: dict[str, Zone] = {}
    by_zone: dict[str, list[tuple[str, str]]] = defaultdict(list)
    owners: dict[str, Hoster] = {}
    for address in sorted(world.ptr, key=lambda a: ipaddress.ip_address(a).packed):
        ip = ipaddress.ip_address(address)
        pointer = ip.reverse_pointer
        hoster = world.address_hoster[address]
        if ip.version == 4:
            # big allocations get one reverse zone per /16, as ISPs and clouds delegate them
            cut = (
                2
                if any(ip in n.prefix and n.prefix.prefixlen <= 16 for n in hoster.networks)
                else 1
            )
            labels = pointer.split(".")
            owner, origin = ".".join(labels[:cut]), ".".join(labels[cut:])
        else:
            # one reverse zone per /48: 20 nibbles below the 12 of the /48
            labels = pointer.split(".")
            owner, origin = ".".join(labels[:20]), ".".join(labels[20:])
        by_zone[origin].append((owner, world.ptr[address]))
        owners[origin] = hoster
    for origin in sorted(by_zone):
        hoster = owners[origin]
        zone = Zone(
            origin,
            hoster.ns_names[0],
            f"hostmaster.{hoster.template.domain}",
            int(hoster.registered.strftime("%Y%m%d")) * 100 + 1,
        )
        for ns in hoster.ns_names:
            zone.add("@", 86400, "NS", ns + ".")
        for owner, target in by_zone[origin]:
            zone.add(owner, 86400, "PTR", target + ".")
        zones[origin] = zone
    return zones


def _cymru_zones(world: World) -> dict[str, Zone]:
    serial = int(world.reference_time.strftime("%Y%m%d")) * 100
    zones = {
        origin: Zone(origin, "ns1.asn.cymru.com", "hostmaster.asn.cymru.com", serial)
        for origin in ("asn.cymru.com", "origin.asn.cymru.com", "origin6.asn.cymru.com")
    }
    for zone in zones.values():
        zone.add("@", 86400, "NS", "ns1.asn.cymru.com.")
    zones["asn.cymru.com"].add("ns1", 86400, "A", TLD_NS_ADDRESS)
    announcers = {h.template.key: h for h in world.hosters}
    for hoster in sorted(world.hosters, key=lambda h: h.asn):
        tpl = hoster.template
        if tpl.parent:
            continue  # a reseller's block is announced by the parent's AS
        text = (
            f"{hoster.asn} | {tpl.country} | {tpl.rir} | {hoster.registered:%Y-%m-%d} | "
            f"{tpl.key.upper()}-AS {tpl.name}, {tpl.country}"
        )
        zones["asn.cymru.com"].add(f"AS{hoster.asn}", CYMRU_TTL, "TXT", _txt(text))
    for address in sorted(world.address_hoster, key=lambda a: ipaddress.ip_address(a).packed):
        hoster = world.address_hoster[address]
        hoster = announcers.get(hoster.template.parent, hoster)
        ip = ipaddress.ip_address(address)
        nets = hoster.networks if ip.version == 4 else [hoster.v6] if hoster.v6 else []
        net = next(n for n in nets if ip in n.prefix)
        text = (
            f"{hoster.asn} | {net.prefix} | {hoster.template.country} | {hoster.template.rir} | "
            f"{net.registered:%Y-%m-%d}"
        )
        if ip.version == 4:
            owner = ".".join(reversed(address.split(".")))
            zones["origin.asn.cymru.com"].add(owner, CYMRU_TTL, "TXT", _txt(text))
    # Wildcards answer for every other address of each announced prefix, as Team Cymru does.
    # IPv4 gets one per /24 so that explicit names never hide them behind an empty
    # non-terminal; IPv6 gets one per /48 only, which also serves the trimmed nibble names
    # that ipwhois sends.
    for hoster in sorted(world.hosters, key=lambda h: h.asn):
        if hoster.template.parent:
            continue
        tpl = hoster.template
        for net in hoster.networks + ([hoster.v6] if hoster.v6 else []):
            text = _txt(
                f"{hoster.asn} | {net.prefix} | {tpl.country} | {tpl.rir} | "
                f"{net.registered:%Y-%m-%d}"
            )
            if net.prefix.version == 4:
                for subnet in net.prefix.subnets(new_prefix=24):
                    labels = str(subnet.network_address).split(".")[:3]
                    owner = "*." + ".".join(reversed(labels))
                    zones["origin.asn.cymru.com"].add(owner, CYMRU_TTL, "TXT", text)
            else:
                nibbles = net.prefix.network_address.exploded.replace(":", "")[:12]
                owner = "*." + ".".join(reversed(nibbles))
                zones["origin6.asn.cymru.com"].add(owner, CYMRU_TTL, "TXT", text)
    return zones


def _txt(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_dns(world: World, out_dir: Path) -> int:
    """Write every zone file under ``out_dir/dns/zones``; return the number of zones."""
    zone_dir = out_dir / "dns" / "zones"
    zone_dir.mkdir(parents=True, exist_ok=True)
    zones: dict[str, Zone] = dict(world.zones)
    zones.update(_tld_zones(world))
    zones.update(_reverse_zones(world))
    zones.update(_cymru_zones(world))
    for origin in sorted(zones):
        text = render_zone(zones[origin])
        (zone_dir / f"{origin}.zone").write_text(text, encoding="ascii", newline="\n")
    return len(zones)
