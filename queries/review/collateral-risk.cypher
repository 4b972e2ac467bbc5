// id: review-collateral-risk
// title: Targets with collateral risk
// description: Targets with a given decision whose neutralisation would hit other names: an
//   address carrying many names, or a domain sharing addresses with many names, and how many
//   of those neighbours some source labels benign.
// params: decision: string = act — gate decision of the targets to check
// params: min_cohosted: int = 3 — list targets with at least this many co-hosted names
// params: limit: int = 1000 — at most this many rows, the most benign neighbours first
// returns: kind, target, score, cohosted_names, benign_neighbours
// false_positives: Counts come from passive DNS history, which includes names that left the
//   address long ago; a high count may overstate today's collateral. Targets with benign
//   neighbours are always listed, whatever their count.
// page_limit: limit
// revision: 3

// Speed: the counts are summaries kept on each address (name_count, benign_names) and domain
// (cohosted_names, benign_neighbours); a node with no resolution has none, which counts as 0.
// The order is computed from two labels' summaries, so no index gives it; with $limit the
// server keeps only the best $limit rows as it reads the targets instead of sorting them all.
CALL () {
  MATCH (ip:IPAddress {decision: $decision})
  RETURN 'ip' AS kind, ip.address AS target, ip.score AS score,
         coalesce(ip.name_count, 0) AS cohosted_names,
         coalesce(ip.benign_names, 0) AS benign_neighbours
  UNION ALL
  MATCH (d:Domain {decision: $decision})
  RETURN 'domain' AS kind, d.name AS target, d.score AS score,
         coalesce(d.cohosted_names, 0) AS cohosted_names,
         coalesce(d.benign_neighbours, 0) AS benign_neighbours
}
WITH kind, target, score, cohosted_names, benign_neighbours
WHERE cohosted_names >= $min_cohosted OR benign_neighbours > 0
RETURN kind, target, score, cohosted_names, benign_neighbours
ORDER BY benign_neighbours DESC, cohosted_names DESC, target
LIMIT $limit
