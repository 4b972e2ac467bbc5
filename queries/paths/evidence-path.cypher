// id: paths-evidence-path
// title: Evidence paths between two indicators
// description: All shortest paths of at most six hops between two indicators (domain names
//   or IP addresses), over DNS, hosting, registration, report and flow relationships only
//   (label sources are left out: a feed would connect everything it lists).
// params: source_indicator: string — canonical domain name or IP address to start from
// params: target_indicator: string — canonical domain name or IP address to reach
// params: limit: int = 10 — at most this many paths
// returns: path_nodes, path_relationships, hops
// false_positives: Hubs (big registrars, hosting ASes, privacy registrants, CDN addresses)
//   make short paths between unrelated indicators; inspect every hub on a path.
// page_limit: limit
// revision: 1
CALL () {
  MATCH (n:Domain {name: $source_indicator}) RETURN n
  UNION
  MATCH (n:IPAddress {address: $source_indicator}) RETURN n
}
WITH n AS a
CALL () {
  MATCH (n:Domain {name: $target_indicator}) RETURN n
  UNION
  MATCH (n:IPAddress {address: $target_indicator}) RETURN n
}
WITH a, n AS b
MATCH p = allShortestPaths((a)-[:RESOLVES_TO|ALIAS_OF|NAME_SERVER|MAIL_SERVER|REVERSE_NAME|SUBDOMAIN_OF|IN_NETWORK|IN_PREFIX|ANNOUNCED_BY|ALLOCATED_TO|REGISTERED_WITH|REGISTERED_BY|REPORTED_IN|IP_REPORTED_IN|SUBMITTED_BY|CONTACTED*..6]-(b))
WITH [x IN nodes(p) | labels(x)[0] + ':' + toString(coalesce(x.address, x.cidr, x.asn,
        x.handle, x.report_id, x.key, x.name))] AS path_nodes,
     [r IN relationships(p) | type(r)] AS path_relationships, length(p) AS hops
RETURN path_nodes, path_relationships, hops
ORDER BY hops, path_nodes, path_relationships
LIMIT $limit
