// id: reports-flows-to-reported
// title: Flows contacting reported addresses
// description: Flow metadata (who contacted whom, on which port) towards addresses named in
//   incident reports, last seen since a date, with the reports that name the destination.
// params: since: datetime = 1970-01-01T00:00:00Z — only contacts last seen at or after this
// returns: source, destination, dst_port, protocol, flows, last_seen, reports
// false_positives: A reported address may be a shared host or CDN edge that the source
//   contacted for an unrelated service; the port and timing matter more than the contact.
// revision: 5

// Speed: reported is a summary kept on each address (see queries/SCHEMA.md), indexed with the
// address, so the reported addresses come off the index in address order (one row each, no
// sort of them all before the first row) and the sort after that is only within one
// destination's flows. The planner takes the index's order only for ORDER BY flag, address,
// hence dst.reported (true on every row) leading both sorts.
MATCH (dst:IPAddress)
WHERE dst.reported = true AND dst.address IS NOT NULL
WITH dst ORDER BY dst.reported, dst.address
WITH dst, COLLECT { MATCH (dst)-[:IP_REPORTED_IN]->(r:IncidentReport)
                    RETURN DISTINCT r.report_id ORDER BY r.report_id } AS reports
MATCH (src:IPAddress)-[f:CONTACTED]->(dst)
WHERE f.last_seen >= $since
RETURN src.address AS source, dst.address AS destination, f.dst_port AS dst_port,
       f.protocol AS protocol, f.flows AS flows, f.last_seen AS last_seen, reports
ORDER BY dst.reported, destination, source, dst_port, protocol
