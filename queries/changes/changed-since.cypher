// id: changes-changed-since
// title: What changed since a date
// description: Domains, addresses, prefixes and incident reports last seen after a date,
//   marked new (first seen after it) or seen-again.
// params: since: datetime — list facts seen after this time
// params: limit: int = 1000 — at most this many rows
// returns: label, key, change, first_seen, last_seen
// false_positives: Re-running enrichment moves last_seen forward without any change in the
//   world; seen-again means observed again, not modified.
// page_limit: limit
// revision: 2

// Speed: each label's nodes are read in key order from its key index and the first $limit
// seen after $since kept, instead of sorting every node seen since; labels are read in the
// order of the result (Domain, IPAddress, IncidentReport, Prefix), each only while fewer than
// $limit rows are found.
CALL () {
  MATCH (d:Domain) USING INDEX d:Domain(name)
  WHERE d.name >= '' AND d.last_seen > $since
  WITH d ORDER BY d.name LIMIT $limit
  RETURN collect({label: 'Domain', key: d.name, first_seen: d.first_seen,
                  last_seen: d.last_seen}) AS domains
}
CALL (domains) {
  UNWIND CASE WHEN size(domains) < $limit THEN [true] ELSE [] END AS more
  MATCH (ip:IPAddress) USING INDEX ip:IPAddress(address)
  WHERE ip.address >= '' AND ip.last_seen > $since
  WITH ip ORDER BY ip.address LIMIT $limit
  RETURN collect({label: 'IPAddress', key: ip.address, first_seen: ip.first_seen,
                  last_seen: ip.last_seen}) AS addresses
}
CALL (domains, addresses) {
  UNWIND CASE WHEN size(domains) + size(addresses) < $limit THEN [true] ELSE [] END AS more
  MATCH (r:IncidentReport) USING INDEX r:IncidentReport(report_id)
  WHERE r.report_id >= '' AND r.last_seen > $since
  WITH r ORDER BY r.report_id LIMIT $limit
  RETURN collect({label: 'IncidentReport', key: r.report_id, first_seen: r.first_seen,
                  last_seen: r.last_seen}) AS reports
}
CALL (domains, addresses, reports) {
  UNWIND CASE WHEN size(domains + addresses + reports) < $limit THEN [true] ELSE [] END AS more
  MATCH (p:Prefix) USING INDEX p:Prefix(cidr)
  WHERE p.cidr >= '' AND p.last_seen > $since
  WITH p ORDER BY p.cidr LIMIT $limit
  RETURN collect({label: 'Prefix', key: p.cidr, first_seen: p.first_seen,
                  last_seen: p.last_seen}) AS prefixes
}
UNWIND domains + addresses + reports + prefixes AS row
RETURN row.label AS label, row.key AS key,
       CASE WHEN row.first_seen > $since THEN 'new' ELSE 'seen-again' END AS change,
       row.first_seen AS first_seen, row.last_seen AS last_seen
ORDER BY label, key
LIMIT $limit
