// id: hosting-as-contents
// title: Everything hosted in an autonomous system
// description: The prefixes an AS announces, the known addresses in them and the names that
//   resolve to those addresses, with the decisions on addresses and names.
// params: asn: int — AS number
// params: limit: int = 1000 — at most this many rows
// returns: prefix, address, address_decision, domain, domain_decision
// false_positives: Hosting and cloud ASes announce space for many customers; only rows with
//   their own evidence say anything about a target.
// page_limit: limit
// revision: 2

// Speed: prefixes, then their addresses, are put in result order before the names are
// expanded, so the final sort only orders the names of one address and a page stops early.
MATCH (:AutonomousSystem {asn: $asn})<-[:ANNOUNCED_BY]-(p:Prefix)
WITH p ORDER BY p.cidr
OPTIONAL MATCH (p)<-[:IN_PREFIX]-(ip:IPAddress)
WITH p, ip ORDER BY p.cidr, ip.address
OPTIONAL MATCH (ip)<-[:RESOLVES_TO]-(d:Domain)
RETURN p.cidr AS prefix, ip.address AS address, ip.decision AS address_decision,
       d.name AS domain, d.decision AS domain_decision
ORDER BY prefix, address, domain
LIMIT $limit
