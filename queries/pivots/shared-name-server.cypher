// id: pivot-shared-name-server
// title: Domains sharing a name server with a domain
// description: Starting from one domain, lists the other domains whose zones are served by
//   any of the same name servers, with their current score and decision. Name servers that
//   serve more than max_zones zones are skipped: those are DNS hosting providers.
// params: domain: string — canonical domain name to pivot from
// params: max_zones: int = 500 — skip name servers that serve more zones than this
// returns: name_server, zones_served, domain, score, decision
// false_positives: Managed DNS providers and registrar default name servers serve many
//   unrelated customers; below the max_zones cap a small shared provider still links
//   unrelated zones. Treat a shared name server as a lead, never as evidence on its own.
// revision: 1
MATCH (:Domain {name: $domain})-[:NAME_SERVER]->(ns:Domain)
WITH DISTINCT ns
WITH ns, COUNT { (:Domain)-[:NAME_SERVER]->(ns) } AS zones_served
WHERE zones_served <= $max_zones
MATCH (other:Domain)-[:NAME_SERVER]->(ns)
WHERE other.name <> $domain
RETURN ns.name AS name_server, zones_served, other.name AS domain, other.score AS score,
       other.decision AS decision
ORDER BY name_server, domain
