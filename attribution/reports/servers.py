"""The servers a report's target would be acted upon through, and who else each one carries.

An action is against a server. An address target is its own server. A domain's servers are the
addresses it resolves to, directly (``RESOLVES_TO``) or through one CNAME hop (``ALIAS_OF`` to
a name that resolves; ``via`` names that alias target). There is one entry per address: when
several resolutions reach it, the one last seen latest is shown (direct before alias on a tie).
A chain through an alias is only as recent as its older hop: its ``first_seen`` is the later of
the two first sightings, its ``last_seen`` the earlier of the two last sightings, and its
``sources`` are both hops' sources.

A resolution is *current* when its ``last_seen`` lies within the freshness window before the
report's reference time (:func:`attribution.reports.recommend.is_current`). Only current
servers can be acted upon, and only they decide the recommendation; stale ones are shown, with
their findings, as history.

Each entry carries the address's warninglist hits and its tenants: the other names seen
resolving to it (every name ever seen, stale ones included, which is the cautious count), how
many of them are not known to be malicious (no malicious label and no incident report), those
labelled benign (a benign verdict or an allowlist) and those named in incident reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from attribution.db import Graph
from attribution.reports.recommend import ServerCheck, is_current, server_findings
from attribution.reports.values import earliest, hit_dict, latest, parse_time
from attribution.warninglists import WarninglistIndex

__all__ = [
    "MAX_EXAMPLES",
    "action_block",
    "address_chain",
    "resolution_chains",
    "server_check",
    "server_entries",
    "tenant_summary",
]

MAX_EXAMPLES = 20
QUERY_TIMEOUT_S = 60.0
_METADATA = "attribution.reports"


def resolution_chains(graph: Graph, name: str) -> list[dict[str, Any]]:
    """Every address the domain resolves to (one CNAME hop at most), one entry per address."""
    rows = graph.read(
        "MATCH (:Domain {name: $name})-[r:RESOLVES_TO]->(ip:IPAddress)\n"
        "RETURN ip.address AS address, null AS via, [r.first_seen] AS firsts,\n"
        "  [r.last_seen] AS lasts, coalesce(r.source, []) AS sources\n"
        "UNION ALL\n"
        "MATCH (:Domain {name: $name})-[a:ALIAS_OF]->(c:Domain)-[r:RESOLVES_TO]->(ip:IPAddress)\n"
        "WHERE c.name <> $name\n"
        "RETURN ip.address AS address, c.name AS via, [a.first_seen, r.first_seen] AS firsts,\n"
        "  [a.last_seen, r.last_seen] AS lasts,\n"
        "  coalesce(a.source, []) + coalesce(r.source, []) AS sources",
        {"name": name},
        timeout=QUERY_TIMEOUT_S,
        metadata={"app": _METADATA, "part": "servers"},
        values="json",
    )
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        chain = _chain(row)
        held = best.get(chain["address"])
        if held is None or _rank(chain) < _rank(held):
            best[chain["address"]] = chain
    return [best[address] for address in sorted(best)]


def _chain(row: Mapping[str, Any]) -> dict[str, Any]:
    firsts, lasts = row["firsts"], row["lasts"]
    # An unknown time on either hop leaves the chain's time unknown, never guessed.
    return {
        "address": row["address"],
        "via": row["via"],
        "sources": sorted(set(row["sources"])),
        "first_seen": None if None in firsts else latest(firsts),
        "last_seen": None if None in lasts else earliest(lasts),
    }


def _rank(chain: Mapping[str, Any]) -> tuple[bool, float, bool, str]:
    seen = parse_time(chain["last_seen"])
    return (
        seen is None,
        -seen.timestamp() if seen else 0.0,
        chain["via"] is not None,
        chain["via"] or "",
    )


def address_chain(address: str, props: Mapping[str, Any]) -> dict[str, Any]:
    """An address target as its own server, with the address node's provenance (``props``
    as JSON data)."""
    return {
        "address": address,
        "via": None,
        "sources": sorted(props.get("source") or []),
        "first_seen": props.get("first_seen"),
        "last_seen": props.get("last_seen"),
    }


def _tenants(graph: Graph, addresses: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    wanted = sorted(set(addresses))
    rows = graph.read(
        "UNWIND $addresses AS address\n"
        "MATCH (:IPAddress {address: address})<-[:RESOLVES_TO]-(d:Domain)\n"
        "RETURN address, d.name AS name,\n"
        "  [(s:LabelSource)-[l:LABELS_DOMAIN]->(d) | "
        "{source: s.name, kind: s.kind, verdict: l.verdict}] AS labels,\n"
        "  COUNT { (d)-[:REPORTED_IN]->(:IncidentReport) } AS reports\n"
        "ORDER BY address, name",
        {"addresses": wanted},
        timeout=QUERY_TIMEOUT_S,
        metadata={"app": _METADATA, "part": "tenants"},
        values="json",
    )
    found: dict[str, list[dict[str, Any]]] = {address: [] for address in wanted}
    for row in rows:
        found[row["address"]].append(row)
    return found


def tenant_summary(tenants: list[dict[str, Any]], exclude: str | None) -> dict[str, Any]:
    """Who else acting on an address would hit (``exclude``: the target's own name)."""
    others = [t for t in tenants if t["name"] != exclude]
    reported = [t["name"] for t in others if t["reports"]]
    benign = [
        t["name"]
        for t in others
        if any(lab["verdict"] == "benign" or lab["kind"] == "allowlist" for lab in t["labels"])
    ]
    malicious = {
        t["name"]
        for t in others
        if t["reports"] or any(lab["verdict"] == "malicious" for lab in t["labels"])
    }
    return {
        "cohosted_names": len(others),
        "cohosted_examples": [t["name"] for t in others[:MAX_EXAMPLES]],
        "cohosted_not_known_malicious": len(others) - len(malicious),
        "reported_tenants": reported[:MAX_EXAMPLES],
        "reported_tenants_count": len(reported),
        "benign_tenants": benign[:MAX_EXAMPLES],
        "benign_tenants_count": len(benign),
    }


def server_check(entry: Mapping[str, Any]) -> ServerCheck:
    """What the recommendation rules look at in a server entry."""
    return ServerCheck(
        address=entry["address"],
        current=entry["current"],
        last_seen=entry["last_seen"],
        via=entry["via"],
        warninglist_categories=[(h["list"], h["category"]) for h in entry["warninglist_hits"]],
        cohosted_names=entry["cohosted_names"],
        cohosted_unvetted=entry["cohosted_not_known_malicious"],
        benign_cohosted=entry["benign_tenants"],
        benign_cohosted_count=entry["benign_tenants_count"],
    )


def server_entries(
    graph: Graph,
    chains: list[dict[str, Any]],
    *,
    index: WarninglistIndex | None,
    as_of: str | None,
    freshness_hours: float,
    threshold: int,
    exclude: str | None,
    always_current: bool = False,
) -> list[dict[str, Any]]:
    """The ``servers`` section: each chain with currency, hits, tenants and findings."""
    tenants = _tenants(graph, (c["address"] for c in chains))
    reference = parse_time(as_of)
    entries = []
    for chain in chains:
        current = always_current or is_current(
            parse_time(chain["last_seen"]), reference, freshness_hours
        )
        hits = [hit_dict(h) for h in index.match_ip(chain["address"])] if index else []
        entry = {
            **chain,
            "current": current,
            "warninglist_hits": hits,
            **tenant_summary(tenants[chain["address"]], exclude),
        }
        findings = server_findings(server_check(entry), threshold)
        entries.append({**entry, "findings": findings, "clear_to_act": current and not findings})
    return entries


def action_block(kind: str, value: str, servers: list[dict[str, Any]]) -> dict[str, Any]:
    """What acting on the target means: exactly the servers it is currently on."""
    current = [s["address"] for s in servers if s["current"]]
    stale = [s["address"] for s in servers if not s["current"]]
    if kind == "ip":
        meaning = f"Acting on address {value} means acting on that server."
    elif current:
        meaning = (
            f"Acting on domain {value} means acting on the servers it currently resolves to: "
            f"{', '.join(current)}."
        )
    else:
        meaning = (
            f"Acting on domain {value} means acting on the servers it currently resolves to; "
            "it currently resolves to none, so there is nothing to act upon."
        )
    if stale:
        meaning += f" Stale addresses ({', '.join(stale)}) are shown but not acted upon."
    return {"meaning": meaning, "servers": current, "not_acted_upon": stale}
