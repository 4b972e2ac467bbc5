// id: changes-resolutions-since
// title: DNS resolutions seen since a date
// description: Name-to-address resolutions last seen after a date, marked new (first seen
//   after it) or seen-again: the moves a domain made recently.
// params: since: datetime — list resolutions seen after this time
// params: limit: int = 1000 — at most this many rows
// returns: domain, address, change, first_seen, last_seen, min_ttl
// false_positives: CDN-fronted names change addresses constantly; new resolutions on a CDN
//   are routine, not a sign of infrastructure moving.
// page_limit: limit
// revision: 2

// Speed: names are read in order from the name index, so the first $limit resolutions seen
// since are found without sorting every one.
MATCH (d:Domain) USING INDEX d:Domain(name)
WHERE d.name >= ''
MATCH (d)-[r:RESOLVES_TO]->(ip:IPAddress)
WHERE r.last_seen > $since
RETURN d.name AS domain, ip.address AS address,
       CASE WHEN r.first_seen > $since THEN 'new' ELSE 'seen-again' END AS change,
       r.first_seen AS first_seen, r.last_seen AS last_seen, r.min_ttl AS min_ttl
ORDER BY domain, address
LIMIT $limit
