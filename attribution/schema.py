"""The graph schema, declared once.

Every label, relationship type and property the service writes is declared here with a
description. The constraints, indexes, the writer's ``UNWIND $rows ... MERGE`` statements and
``queries/SCHEMA.md`` are all generated from these declarations; nobody writes ingestion Cypher
by hand. Labels and relationship types reach Cypher only from this module, never from input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Prop:
    """One property: its name, Cypher type and what it means."""

    name: str
    type: str
    description: str
    indexed: bool = False
    merge: str = "latest"
    """How a new value combines with the stored one: latest, min, sum, sum_once, union or keep
    (``sum_once`` adds a record's value once, by the digests in the ``records`` property)."""
    key_ordered: bool = False
    """Also indexed together with the node's key (a composite index on the property, then the
    key), so an equality seek on the property walks its nodes in key order and a query can stop
    after a page."""


@dataclass(frozen=True)
class NodeSpec:
    """A node label with its unique key property."""

    label: str
    key: str
    description: str
    props: tuple[Prop, ...]
    provenance: bool = True
    summaries: tuple[Prop, ...] = ()
    """Counters kept by :mod:`attribution.summaries` from the node's facts. They are not among
    ``props``: the writer refuses a row that carries one, so no observation overwrites them."""

    def prop(self, name: str) -> Prop:
        return next(p for p in self.all_props() if p.name == name)

    def all_props(self) -> tuple[Prop, ...]:
        return self.props + (PROVENANCE if self.provenance else ()) + self.summaries


@dataclass(frozen=True)
class RelSpec:
    """A relationship type between two labels.

    ``key`` lists the relationship properties that distinguish parallel relationships between
    the same two nodes (a flow's destination port, say); without them one relationship of the
    type exists per node pair and repeated sightings update it.
    """

    type: str
    start: str
    end: str
    description: str
    props: tuple[Prop, ...] = ()
    key: tuple[str, ...] = ()
    provenance: bool = True
    rrtypes: tuple[str, ...] = ()
    """The DNS record types that state this relationship (see :data:`DNS_RELATIONSHIP`)."""

    def all_props(self) -> tuple[Prop, ...]:
        return self.props + (PROVENANCE if self.provenance else ())


PROVENANCE: tuple[Prop, ...] = (
    Prop(
        "source",
        "LIST<STRING>",
        "Every source that reported this fact (e.g. dns, rdap-ip, ingest:feed.csv).",
    ),
    Prop("first_seen", "DATETIME", "Earliest time any source saw this fact."),
    Prop("last_seen", "DATETIME", "Latest time any source saw this fact; only ever moves forward."),
    Prop("retrieved_at", "DATETIME", "When the latest observation of this fact was retrieved."),
    Prop("sightings", "INTEGER", "How many observations of this fact were loaded."),
)

INDICATOR_PROPS: tuple[Prop, ...] = (
    Prop(
        "indicator",
        "BOOLEAN",
        "True when the node was submitted as an indicator to enrich.",
        indexed=True,
    ),
    Prop(
        "tags", "LIST<STRING>", "Tags given at intake (feed names, campaign names).", merge="union"
    ),
    Prop(
        "enrich_state",
        "STRING",
        "pending, leased, done, partial or failed: where enrichment stands (partial: some"
        " sources failed, failed: every source failed).",
        indexed=True,
        merge="keep",
    ),
    Prop(
        "enrich_depth",
        "INTEGER",
        "How many discovery hops away from a submitted indicator.",
        merge="min",
    ),
)
"""What an indicator carries: submitted or discovered, its tags, and its place in the
enrichment queue."""

TARGET_PROPS: tuple[Prop, ...] = (
    Prop(
        "urls",
        "LIST<STRING>",
        "URLs an intel feed gave for this host (kept on the indicator, never followed).",
        merge="union",
    ),
    Prop("lease_owner", "STRING", "Worker id holding the enrichment lease."),
    Prop(
        "lease_expires", "DATETIME", "When the lease lapses and another worker may claim the node."
    ),
    Prop("enriched_at", "DATETIME", "When enrichment last completed.", indexed=True),
    Prop(
        "enrich_attempts",
        "INTEGER",
        "Consecutive runs that ended with a transient source failure; sets the retry backoff.",
    ),
    Prop(
        "enrich_retry_at",
        "DATETIME",
        "When a partial or failed node whose sources failed transiently is tried again.",
    ),
    Prop(
        "enrich_failures",
        "LIST<STRING>",
        "Per-source failures of the last run, as 'source: reason'.",
        indexed=True,
    ),
    Prop(
        "enrich_failing",
        "BOOLEAN",
        "True when the last run failed or recorded a failure of some source (enrich_state"
        " failed or enrich_failures not empty), absent otherwise; set with them by the worker's"
        " finish. Indexed with the key, so the failures are read in key order.",
        key_ordered=True,
    ),
    Prop(
        "score",
        "FLOAT",
        "Calibrated (Venn-ABERS) probability that the node is malicious.",
        indexed=True,
    ),
    Prop("score_low", "FLOAT", "Lower end of the score's Venn-ABERS interval."),
    Prop("score_high", "FLOAT", "Upper end of the score's Venn-ABERS interval."),
    Prop(
        "decision",
        "STRING",
        "Gate decision: act, no-act, insufficient-evidence or outside-calibration.",
        indexed=True,
    ),
    Prop("model_version", "STRING", "Model that produced score and decision."),
    Prop("scored_at", "DATETIME", "When the score was written."),
    Prop(
        "reasons",
        "LIST<STRING>",
        "Largest Shapley contributions of observed feature groups, each with the node's values; "
        "or why the explanation was deferred to the report.",
    ),
    Prop(
        "explanation",
        "STRING",
        "The score's full explanation as JSON: base value, every group's contribution with the "
        "node's values, and the groups not observed.",
    ),
    Prop(
        "evidence_families",
        "LIST<STRING>",
        "Independent evidence families observed for the node when it was scored.",
    ),
    Prop(
        "score_features",
        "STRING",
        "The feature values the score was computed from, as a JSON list in the model's column "
        "order (null: not observed); a deferred explanation is computed from them.",
    ),
)
"""What a target (a domain or an address, :data:`TARGETS`) carries besides: the URLs a feed
gave for it, the worker's lease and last run, and the classifier's score."""

NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        "Domain",
        "name",
        "A DNS name in canonical form (lower case, punycode, no trailing dot).",
        (
            Prop("name", "STRING", "Canonical name; unique."),
            Prop(
                "registrable",
                "STRING",
                "Registrable domain per the Public Suffix List.",
                indexed=True,
            ),
            Prop("tld", "STRING", "Public suffix of the name."),
            Prop("soa_mname", "STRING", "Primary name server from the SOA record."),
            Prop("soa_rname", "STRING", "Responsible mailbox from the SOA record, as a DNS name."),
            Prop("soa_serial", "INTEGER", "SOA serial number."),
            Prop("txt", "LIST<STRING>", "TXT record strings."),
            Prop(
                "min_ttl",
                "INTEGER",
                "Smallest TTL seen on the name's address records.",
                merge="min",
            ),
            Prop("created", "DATETIME", "Registration creation date (registrable domains)."),
            Prop("updated", "DATETIME", "Registration last-changed date."),
            Prop("expires", "DATETIME", "Registration expiry date."),
            Prop("statuses", "LIST<STRING>", "Registration status codes (EPP/RDAP)."),
            Prop(
                "parse_notes",
                "LIST<STRING>",
                "Registration fields the answer stated but the parser could not read "
                "(field: reason); the field is left missing, never guessed.",
            ),
            Prop(
                "privacy_proxy",
                "BOOLEAN",
                "True when the registrant is a privacy or proxy service.",
            ),
            Prop(
                "nxdomain", "BOOLEAN", "True when the last DNS lookup said the name does not exist."
            ),
            *INDICATOR_PROPS,
            *TARGET_PROPS,
        ),
    ),
    NodeSpec(
        "IPAddress",
        "address",
        "An IPv4 or IPv6 address in compressed canonical form.",
        (
            Prop("address", "STRING", "Canonical address; unique."),
            Prop("version", "INTEGER", "4 or 6."),
            *INDICATOR_PROPS,
            *TARGET_PROPS,
        ),
    ),
    NodeSpec(
        "Network",
        "handle",
        "An address allocation from a regional registry's RDAP service.",
        (
            Prop("handle", "STRING", "Registry handle of the allocation; unique."),
            Prop("name", "STRING", "Network name given by the registry."),
            Prop("cidrs", "LIST<STRING>", "CIDR blocks covering the allocation."),
            Prop("start_address", "STRING", "First address of the allocation."),
            Prop("end_address", "STRING", "Last address of the allocation."),
            Prop("country", "STRING", "Country code given by the registry."),
            Prop(
                "registry", "STRING", "Regional registry (arin, ripencc, apnic, lacnic, afrinic)."
            ),
            Prop("registered", "DATETIME", "Registration date."),
            Prop("updated", "DATETIME", "Last-changed date."),
            Prop("abuse_email", "STRING", "Abuse contact address published for the allocation."),
        ),
    ),
    NodeSpec(
        "Prefix",
        "cidr",
        "A BGP prefix as announced, from the origin-AS data.",
        (
            Prop("cidr", "STRING", "Canonical CIDR; unique."),
            Prop("version", "INTEGER", "4 or 6."),
            Prop("country", "STRING", "Country code of the address allocation covering it."),
            Prop("registry", "STRING", "Regional registry of that allocation."),
            Prop("allocated", "DATE", "Allocation date of that allocation."),
            *INDICATOR_PROPS,
        ),
    ),
    NodeSpec(
        "AutonomousSystem",
        "asn",
        "An autonomous system.",
        (
            Prop("asn", "INTEGER", "AS number; unique."),
            Prop("name", "STRING", "AS name as registered."),
            Prop("country", "STRING", "Country code of the AS registration."),
            Prop("registry", "STRING", "Regional registry of the AS."),
            Prop("allocated", "DATE", "Allocation date of the AS number."),
            *INDICATOR_PROPS,
        ),
    ),
    NodeSpec(
        "Organization",
        "key",
        "An organisation that holds address space (from RDAP entities).",
        (
            Prop(
                "key", "STRING", "Registry handle, or a normalised name when there is none; unique."
            ),
            Prop("name", "STRING", "Organisation name."),
        ),
    ),
    NodeSpec(
        "Registrar",
        "key",
        "A domain registrar.",
        (
            Prop(
                "key",
                "STRING",
                "Normalised registrar name (case-folded, spaces collapsed), from RDAP or WHOIS "
                "alike; unique.",
            ),
            Prop("name", "STRING", "Registrar name."),
            Prop("iana_id", "STRING", "IANA registrar id, where the registration states it."),
        ),
    ),
    NodeSpec(
        "Registrant",
        "key",
        "The holder of a domain registration (often a privacy service).",
        (
            Prop("key", "STRING", "Registry handle, else a normalised name/organisation; unique."),
            Prop("name", "STRING", "Registrant name or organisation as published."),
            Prop("privacy_proxy", "BOOLEAN", "True for privacy and proxy services."),
        ),
    ),
    NodeSpec(
        "IncidentReport",
        "report_id",
        "An incident report from a critical-infrastructure operator.",
        (
            Prop("report_id", "STRING", "Report identifier; unique."),
            Prop(
                "sector",
                "STRING",
                "Sector of the reporting operator (one of the 15).",
                indexed=True,
            ),
            Prop("observed_at", "DATETIME", "When the operator observed the incident."),
            Prop("reported_at", "DATETIME", "When the report was filed.", indexed=True),
            Prop("confirmed", "BOOLEAN", "True when the report is confirmed."),
            Prop(
                "digest",
                "STRING",
                "SHA-256 of the report's normalised content; the same report_id with other "
                "content is refused at intake.",
                merge="keep",
            ),
        ),
    ),
    NodeSpec(
        "Operator",
        "name",
        "A critical-infrastructure operator that reports incidents.",
        (
            Prop("name", "STRING", "Operator name; unique."),
            Prop("sector", "STRING", "Sector the operator belongs to."),
        ),
    ),
    NodeSpec(
        "LabelSource",
        "name",
        "Where labels come from: a feed, an allowlist, an incident process or an analyst.",
        (
            Prop("name", "STRING", "Source name, e.g. feed:emotet.txt or analyst:alice; unique."),
            Prop("kind", "STRING", "feed, allowlist, incident or analyst."),
        ),
    ),
)

