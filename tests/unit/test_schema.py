"""The schema declarations, their generated DDL and their committed rendering."""

from __future__ import annotations

from pathlib import Path

from attribution.schema import NODES, RELATIONSHIPS, constraint_statements, render_markdown
from attribution.writer import node_statement, rel_statement

REPO = Path(__file__).resolve().parents[2]


def test_committed_schema_document_is_current() -> None:
    committed = (REPO / "queries" / "SCHEMA.md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "run: attribution schema show > queries/SCHEMA.md"


def test_every_label_relationship_and_property_is_described() -> None:
    for node in NODES:
        assert node.description.strip(), node.label
        for prop in node.all_props():
            assert prop.description.strip().endswith("."), (node.label, prop.name)
    for rel in RELATIONSHIPS:
        assert rel.description.strip(), rel.type
        for prop in rel.all_props():
            assert prop.description.strip().endswith("."), (rel.type, prop.name)


def test_one_uniqueness_constraint_per_label() -> None:
    statements = constraint_statements()
    constraints = [s for s in statements if s.startswith("CREATE CONSTRAINT")]
    assert len(constraints) == len(NODES)
    assert (
        "CREATE CONSTRAINT domain_name_unique IF NOT EXISTS FOR (n:Domain) REQUIRE n.name IS UNIQUE"
        in constraints
    )
    assert all(" IF NOT EXISTS " in s for s in statements)


def test_a_key_ordered_property_gets_an_index_with_the_key_after_it() -> None:
    composite = [s for s in constraint_statements() if ", n." in s]
    assert composite == [
        "CREATE INDEX domain_enrich_failing_name IF NOT EXISTS "
        "FOR (n:Domain) ON (n.enrich_failing, n.name)",
        "CREATE INDEX ipaddress_enrich_failing_address IF NOT EXISTS "
        "FOR (n:IPAddress) ON (n.enrich_failing, n.address)",
        "CREATE INDEX ipaddress_reported_address IF NOT EXISTS "
        "FOR (n:IPAddress) ON (n.reported, n.address)",
    ]


def test_generated_merge_statements_take_values_only_from_parameters() -> None:
    statement = rel_statement("CONTACTED")
    assert statement.startswith("UNWIND $rows AS row\n")
    assert "MERGE (a:IPAddress {address: row.start})" in statement
    assert (
        "MERGE (a)-[r:CONTACTED {dst_port: row.rkey.dst_port, protocol: row.rkey.protocol}]->(b)"
        in statement
    )
    # Flow counters are summed once per record: a row whose records are all stored adds nothing.
    assert (
        "r.packets = CASE WHEN row.agg.packets IS NULL OR (size(coalesce(row.agg.records, [])) > 0 "
        "AND all(d IN row.agg.records WHERE d IN coalesce(r.records, []))) THEN r.packets "
        "ELSE coalesce(r.packets, 0) + row.agg.packets END" in statement
    )
    assert statement.index("r.records = ") > statement.index("r.flows = ")
    node = node_statement("Domain")
    assert "MERGE (n:Domain {name: row.key})" in node
    assert "n.tags = CASE WHEN row.agg.tags IS NULL THEN n.tags ELSE coalesce(n.tags, [])" in node
    assert "n.enrich_state = coalesce(n.enrich_state, row.agg.enrich_state)" in node
