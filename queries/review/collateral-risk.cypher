// id: review-collateral-risk
// title: Targets with collateral risk
// description: Targets with a given decision whose neutralisation would hit other names: an
//   address carrying many names, or a domain sharing addresses with many names, and how many
//   of those neighbours some source labels benign.
// params: decision: string = act — gate decision of the targets to check
// params: min_cohosted: int = 3 — list targets with at least this many co-hosted names
// returns: kind, target, score, cohosted_names, benign_neighbours
// false_positives: Counts come from passive DNS history, which includes names that left the
//   address long ago; a high count may overstate today's collateral. Targets with benign
//   neighbours are always listed, whatever their count.
// revision: 1
CALL () {
  MATCH (ip:IPAddress {decision: $decision})
  OPTIONAL MATCH (other:Domain)-[:RESOLVES_TO]->(ip)
  RETURN 'ip' AS kind, ip.address AS target, ip.score AS score, other
  UNION ALL
  MATCH (d:Domain {decision: $decision})
  OPTIONAL MATCH (d)-[:RESOLVES_TO]->(:IPAddress)<-[:RESOLVES_TO]-(other:Domain)
  WHERE other <> d
  RETURN 'domain' AS kind, d.name AS target, d.score AS score, other
}
WITH kind, target, score, count(DISTINCT other) AS cohosted_names,
     count(DISTINCT CASE
       WHEN other IS NOT NULL
            AND EXISTS { (:LabelSource)-[:LABELS_DOMAIN {verdict: 'benign'}]->(other) }
       THEN other END) AS benign_neighbours
WHERE cohosted_names >= $min_cohosted OR benign_neighbours > 0
RETURN kind, target, score, cohosted_names, benign_neighbours
ORDER BY benign_neighbours DESC, cohosted_names DESC, target