WORKFLOW_NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        "ApprovalRequest",
        "request_id",
        "A request to the independent reviewer to approve action against a target.",
        (
            Prop("request_id", "STRING", "Request identifier; unique."),
            Prop("target", "STRING", "Canonical target (domain or IP address)."),
            Prop(
                "report_digest",
                "STRING",
                "SHA-256 digest of the confidence report the request rests on.",
            ),
            Prop("requested_by", "STRING", "User who asked for approval."),
            Prop("requested_at", "DATETIME", "When the request was made."),
            Prop("status", "STRING", "open, approved, denied or returned.", indexed=True),
        ),
        provenance=False,
    ),
    NodeSpec(
        "Decision",
        "decision_id",
        "A reviewer's decision on an approval request; never edited once written.",
        (
            Prop("decision_id", "STRING", "Decision identifier; unique."),
            Prop("outcome", "STRING", "approve, deny or return."),
            Prop("decided_by", "STRING", "Reviewer who decided."),
            Prop("reason", "STRING", "The reviewer's stated reason."),
            Prop("decided_at", "DATETIME", "When the decision was made."),
            Prop("report_digest", "STRING", "Digest of the report the decision was based on."),
            Prop(
                "audit_head",
                "STRING",
                "SEQ:HASH of the audit entry recording the decision, written before it: an "
                "anchor of the chain held outside the log (checked by audit verify --graph).",
            ),
        ),
        provenance=False,
    ),
)


