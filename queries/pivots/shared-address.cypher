// id: pivot-shared-address
// title: Domains sharing an IP address with a domain
// description: For each address a domain resolves to, lists the other names on that address
//   and how many names the address carries in total.
// params: domain: string — canonical domain name to pivot from
// returns: address, names_on_address, domain, score, decision
// false_positives: Shared hosting, CDN edges and parking addresses carry thousands of
//   unrelated names; a high names_on_address means the link says little about intent.
// revision: 1
MATCH (:Domain {name: $domain})-[:RESOLVES_TO]->(ip:IPAddress)
WITH DISTINCT ip
WITH ip, COUNT { (:Domain)-[:RESOLVES_TO]->(ip) } AS names_on_address
MATCH (other:Domain)-[:RESOLVES_TO]->(ip)
WHERE other.name <> $domain
RETURN ip.address AS address, names_on_address, other.name AS domain, other.score AS score,
       other.decision AS decision
ORDER BY address, domain
