// id: pivot-shared-asn
// title: Domains hosted in the same autonomous system as a domain
// description: Lists other domains with an address in any AS that announces a prefix holding
//   an address of the given domain, with how many of their addresses lie in that AS.
// params: domain: string — canonical domain name to pivot from
// params: limit: int = 200 — at most this many rows
// returns: asn, as_name, domain, addresses
// false_positives: Large hosting and cloud ASes carry millions of benign names; a shared AS
//   is context for a bulletproof-hosting hypothesis, never a link by itself.
// page_limit: limit
// revision: 1
MATCH (:Domain {name: $domain})-[:RESOLVES_TO]->(:IPAddress)-[:IN_PREFIX]->(:Prefix)
      -[:ANNOUNCED_BY]->(as:AutonomousSystem)
WITH DISTINCT as
MATCH (other:Domain)-[:RESOLVES_TO]->(ip:IPAddress)-[:IN_PREFIX]->(:Prefix)-[:ANNOUNCED_BY]->(as)
WHERE other.name <> $domain
RETURN as.asn AS asn, as.name AS as_name, other.name AS domain, count(DISTINCT ip) AS addresses
ORDER BY asn, domain
LIMIT $limit