def _summary(
    name: str, type_: str, description: str, indexed: bool = False, key_ordered: bool = False
) -> Prop:
    text = "Summary, kept by attribution/summaries.py: " + description
    return Prop(name, type_, text, indexed, key_ordered=key_ordered)


_LABEL_COUNTS = (
    _summary("benign_labels", "INTEGER", "how many label sources call it benign."),
    _summary("malicious_labels", "INTEGER", "how many label sources call it malicious."),
    _summary(
        "labels_disagree",
        "BOOLEAN",
        "true when some source calls it benign and another malicious.",
        indexed=True,
    ),
)

SUMMARIES: dict[str, tuple[Prop, ...]] = {
    "Domain": (
        _summary("resolution_count", "INTEGER", "distinct addresses the name resolves to."),
        _summary("prefix_count", "INTEGER", "distinct announced prefixes of those addresses."),
        _summary("asn_count", "INTEGER", "distinct origin ASes of those addresses.", indexed=True),
        _summary(
            "resolution_min_ttl", "INTEGER", "smallest min_ttl of its RESOLVES_TO relationships."
        ),
        _summary(
            "resolution_oldest_seen",
            "DATETIME",
            "earliest last_seen of its RESOLVES_TO relationships: a query counting resolutions"
            " seen since a time at or before it counts them all.",
            indexed=True,
        ),
        _summary("cohosted_names", "INTEGER", "distinct other names sharing an address with it."),
        _summary(
            "benign_neighbours",
            "INTEGER",
            "how many of those co-hosted names some source labels benign.",
        ),
        *_LABEL_COUNTS,
    ),
    "IPAddress": (
        _summary("name_count", "INTEGER", "distinct names resolving to the address."),
        _summary("benign_names", "INTEGER", "how many of those names some source labels benign."),
        _summary(
            "report_count", "INTEGER", "incident reports that name the address.", indexed=True
        ),
        _summary(
            "reported",
            "BOOLEAN",
            "true when some incident report names the address; indexed with the address, so"
            " the reported addresses are read in address order.",
            key_ordered=True,
        ),
        *_LABEL_COUNTS,
    ),
    "Registrar": (
        _summary("domain_count", "INTEGER", "domains it sponsors."),
        _summary(
            "malicious_domains",
            "INTEGER",
            "how many of those domains some source labels malicious.",
        ),
    ),
    "Registrant": (_summary("domain_count", "INTEGER", "domains it holds."),),
    "LabelSource": tuple(
        _summary(f"{verdict}{kind}_labels", "INTEGER", f"its {what} on {targets}.")
        for kind, targets in (("domain", "domains"), ("ip", "addresses"))
        for verdict, what in (
            ("", "labels"),
            ("benign_", "benign labels"),
            ("malicious_", "malicious labels"),
        )
    ),
}
"""Write-time summaries per label (:mod:`attribution.summaries` keeps them exact)."""

