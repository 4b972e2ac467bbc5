// id: review-enrichment-failures
// title: Enrichment failures
// description: Domains and addresses whose enrichment failed, or whose last run recorded a
//   failure of some source, with the per-source reasons.
// params: limit: int = 500 — at most this many rows
// returns: kind, target, state, failures, enriched_at
// false_positives: A transient failure (timeout, rate limit) says nothing about the target;
//   missing data must lower confidence, never raise suspicion.
// page_limit: limit
// revision: 2

// Speed: each condition is an index seek (enrich_failures > [] holds for every non-empty list
// and is how the range index on enrich_failures finds them); UNION drops a node found twice.
CALL () {
  MATCH (d:Domain) WHERE d.enrich_state = 'failed'
  RETURN 'domain' AS kind, d.name AS target, d AS node
  UNION
  MATCH (d:Domain) WHERE d.enrich_failures > []
  RETURN 'domain' AS kind, d.name AS target, d AS node
  UNION
  MATCH (ip:IPAddress) WHERE ip.enrich_state = 'failed'
  RETURN 'ip' AS kind, ip.address AS target, ip AS node
  UNION
  MATCH (ip:IPAddress) WHERE ip.enrich_failures > []
  RETURN 'ip' AS kind, ip.address AS target, ip AS node
}
RETURN kind, target, node.enrich_state AS state, node.enrich_failures AS failures,
       node.enriched_at AS enriched_at
ORDER BY kind, target
LIMIT $limit
