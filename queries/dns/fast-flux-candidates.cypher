// id: dns-fast-flux-candidates
// title: Fast-flux candidates
// description: Names that resolved to many distinct addresses spread over several ASes with a
//   low minimum TTL, counting resolutions last seen since a date.
// params: min_addresses: int = 3 — at least this many distinct addresses
// params: min_asns: int = 2 — spread over at least this many origin ASes
// params: max_ttl: int = 300 — smallest TTL seen at most this (seconds)
// params: since: datetime = 1970-01-01T00:00:00Z — only resolutions last seen at or after this
// params: limit: int = 1000 — at most this many rows, the widest spread first
// returns: domain, addresses, asns, min_ttl, score, decision
// false_positives: CDNs, global load balancers and large mail or cloud platforms rotate many
//   addresses across ASes with low TTLs for legitimate reasons; check warninglists first.
// page_limit: limit
// revision: 4

// Speed: each name keeps its spread as summaries (resolution_count, asn_count,
// resolution_min_ttl, resolution_oldest_seen; see queries/SCHEMA.md). When every resolution of
// a name was last seen at or after $since the summaries are its counts, read in rank order from
// the asn_count index; names with older resolutions are counted from their resolutions.
CALL () {
  MATCH (d:Domain)
  USING INDEX d:Domain(asn_count)
  WHERE d.asn_count >= $min_asns AND d.resolution_count >= $min_addresses
    AND d.resolution_min_ttl <= $max_ttl AND d.resolution_oldest_seen >= $since
  RETURN d, d.resolution_count AS addresses, d.asn_count AS asns, d.resolution_min_ttl AS min_ttl
  ORDER BY d.asn_count DESC, addresses DESC, d.name
  LIMIT $limit
  UNION ALL
  MATCH (d:Domain)
  USING INDEX d:Domain(resolution_oldest_seen)
  WHERE d.resolution_oldest_seen < $since AND d.asn_count >= $min_asns
    AND d.resolution_count >= $min_addresses AND d.resolution_min_ttl <= $max_ttl
  MATCH (d)-[r:RESOLVES_TO]->(ip:IPAddress)
  WHERE r.last_seen >= $since
  OPTIONAL MATCH (ip)-[:IN_PREFIX]->(:Prefix)-[:ANNOUNCED_BY]->(as:AutonomousSystem)
  WITH d, count(DISTINCT ip) AS addresses, count(DISTINCT as) AS asns, min(r.min_ttl) AS min_ttl
  WHERE addresses >= $min_addresses AND asns >= $min_asns AND min_ttl <= $max_ttl
  RETURN d, addresses, asns, min_ttl
}
RETURN d.name AS domain, addresses, asns, min_ttl, d.score AS score, d.decision AS decision
ORDER BY asns DESC, addresses DESC, domain
LIMIT $limit