NODES = tuple(
    replace(node, summaries=SUMMARIES.get(node.label, ())) for node in NODES + WORKFLOW_NODES
)

_DNS_PROPS = (
    Prop("ttl", "INTEGER", "TTL of the latest answer."),
    Prop("min_ttl", "INTEGER", "Smallest TTL seen for this record.", merge="min"),
)

RELATIONSHIPS: tuple[RelSpec, ...] = (
    RelSpec(
        "RESOLVES_TO",
        "Domain",
        "IPAddress",
        "An A or AAAA record (or a passive DNS sighting of one).",
        (Prop("rtype", "STRING", "A or AAAA."), *_DNS_PROPS),
        rrtypes=("A", "AAAA"),
    ),
    RelSpec(
        "ALIAS_OF",
        "Domain",
        "Domain",
        "A CNAME record: start is an alias of end.",
        _DNS_PROPS,
        rrtypes=("CNAME",),
    ),
    RelSpec(
        "NAME_SERVER",
        "Domain",
        "Domain",
        "An NS record: end serves the zone of start.",
        _DNS_PROPS,
        rrtypes=("NS",),
    ),
    RelSpec(
        "MAIL_SERVER",
        "Domain",
        "Domain",
        "An MX record: end receives mail for start.",
        (Prop("preference", "INTEGER", "MX preference."), *_DNS_PROPS),
        rrtypes=("MX",),
    ),
    RelSpec(
        "REVERSE_NAME",
        "IPAddress",
        "Domain",
        "A PTR record: the address's reverse name.",
        _DNS_PROPS,
        rrtypes=("PTR",),
    ),
    RelSpec("SUBDOMAIN_OF", "Domain", "Domain", "The name lies under its registrable domain."),
    RelSpec("IN_NETWORK", "IPAddress", "Network", "The address lies in the RDAP allocation."),
    RelSpec("IN_PREFIX", "IPAddress", "Prefix", "The address lies in the announced BGP prefix."),
    RelSpec("ANNOUNCED_BY", "Prefix", "AutonomousSystem", "The AS originates the prefix in BGP."),
    RelSpec(
        "ALLOCATED_TO",
        "Network",
        "Organization",
        "The registry allocated the network to the organisation.",
    ),
    RelSpec("REGISTERED_WITH", "Domain", "Registrar", "The domain is sponsored by the registrar."),
    RelSpec("REGISTERED_BY", "Domain", "Registrant", "The domain is held by the registrant."),
    RelSpec(
        "REPORTED_IN",
        "Domain",
        "IncidentReport",
        "A domain named in an incident report.",
        (Prop("role", "STRING", "Role the report gives it (c2, phishing, ...)."),),
    ),
    RelSpec(
        "IP_REPORTED_IN",
        "IPAddress",
        "IncidentReport",
        "An address named in an incident report.",
        (
            Prop("role", "STRING", "Role the report gives it (c2, phishing, ...)."),
            Prop("dst_port", "INTEGER", "Destination port the operator saw."),
            Prop("protocol", "STRING", "Transport protocol the operator saw."),
        ),
    ),
    RelSpec("SUBMITTED_BY", "IncidentReport", "Operator", "The operator filed the report."),
    RelSpec(
        "CONTACTED",
        "IPAddress",
        "IPAddress",
        "Flow metadata: start sent traffic to end.",
        (
            Prop("dst_port", "INTEGER", "Destination port."),
            Prop("protocol", "STRING", "Transport protocol."),
            Prop("packets", "INTEGER", "Packets summed over the flows.", merge="sum_once"),
            Prop("bytes", "INTEGER", "Bytes summed over the flows.", merge="sum_once"),
            Prop("flows", "INTEGER", "Number of flow records aggregated.", merge="sum_once"),
            Prop(
                "records",
                "LIST<STRING>",
                "SHA-256 of each flow record summed in (its normalised fields, not its file); "
                "a record loaded again is not summed again.",
                merge="union",
            ),
        ),
        key=("dst_port", "protocol"),
    ),
    RelSpec(
        "LABELS_DOMAIN",
        "LabelSource",
        "Domain",
        "The source asserts a verdict on the domain.",
        (
            Prop("verdict", "STRING", "malicious or benign."),
            Prop("family", "STRING", "Malware family or category given by the source."),
            Prop("by", "STRING", "Analyst who gave the verdict."),
            Prop("reason", "STRING", "Why the analyst gave the verdict."),
        ),
    ),
    RelSpec(
        "LABELS_IP",
        "LabelSource",
        "IPAddress",
        "The source asserts a verdict on the address.",
        (
            Prop("verdict", "STRING", "malicious or benign."),
            Prop("family", "STRING", "Malware family or category given by the source."),
            Prop("by", "STRING", "Analyst who gave the verdict."),
            Prop("reason", "STRING", "Why the analyst gave the verdict."),
        ),
    ),
)

