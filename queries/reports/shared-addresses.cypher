// id: reports-shared-addresses
// title: Incident reports naming shared addresses
// description: Addresses named in incident reports that also carry at least min_names
//   domains: the reports whose indicators most need a collateral check.
// params: min_names: int = 2 — only addresses with at least this many names resolving to them
// returns: report_id, sector, address, role, cohosted_names
// false_positives: This query finds likely false positives on purpose: a report naming a CDN
//   or shared-hosting address is usually about one tenant, not the address.
// revision: 3

// Speed: name_count is a summary kept on each address (absent: no names). Reports are walked
// in report_id order on their index, so the sort is only among one report's addresses and a
// page of the result needs only the reports it shows.
MATCH (r:IncidentReport) USING INDEX r:IncidentReport(report_id)
WHERE r.report_id IS NOT NULL
WITH r ORDER BY r.report_id
MATCH (ip:IPAddress)-[named:IP_REPORTED_IN]->(r)
WITH ip, named, r, coalesce(ip.name_count, 0) AS cohosted_names
WHERE cohosted_names >= $min_names
RETURN r.report_id AS report_id, r.sector AS sector, ip.address AS address, named.role AS role,
       cohosted_names
ORDER BY report_id, address
