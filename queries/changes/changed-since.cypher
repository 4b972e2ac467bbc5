// id: changes-changed-since
// title: What changed since a date
// description: Domains, addresses, prefixes and incident reports last seen after a date,
//   marked new (first seen after it) or seen-again.
// params: since: datetime — list facts seen after this time
// params: limit: int = 1000 — at most this many rows
// returns: label, key, change, first_seen, last_seen
// false_positives: Re-running enrichment moves last_seen forward without any change in the
//   world; seen-again means observed again, not modified.
// revision: 2

// Speed: each label's nodes are read in key order from its key index and the first $limit
// seen after $since kept, instead of sorting every node seen since.
CALL () {
  MATCH (d:Domain) USING INDEX d:Domain(name)
  WHERE d.name >= '' AND d.last_seen > $since
  WITH d ORDER BY d.name LIMIT $limit
  RETURN 'Domain' AS label, d.name AS key, d.first_seen AS first_seen, d.last_seen AS last_seen
  UNION ALL
  MATCH (ip:IPAddress) USING INDEX ip:IPAddress(address)
  WHERE ip.address >= '' AND ip.last_seen > $since
  WITH ip ORDER BY ip.address LIMIT $limit
  RETURN 'IPAddress' AS label, ip.address AS key, ip.first_seen AS first_seen,
         ip.last_seen AS last_seen
  UNION ALL
  MATCH (p:Prefix) USING INDEX p:Prefix(cidr)
  WHERE p.cidr >= '' AND p.last_seen > $since
  WITH p ORDER BY p.cidr LIMIT $limit
  RETURN 'Prefix' AS label, p.cidr AS key, p.first_seen AS first_seen, p.last_seen AS last_seen
  UNION ALL
  MATCH (r:IncidentReport) USING INDEX r:IncidentReport(report_id)
  WHERE r.report_id >= '' AND r.last_seen > $since
  WITH r ORDER BY r.report_id LIMIT $limit
  RETURN 'IncidentReport' AS label, r.report_id AS key, r.first_seen AS first_seen,
         r.last_seen AS last_seen
}
RETURN label, key, CASE WHEN first_seen > $since THEN 'new' ELSE 'seen-again' END AS change,
       first_seen, last_seen
ORDER BY label, key
LIMIT $limit