WORKFLOW_RELATIONSHIPS: tuple[RelSpec, ...] = (
    RelSpec(
        "CONCERNS_DOMAIN",
        "ApprovalRequest",
        "Domain",
        "The request targets the domain.",
        provenance=False,
    ),
    RelSpec(
        "CONCERNS_IP",
        "ApprovalRequest",
        "IPAddress",
        "The request targets the address.",
        provenance=False,
    ),
    RelSpec(
        "DECIDES",
        "Decision",
        "ApprovalRequest",
        "The decision answers the request.",
        provenance=False,
    ),
)
RELATIONSHIPS = RELATIONSHIPS + WORKFLOW_RELATIONSHIPS

NODE_BY_LABEL = {spec.label: spec for spec in NODES}
REL_BY_TYPE = {spec.type: spec for spec in RELATIONSHIPS}

LABEL_OF_KIND: dict[str, str] = {
    "domain": "Domain",
    "ip": "IPAddress",
    "cidr": "Prefix",
    "asn": "AutonomousSystem",
}
"""The node label of each identity kind (:class:`attribution.identities.Identity`)."""
KIND_OF_LABEL: dict[str, str] = {label: kind for kind, label in LABEL_OF_KIND.items()}
"""The identity kind of each identity label."""

DNS_RELATIONSHIP: dict[str, str] = {
    rrtype: rel.type for rel in RELATIONSHIPS for rrtype in rel.rrtypes
}
"""The relationship each DNS record type states (``A`` and ``AAAA``: ``RESOLVES_TO``, ``MX``:
``MAIL_SERVER``, ...): the one map from record types to facts, which every path reads."""


