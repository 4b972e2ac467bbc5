"""Drop the recorded real registry answers into a sandbox data directory, unchanged.

Source: a checkout of the shared fixtures folder (``rdap-whois-asn``, see its PROVENANCE.md),
found by :func:`default_fixtures_dir`. What goes where:

- ``20c-rdap/rdap/{ip,autnum,domain,entity}/*.input`` (and the entities under
  ``rdap/rdap/entity`` and ``rdap/registry/entity``): copied byte for byte into
  ``rdap/<kind>/``. The APNIC *history* answer is not an ip-network object and is skipped.
- ``ipwhois/rdap.json``: each address's recorded RDAP answer is written to ``rdap/ip/<addr>.json``
  as the exact bytes of that JSON value in the recording (no re-serialisation).
- ``ipwhois/entity.json``: one RDAP entity, copied to ``rdap/entity/<handle>.json``.
- ``ipwhois/rdap.json`` ``asn_data`` (the parsed Team Cymru answer for each address) becomes
  TXT records of ``origin.asn.cymru.com`` / ``origin6.asn.cymru.com``.
- ``ipwhois/asn.json``: raw RADB answers to ``-i origin AS<n>``, written to
  ``whois/origin/AS<n>.txt``.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Any

from enrichment.sandbox.layout import (
    CYMRU_V4_ZONE,
    CYMRU_V6_ZONE,
    RDAP_KINDS,
    LayoutError,
    cymru_origin_name,
    cymru_prefix_owners,
)

FIXTURES_ENV = "ATTRIBUTION_FIXTURES_DIR"
CYMRU_TTL = 14400
_DECODER = json.JSONDecoder()


def default_fixtures_dir() -> Path:
    """$ATTRIBUTION_FIXTURES_DIR, else ``../shared/fixtures/rdap-whois-asn`` beside the repo."""
    configured = os.environ.get(FIXTURES_ENV)
    if configured:
        return Path(configured)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "fixtures" / "rdap-whois-asn"


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def object_spans(text: str, pos: int = 0) -> tuple[dict[str, tuple[int, int]], int]:
    """Where each member value of the JSON object at pos starts and ends in text.

    Lets a recorded answer nested in a larger JSON file be written out as the exact bytes it
    was recorded with, instead of a re-serialisation that would differ in spacing and escapes.
    """
    pos = _skip_ws(text, pos)
    if text[pos : pos + 1] != "{":
        raise ValueError(f"expected a JSON object at offset {pos}")
    spans: dict[str, tuple[int, int]] = {}
    pos = _skip_ws(text, pos + 1)
    if text[pos : pos + 1] == "}":
        return spans, pos + 1
    while True:
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if text[pos : pos + 1] != ":":
            raise ValueError(f"expected ':' at offset {pos}")
        start = _skip_ws(text, pos + 1)
        _, end = _DECODER.raw_decode(text, start)
        spans[str(key)] = (start, end)
        pos = _skip_ws(text, end)
        if text[pos : pos + 1] == "}":
            return spans, pos + 1
        if text[pos : pos + 1] != ",":
            raise ValueError(f"expected ',' or '}}' at offset {pos}")
        pos = _skip_ws(text, pos + 1)


def _write(path: Path, body: bytes, written: list[str], root: Path) -> None:
    """Write a file; identical content is fine, different content is refused."""
    if path.exists():
        if path.read_bytes() == body:
            return
        raise LayoutError(f"{path}: exists with other content; not overwriting recorded data")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    written.append(str(path.relative_to(root)))


def _copy_20c(fixtures: Path, data_dir: Path, written: list[str], skipped: list[str]) -> None:
    base = fixtures / "20c-rdap" / "rdap"
    sources: list[tuple[str, Path]] = []
    for kind in RDAP_KINDS:
        sources += [(kind, p) for p in sorted((base / kind).glob("*.input"))]
    for extra in ("rdap", "registry"):
        sources += [("entity", p) for p in sorted((base / extra / "entity").glob("*.input"))]
    for kind, source in sources:
        body = source.read_bytes()
        if kind == "ip" and "startAddress" not in json.loads(body):
            skipped.append(f"{source.relative_to(fixtures)}: not an ip network object")
            continue
        target = data_dir / "rdap" / kind / source.name
        if target.exists() and target.read_bytes() != body:
            skipped.append(f"{source.relative_to(fixtures)}: {target.name} already installed")
            continue
        _write(target, body, written, data_dir)


def _cymru_records(asn_data: dict[str, Any], address: str) -> list[tuple[str, str, str]]:
    """(zone, owner relative to the zone, TXT text) for one recorded Cymru answer."""
    addr = ipaddress.ip_address(address)
    zone = CYMRU_V4_ZONE if addr.version == 4 else CYMRU_V6_ZONE
    fields = [str(asn_data.get(k) or "") for k in ("asn", "asn_cidr")]
    fields += [str(asn_data.get(k) or "") for k in ("asn_country_code", "asn_registry")]
    fields.append(str(asn_data.get("asn_date") or ""))
    text = " | ".join(fields).rstrip()
    suffix = "." + zone
    try:
        network = ipaddress.ip_network(fields[1], strict=False)
    except ValueError:
        network = None
    if network is None or network.version != addr.version:
        # No usable prefix ("NA"): answer for the recorded address only, in both name forms.
        names = {cymru_origin_name(addr), cymru_origin_name(addr, trim_v6=False)}
        return [(zone, n.removesuffix(suffix), text) for n in sorted(names)]
    owners = cymru_prefix_owners(network)
    if network.version == 6:
        # ipwhois drops trailing zero groups, so a query can land on the prefix name itself.
        owners += [o.removeprefix("*.") for o in owners if o != "*"]
    return [(zone, owner, text) for owner in owners]


def cymru_zone_text(zone: str, records: list[tuple[str, str]]) -> str:
    """A master file for a Cymru zone holding (owner, TXT text) records."""
    lines = [
        f"$ORIGIN {zone}.",
        f"$TTL {CYMRU_TTL}",
        "@ IN SOA ns.sandbox.invalid. hostmaster.sandbox.invalid. 1 3600 600 86400 300",
        "@ IN NS ns.sandbox.invalid.",
    ]
    for owner, text in sorted(set(records)):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{owner} IN TXT "{escaped}"')
    return "\n".join(lines) + "\n"


def install_recorded_answers(fixtures_dir: Path, data_dir: Path) -> dict[str, Any]:
    """Install the recorded answers into data_dir; return what was written and skipped.

    Running it twice is harmless; a file that exists with other content is never overwritten
    (LayoutError). Raises FileNotFoundError when fixtures_dir is not the fixtures folder.
    """
    fixtures_dir = Path(fixtures_dir)
    data_dir = Path(data_dir)
    if not (fixtures_dir / "PROVENANCE.md").exists():
        raise FileNotFoundError(f"{fixtures_dir}: not the rdap-whois-asn fixtures folder")
    written: list[str] = []
    skipped: list[str] = []
    _copy_20c(fixtures_dir, data_dir, written, skipped)

    ipwhois = fixtures_dir / "ipwhois"
    rdap_text = (ipwhois / "rdap.json").read_text(encoding="utf-8")
    outer, _ = object_spans(rdap_text)
    cymru: dict[str, list[tuple[str, str]]] = {CYMRU_V4_ZONE: [], CYMRU_V6_ZONE: []}
    for address, (start, _end) in outer.items():
        inner, _ = object_spans(rdap_text, start)
        r_start, r_end = inner["response"]
        body = rdap_text[r_start:r_end].encode("utf-8")
        _write(data_dir / "rdap" / "ip" / f"{address}.json", body, written, data_dir)
        a_start, a_end = inner["asn_data"]
        for zone, owner, text in _cymru_records(json.loads(rdap_text[a_start:a_end]), address):
            cymru[zone].append((owner, text))

    entity_body = (ipwhois / "entity.json").read_bytes()
    handle = str(json.loads(entity_body)["handle"])
    _write(data_dir / "rdap" / "entity" / f"{handle}.json", entity_body, written, data_dir)

    for zone, records in cymru.items():
        body = cymru_zone_text(zone, records).encode()
        _write(data_dir / "dns" / "zones" / f"{zone}.zone", body, written, data_dir)

    origins = json.loads((ipwhois / "asn.json").read_text(encoding="utf-8"))
    seen: set[str] = set()
    for _address, item in sorted(origins.items()):
        asn = str(item.get("asn", ""))
        if not asn.isdigit() or asn in seen:
            continue
        seen.add(asn)
        body = str(item["response"]).encode("utf-8")
        _write(data_dir / "whois" / "origin" / f"AS{asn}.txt", body, written, data_dir)

    return {"written": sorted(written), "skipped": skipped}
