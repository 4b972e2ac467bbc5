// id: reports-report-indicators
// title: Indicators named by one incident report
// description: The domains and addresses an incident report names, the role it gives each,
//   and their current score and decision.
// params: report_id: string — incident report identifier
// returns: kind, value, role, score, decision
// false_positives: Reports can name the operator's own upstream resolvers or shared services
//   seen during the incident; the role column says what the operator claimed.
// revision: 1
MATCH (r:IncidentReport {report_id: $report_id})
CALL (r) {
  MATCH (d:Domain)-[x:REPORTED_IN]->(r)
  RETURN 'domain' AS kind, d.name AS value, x.role AS role, d.score AS score,
         d.decision AS decision
  UNION ALL
  MATCH (ip:IPAddress)-[x:IP_REPORTED_IN]->(r)
  RETURN 'ip' AS kind, ip.address AS value, x.role AS role, ip.score AS score,
         ip.decision AS decision
}
RETURN kind, value, role, score, decision
ORDER BY kind, value
