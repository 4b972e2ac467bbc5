// id: pivot-shared-prefix
// title: Domains hosted in the same BGP prefix as a domain
// description: Lists other domains whose addresses lie in any announced prefix that also
//   holds an address of the given domain, one row per (prefix, domain, address).
// params: domain: string — canonical domain name to pivot from
// params: limit: int = 200 — at most this many rows
// returns: prefix, domain, address
// false_positives: Cloud and hosting prefixes are shared by many tenants; neighbours in a
//   prefix are co-located, not related.
// page_limit: limit
// revision: 1
MATCH (:Domain {name: $domain})-[:RESOLVES_TO]->(:IPAddress)-[:IN_PREFIX]->(p:Prefix)
WITH DISTINCT p
MATCH (other:Domain)-[:RESOLVES_TO]->(ip:IPAddress)-[:IN_PREFIX]->(p)
WHERE other.name <> $domain
RETURN DISTINCT p.cidr AS prefix, other.name AS domain, ip.address AS address
ORDER BY prefix, domain, address
LIMIT $limit