@dataclass(frozen=True)
class TargetSpec:
    """How a target kind (a domain or an address) is stored, and what names it."""

    kind: str
    label: str
    key: str
    labelled_by: str
    """Relationship from a ``LabelSource``."""
    concerned_by: str
    """Relationship from an ``ApprovalRequest``."""


TARGETS: dict[str, TargetSpec] = {
    "domain": TargetSpec("domain", "Domain", "name", "LABELS_DOMAIN", "CONCERNS_DOMAIN"),
    "ip": TargetSpec("ip", "IPAddress", "address", "LABELS_IP", "CONCERNS_IP"),
}
"""The one map from a target kind to its node and relationships; every module reads it."""
TARGET_BY_LABEL: dict[str, TargetSpec] = {spec.label: spec for spec in TARGETS.values()}


def _check_names() -> None:
    for node in NODES:
        assert _NAME.match(node.label), node.label
        assert node.key in {p.name for p in node.props}, node.label
    for rel in RELATIONSHIPS:
        assert _NAME.match(rel.type), rel.type
        assert rel.start in NODE_BY_LABEL and rel.end in NODE_BY_LABEL, rel.type
        assert set(rel.key) <= {p.name for p in rel.props}, rel.type
    for label in LABEL_OF_KIND.values():
        assert label in NODE_BY_LABEL, label
    for rel in RELATIONSHIPS:
        if rel.rrtypes:
            assert rel.start in KIND_OF_LABEL and rel.end in KIND_OF_LABEL, rel.type
    for target in TARGETS.values():
        assert NODE_BY_LABEL[target.label].key == target.key, target.kind
        assert REL_BY_TYPE[target.labelled_by].end == target.label, target.kind
        assert REL_BY_TYPE[target.concerned_by].end == target.label, target.kind


