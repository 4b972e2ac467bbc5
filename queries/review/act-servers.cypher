// id: review-act-servers
// title: The servers an action on each gated target would hit
// description: Every domain and address the gate says act on, one row per server. A domain's
//   servers are the addresses it resolved to within fresh_hours before it was scored; a domain
//   with none gets one row with an empty server: there is nothing to act on. An address is its
//   own server. other_names counts the other names on the server, who an action would also hit.
// params: fresh_hours: int = 72 — a resolution last seen longer than this before scoring is stale
// params: limit: int = 1000 — at most this many rows, the highest scores first
// returns: kind, target, score, score_low, score_high, server, other_names
// false_positives: Only direct address records count; a name served through a CNAME shows no
//   server here (the confidence report follows one alias hop). A fresh resolution of a
//   long-unscored target is judged against its old scoring time: re-score first.
// page_limit: limit
// revision: 2

// Speed: each branch keeps the $limit best-scored targets before expanding them (every target
// gives at least one row), and other_names comes from the address's name_count summary. The
// score condition (every scored node has one) lets the planner walk the score index from the
// top, so a page of 100 reads about 100 acted-on targets instead of every one.
CALL () {
  MATCH (d:Domain) WHERE d.decision = 'act' AND d.score IS NOT NULL
  WITH d ORDER BY d.score DESC, d.name LIMIT $limit
  OPTIONAL MATCH (d)-[r:RESOLVES_TO]->(ip:IPAddress)
  WHERE r.last_seen >= d.scored_at - duration({hours: $fresh_hours})
  RETURN 'domain' AS kind, d.name AS target, d AS node, ip.address AS server,
         CASE WHEN ip IS NULL THEN null ELSE ip.name_count - 1 END AS other_names
  UNION ALL
  MATCH (ip:IPAddress) WHERE ip.decision = 'act' AND ip.score IS NOT NULL
  WITH ip ORDER BY ip.score DESC, ip.address LIMIT $limit
  RETURN 'ip' AS kind, ip.address AS target, ip AS node, ip.address AS server,
         coalesce(ip.name_count, 0) AS other_names
}
RETURN kind, target, node.score AS score, node.score_low AS score_low,
       node.score_high AS score_high, server, other_names
ORDER BY score DESC, target, server
LIMIT $limit
