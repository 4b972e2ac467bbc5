"""Independent evidence families: what counts as "enough evidence" to decide about a node.

Feature columns are not independent evidence: eleven DNS columns all come from one lookup,
and the lexical columns come from the name alone. Sufficiency therefore counts *families*,
each an independent way of knowing something about the node:

``resolution``
    The name resolves to at least one address (a domain), or names resolve to the address or
    it has a reverse name (an address). NXDOMAIN is an observation, but not a resolution.
``hosting``
    The origin AS of the node's addresses (a domain) or of the address itself is known.
``registration``
    Registration data of the name or its registrable domain (created, expiry, privacy...).
``incident``
    The node is named in an incident report of an operator.
``labels``
    A label source (feed, allowlist, analyst) names the node. Confirmed incidents are the
    ``incident`` family, not this one, so the same report is not counted twice.
``association``
    Neighbours of the node (co-hosted names, shared name servers, registrant, network) carry
    labels, so graph association could be measured.

The name alone (lexical features) is never a family: it never suffices. An address also needs
one of ``hosting``, ``incident`` or ``labels``: that names resolve to it says nothing about who
runs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from attribution.features.extract import FeatureMatrix
from attribution.labels import LabelObservation, NodeKey

__all__ = [
    "ADDRESS_NEEDS_ONE_OF",
    "FAMILIES",
    "LABEL_FAMILY_KINDS",
    "EvidencePolicy",
    "evidence_families",
    "labelled_nodes",
]

FAMILIES: tuple[str, ...] = (
    "resolution",
    "hosting",
    "registration",
    "incident",
    "labels",
    "association",
)
ADDRESS_NEEDS_ONE_OF: frozenset[str] = frozenset({"hosting", "incident", "labels"})
LABEL_FAMILY_KINDS: frozenset[str] = frozenset({"feed", "allowlist", "analyst"})


@dataclass(frozen=True)
class EvidencePolicy:
    """How many families a node needs before the classifier decides about it."""

    min_families: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.min_families, bool) or not isinstance(self.min_families, int):
            raise ValueError(f"min_families must be an integer, got {self.min_families!r}")
        if not 1 <= self.min_families <= len(FAMILIES):
            raise ValueError(
                f"min_families must lie between 1 and {len(FAMILIES)}, got {self.min_families}"
            )

    def shortfall(self, key: NodeKey, observed: frozenset[str]) -> str | None:
        """Why ``observed`` is not enough for the node, or None when it is."""
        if len(observed) < self.min_families:
            return f"{len(observed)} of the {self.min_families} evidence families needed"
        if key[0] == "IPAddress" and not observed & ADDRESS_NEEDS_ONE_OF:
            return "an address needs hosting, incident or label evidence"
        return None

    def as_dict(self) -> dict[str, object]:
        return {
            "min_families": self.min_families,
            "families": list(FAMILIES),
            "address_needs_one_of": sorted(ADDRESS_NEEDS_ONE_OF),
        }


def labelled_nodes(observations: Iterable[LabelObservation]) -> set[NodeKey]:
    """Nodes that a feed, allowlist or analyst names (the ``labels`` family)."""
    return {o.target for o in observations if o.kind in LABEL_FAMILY_KINDS}


def _observed(matrix: FeatureMatrix, name: str) -> np.ndarray:
    return np.asarray(~np.isnan(matrix.column(name)))


def _positive(matrix: FeatureMatrix, name: str) -> np.ndarray:
    values = matrix.column(name)
    return np.asarray(np.nan_to_num(values, nan=0.0) > 0)


def _column_families(matrix: FeatureMatrix) -> dict[str, np.ndarray]:
    is_ip = matrix.column("is_ip") == 1.0
    resolves_domain = _positive(matrix, "dns_addr_count")
    resolves_address = _positive(matrix, "host_cohost_max") | _observed(matrix, "ip_ptr_dynamic")
    registration = np.zeros(len(matrix.keys), dtype=bool)
    for name in ("reg_age_days", "reg_length_days", "reg_update_gap_days", "reg_privacy"):
        registration |= _observed(matrix, name)
    return {
        "resolution": np.where(is_ip, resolves_address, resolves_domain),
        "hosting": _observed(matrix, "dns_distinct_asn"),
        "registration": registration,
        "association": _observed(matrix, "lab_neighbour_share"),
    }


def evidence_families(
    matrix: FeatureMatrix, labelled: set[NodeKey], rows: Sequence[int] | None = None
) -> list[frozenset[str]]:
    """The families observed for each row (all rows, or ``rows``), in :data:`FAMILIES` order."""
    columns = _column_families(matrix)
    chosen = range(len(matrix.keys)) if rows is None else rows
    out = []
    for i in chosen:
        key = matrix.keys[i]
        found = {name for name, flags in columns.items() if flags[i]}
        if key in matrix.incidents:
            found.add("incident")
        if key in labelled:
            found.add("labels")
        out.append(frozenset(found))
    return out