_check_names()


def constraint_statements() -> list[str]:
    """Idempotent DDL: a uniqueness constraint per key and the declared indexes."""
    out = []
    for node in NODES:
        out.append(
            f"CREATE CONSTRAINT {node.label.lower()}_{node.key}_unique IF NOT EXISTS "
            f"FOR (n:{node.label}) REQUIRE n.{node.key} IS UNIQUE"
        )
        for prop in node.all_props():
            if prop.indexed:
                out.append(
                    f"CREATE INDEX {node.label.lower()}_{prop.name} IF NOT EXISTS "
                    f"FOR (n:{node.label}) ON (n.{prop.name})"
                )
            if prop.key_ordered:
                out.append(
                    f"CREATE INDEX {node.label.lower()}_{prop.name}_{node.key} IF NOT EXISTS "
                    f"FOR (n:{node.label}) ON (n.{prop.name}, n.{node.key})"
                )
    for rel in RELATIONSHIPS:
        if rel.provenance:
            out.append(
                f"CREATE INDEX {rel.type.lower()}_last_seen IF NOT EXISTS "
                f"FOR ()-[r:{rel.type}]-() ON (r.last_seen)"
            )
    return out


def render_markdown() -> str:
    """The schema as Markdown: what ``attribution schema show`` prints and SCHEMA.md holds."""
    lines = [
        "# Graph schema",
        "",
        "Generated from `attribution/schema.py` by `attribution schema show`; do not edit by hand.",
        "Every node and relationship written from an observation carries the provenance properties",
        "`source`, `first_seen`, `last_seen`, `retrieved_at` and `sightings`.",
        "",
        "## Nodes",
    ]
    for node in NODES:
        lines += [
            "",
            f"### `:{node.label}`",
            "",
            node.description,
            "",
            f"Key: `{node.key}` (unique).",
            "",
        ]
        lines += ["| property | type | description |", "| --- | --- | --- |"]
        lines += [f"| `{p.name}` | {p.type} | {p.description} |" for p in node.all_props()]
    lines += ["", "## Relationships"]
    for rel in RELATIONSHIPS:
        lines += ["", f"### `(:{rel.start})-[:{rel.type}]->(:{rel.end})`", "", rel.description, ""]
        if rel.rrtypes:
            lines += [f"DNS record types: {', '.join(f'`{t}`' for t in rel.rrtypes)}.", ""]
        if rel.key:
            lines += [f"Distinguished by: {', '.join(f'`{k}`' for k in rel.key)}.", ""]
        props = rel.all_props()
        if props:
            lines += ["| property | type | description |", "| --- | --- | --- |"]
            lines += [f"| `{p.name}` | {p.type} | {p.description} |" for p in props]
    return "\n".join(lines) + "\n"
