// id: changes-changed-since
// title: What changed since a date
// description: Domains, addresses, prefixes and incident reports last seen after a date,
//   marked new (first seen after it) or seen-again.
// params: since: datetime — list facts seen after this time
// params: limit: int = 1000 — at most this many rows
// returns: label, key, change, first_seen, last_seen
// false_positives: Re-running enrichment moves last_seen forward without any change in the
//   world; seen-again means observed again, not modified.
// revision: 1
CALL () {
  MATCH (d:Domain) WHERE d.last_seen > $since
  RETURN 'Domain' AS label, d.name AS key, d.first_seen AS first_seen, d.last_seen AS last_seen
  UNION ALL
  MATCH (ip:IPAddress) WHERE ip.last_seen > $since
  RETURN 'IPAddress' AS label, ip.address AS key, ip.first_seen AS first_seen,
         ip.last_seen AS last_seen
  UNION ALL
  MATCH (p:Prefix) WHERE p.last_seen > $since
  RETURN 'Prefix' AS label, p.cidr AS key, p.first_seen AS first_seen, p.last_seen AS last_seen
  UNION ALL
  MATCH (r:IncidentReport) WHERE r.last_seen > $since
  RETURN 'IncidentReport' AS label, r.report_id AS key, r.first_seen AS first_seen,
         r.last_seen AS last_seen
}
RETURN label, key, CASE WHEN first_seen > $since THEN 'new' ELSE 'seen-again' END AS change,
       first_seen, last_seen
ORDER BY label, key
LIMIT $limit
