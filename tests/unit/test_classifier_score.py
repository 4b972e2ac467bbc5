"""The score write-back and change statements, generated from the schema's targets."""

from __future__ import annotations

import pytest

from attribution.classifier.score import changed_statement, score_statements

SET = (
    "SET n.score = row.score, n.score_low = row.score_low, n.score_high = row.score_high, "
    "n.decision = row.decision, n.reasons = row.reasons, n.explanation = row.explanation, "
    "n.evidence_families = row.evidence_families, n.score_features = row.score_features, "
    "n.model_version = $version, "
    "n.scored_at = datetime({epochMillis: $at})"
)


def test_one_write_back_statement_per_target_label() -> None:
    assert score_statements() == {
        "Domain": f"UNWIND $rows AS row MATCH (n:Domain {{name: row.key}})\n{SET}",
        "IPAddress": f"UNWIND $rows AS row MATCH (n:IPAddress {{address: row.key}})\n{SET}",
    }


def test_changed_nodes_of_every_target_label() -> None:
    statement = changed_statement()
    since = "datetime({epochMillis: $since})"
    domain, address = statement.split("\nUNION ALL\n")
    assert domain.startswith(
        "CALL () {\n"
        f"  MATCH (n:Domain) WHERE n.scored_at IS NULL OR n.last_seen > {since} RETURN n\n"
        "  UNION\n"
        "  MATCH (n:Domain)-[r:RESOLVES_TO]->() USING INDEX r:RESOLVES_TO(last_seen)"
        f" WHERE r.last_seen > {since} RETURN n\n"
    )
    assert domain.endswith("}\nRETURN 'Domain' AS label, n.name AS key")
    assert address.endswith("}\nRETURN 'IPAddress' AS label, n.address AS key")
    # Every relationship type with provenance, in each direction the target takes part in,
    # each through its last_seen index.
    newer = f"WHERE r.last_seen > {since} RETURN n"
    for branch in (
        "()-[r:REVERSE_NAME]->(n:Domain) USING INDEX r:REVERSE_NAME(last_seen)",
        "()-[r:LABELS_DOMAIN]->(n:Domain) USING INDEX r:LABELS_DOMAIN(last_seen)",
    ):
        assert f"  MATCH {branch} {newer}" in domain
    for branch in (
        "(n:IPAddress)-[r:REVERSE_NAME]->() USING INDEX r:REVERSE_NAME(last_seen)",
        "(n:IPAddress)-[r:CONTACTED]->() USING INDEX r:CONTACTED(last_seen)",
        "()-[r:CONTACTED]->(n:IPAddress) USING INDEX r:CONTACTED(last_seen)",
    ):
        assert f"  MATCH {branch} {newer}" in address
    assert (domain.count("RETURN n"), address.count("RETURN n")) == (15, 9)
    assert "CONCERNS_" not in statement  # approval requests carry no sightings


def test_a_property_the_schema_does_not_declare_is_refused() -> None:
    with pytest.raises(LookupError) as caught:
        score_statements(row_properties=("score", "colour", "mood"))
    assert str(caught.value) == (
        "scoring uses colour, mood on Domain, which attribution.schema does not declare on "
        "that node"
    )
    with pytest.raises(LookupError, match="uses scored_by on Domain"):
        score_statements(run_properties={"scored_by": "$version"})
