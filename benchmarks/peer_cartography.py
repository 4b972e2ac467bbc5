"""The peer loader: Cartography's declarative ``load()`` on the ingest benchmark's rows.

    python benchmarks/peer_cartography.py ROWS.json [--batch B]

Runs inside the side virtual environment that ``benchmarks/ingest.py --peer`` makes (it holds
a pinned ``cartography`` and its dependencies, none of which enter the project's environment),
so this file imports nothing from the project. The server comes from Neo4j's own variables:
``NEO4J_URI``, ``NEO4J_USERNAME``, ``NEO4J_PASSWORD`` and ``NEO4J_DATABASE``.

``ROWS.json`` is a list of ``{"domain", "registrable", "ip", "ttl", "seen"}`` objects, one per
observation (``seen`` in epoch milliseconds). The loader is used the way a Cartography intel
module uses it: a transform keeps one row per address, ``load()`` writes the
``IPAddress`` nodes, then ``load()`` writes the ``Domain`` nodes with their ``RESOLVES_TO``
relationship to the addresses (Cartography links only to target nodes that already exist).
The last line printed is one JSON object: rows, seconds and the Cartography version.
"""

# Cartography's models are frozen dataclasses whose defaults are PropertyRef objects: that is
# how its schema is written, so ruff's rule against calls in dataclass defaults does not apply.
# ruff: noqa: RUF009

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import neo4j
from cartography.client.core.tx import load
from cartography.models.core.common import PropertyRef
from cartography.models.core.nodes import CartographyNodeProperties, CartographyNodeSchema
from cartography.models.core.relationships import (
    CartographyRelProperties,
    CartographyRelSchema,
    LinkDirection,
    OtherRelationships,
    TargetNodeMatcher,
    make_target_node_matcher,
)


@dataclass(frozen=True)
class IPAddressProperties(CartographyNodeProperties):
    id: PropertyRef = PropertyRef("ip")
    address: PropertyRef = PropertyRef("ip")
    version: PropertyRef = PropertyRef("version")
    last_seen: PropertyRef = PropertyRef("seen")
    lastupdated: PropertyRef = PropertyRef("lastupdated", set_in_kwargs=True)


@dataclass(frozen=True)
class IPAddressSchema(CartographyNodeSchema):
    label: str = "IPAddress"
    properties: IPAddressProperties = IPAddressProperties()


@dataclass(frozen=True)
class ResolvesToProperties(CartographyRelProperties):
    rtype: PropertyRef = PropertyRef("rtype")
    ttl: PropertyRef = PropertyRef("ttl")
    last_seen: PropertyRef = PropertyRef("seen")
    lastupdated: PropertyRef = PropertyRef("lastupdated", set_in_kwargs=True)


@dataclass(frozen=True)
class DomainResolvesToIP(CartographyRelSchema):
    """(:Domain)-[:RESOLVES_TO]->(:IPAddress), matched by the address's id."""

    target_node_label: str = "IPAddress"
    target_node_matcher: TargetNodeMatcher = make_target_node_matcher({"id": PropertyRef("ip")})
    direction: LinkDirection = LinkDirection.OUTWARD
    rel_label: str = "RESOLVES_TO"
    properties: ResolvesToProperties = ResolvesToProperties()


@dataclass(frozen=True)
class DomainProperties(CartographyNodeProperties):
    id: PropertyRef = PropertyRef("domain")
    name: PropertyRef = PropertyRef("domain")
    registrable: PropertyRef = PropertyRef("registrable")
    last_seen: PropertyRef = PropertyRef("seen")
    lastupdated: PropertyRef = PropertyRef("lastupdated", set_in_kwargs=True)


@dataclass(frozen=True)
class DomainSchema(CartographyNodeSchema):
    label: str = "Domain"
    properties: DomainProperties = DomainProperties()
    other_relationships: OtherRelationships = OtherRelationships([DomainResolvesToIP()])


def transform(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(address rows, one per address with its latest sighting; domain rows with their link)."""
    addresses: dict[str, dict[str, Any]] = {}
    domains = []
    for row in rows:
        seen = addresses.get(row["ip"])
        if seen is None or row["seen"] >= seen["seen"]:
            addresses[row["ip"]] = {"ip": row["ip"], "version": 4, "seen": row["seen"]}
        domains.append({**row, "rtype": "A"})
    return list(addresses.values()), domains


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("rows", help="JSON file of observations")
    parser.add_argument("--batch", type=int, default=10_000, help="load()'s batch size")
    args = parser.parse_args(argv)
    with open(args.rows, encoding="utf-8") as handle:
        rows = json.load(handle)
    auth = (os.environ.get("NEO4J_USERNAME", "neo4j"), os.environ["NEO4J_PASSWORD"])
    # Timeouts as the project's own driver: a server that is gone fails the run, not hangs it.
    driver = neo4j.GraphDatabase.driver(os.environ["NEO4J_URI"], auth=auth, connection_timeout=15.0)
    update_tag = int(time.time())
    with driver, driver.session(database=os.environ.get("NEO4J_DATABASE", "neo4j")) as session:
        began = time.perf_counter()
        addresses, domains = transform(rows)
        load(session, IPAddressSchema(), addresses, batch_size=args.batch, lastupdated=update_tag)
        load(session, DomainSchema(), domains, batch_size=args.batch, lastupdated=update_tag)
        seconds = time.perf_counter() - began
    figures = {
        "rows": len(rows),
        "seconds": round(seconds, 3),
        "cartography": version("cartography"),
    }
    sys.stdout.flush()
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
