// id: review-enrichment-failures
// title: Enrichment failures
// description: Domains and addresses whose enrichment failed, or whose last run recorded a
//   failure of some source, with the per-source reasons.
// params: limit: int = 500 — at most this many rows
// returns: kind, target, state, failures, enriched_at
// false_positives: A transient failure (timeout, rate limit) says nothing about the target;
//   missing data must lower confidence, never raise suspicion.
// page_limit: limit
// revision: 3

// Speed: the worker's finish marks a node enrich_failing when its run failed or recorded a
// failure; the index on (enrich_failing, key) hands each label's failing nodes over in key
// order, so each branch stops after $limit and the final sort sees at most twice $limit rows.
// (The planner takes the index's order for ORDER BY flag, key; for the key alone it sorts.)
CALL () {
  MATCH (d:Domain) WHERE d.enrich_failing = true AND d.name IS NOT NULL
  WITH d ORDER BY d.enrich_failing, d.name LIMIT $limit
  RETURN 'domain' AS kind, d.name AS target, d AS node
  UNION ALL
  MATCH (ip:IPAddress) WHERE ip.enrich_failing = true AND ip.address IS NOT NULL
  WITH ip ORDER BY ip.enrich_failing, ip.address LIMIT $limit
  RETURN 'ip' AS kind, ip.address AS target, ip AS node
}
RETURN kind, target, node.enrich_state AS state, node.enrich_failures AS failures,
       node.enriched_at AS enriched_at
ORDER BY kind, target
LIMIT $limit
