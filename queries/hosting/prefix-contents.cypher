// id: hosting-prefix-contents
// title: Everything hosted in a BGP prefix
// description: The known addresses in an announced prefix, the AS announcing it, how many
//   names each address carries, and each address's score and decision.
// params: cidr: string — canonical CIDR of the announced prefix
// params: limit: int = 1000 — at most this many rows
// returns: prefix, asn, address, names, score, decision
// false_positives: A prefix announced by a cloud or hosting provider is shared by unrelated
//   tenants; an address count says nothing about who operates them.
// page_limit: limit
// revision: 1
MATCH (p:Prefix {cidr: $cidr})<-[:IN_PREFIX]-(ip:IPAddress)
OPTIONAL MATCH (p)-[:ANNOUNCED_BY]->(as:AutonomousSystem)
RETURN p.cidr AS prefix, as.asn AS asn, ip.address AS address,
       COUNT { (:Domain)-[:RESOLVES_TO]->(ip) } AS names, ip.score AS score,
       ip.decision AS decision
ORDER BY address, asn
LIMIT $limit
