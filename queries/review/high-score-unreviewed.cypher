// id: review-high-score-unreviewed
// title: High-score targets not yet sent for approval
// description: Domains and addresses with a score of at least min_score and a decision in
//   decisions that no approval request concerns yet.
// params: min_score: float = 0.8 — lowest calibrated probability to list
// params: decisions: list<string> = act — gate decisions to list
// params: limit: int = 1000 — at most this many rows, the highest scores first
// returns: kind, target, score, decision, reasons, model_version, scored_at
// false_positives: Scores come from one model version; a target scored by an old model may
//   have changed since. Check collateral-risk before requesting approval.
// page_limit: limit
// revision: 3

// Speed: each branch keeps its $limit best before the union is sorted, walking the score index
// from the top (min_score bounds it), so a page of 100 reads about 100 targets per branch.
CALL () {
  MATCH (d:Domain)
  WHERE d.decision IN $decisions AND d.score >= $min_score
    AND NOT EXISTS { (:ApprovalRequest)-[:CONCERNS_DOMAIN]->(d) }
  WITH d ORDER BY d.score DESC, d.name LIMIT $limit
  RETURN 'domain' AS kind, d.name AS target, d AS node
  UNION ALL
  MATCH (ip:IPAddress)
  WHERE ip.decision IN $decisions AND ip.score >= $min_score
    AND NOT EXISTS { (:ApprovalRequest)-[:CONCERNS_IP]->(ip) }
  WITH ip ORDER BY ip.score DESC, ip.address LIMIT $limit
  RETURN 'ip' AS kind, ip.address AS target, ip AS node
}
RETURN kind, target, node.score AS score, node.decision AS decision, node.reasons AS reasons,
       node.model_version AS model_version, node.scored_at AS scored_at
ORDER BY score DESC, target
LIMIT $limit
