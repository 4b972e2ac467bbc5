// id: reports-by-sector
// title: Incident reports by sector in a time window
// description: Per sector: incident reports filed in [window_start, window_end), how many are
//   confirmed, and how many distinct domains and addresses they name.
// params: window_start: datetime = 1970-01-01T00:00:00Z — reports filed at or after this
// params: window_end: datetime = 2100-01-01T00:00:00Z — reports filed before this
// returns: sector, reports, confirmed, indicators
// false_positives: Operators report what their sensors flagged, including scanners and
//   shared infrastructure; a count of named indicators is not a count of attackers.
// revision: 1
MATCH (r:IncidentReport)
WHERE r.reported_at >= $window_start AND r.reported_at < $window_end
OPTIONAL MATCH (r)<-[:REPORTED_IN|IP_REPORTED_IN]-(indicator)
RETURN r.sector AS sector, count(DISTINCT r) AS reports,
       count(DISTINCT CASE WHEN r.confirmed THEN r END) AS confirmed,
       count(DISTINCT indicator) AS indicators
ORDER BY sector
