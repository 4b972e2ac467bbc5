// id: hosting-cohosted-names
// title: Names co-hosted on an address
// description: Every domain seen resolving to one address since a date, with its score,
//   decision and how many sources label it benign or malicious. Read this before asking to
//   act against an address: every benign name here would be hit too.
// params: address: string — canonical IP address
// params: since: datetime = 1970-01-01T00:00:00Z — only resolutions last seen at or after this
// returns: domain, first_seen, last_seen, score, decision, benign_labels, malicious_labels
// false_positives: Passive DNS keeps old resolutions; a name that moved away long ago still
//   appears unless since is set. CDN addresses list names of unrelated customers.
// revision: 1
MATCH (:IPAddress {address: $address})<-[r:RESOLVES_TO]-(d:Domain)
WHERE r.last_seen >= $since
RETURN d.name AS domain, r.first_seen AS first_seen, r.last_seen AS last_seen,
       d.score AS score, d.decision AS decision,
       COUNT { (:LabelSource)-[:LABELS_DOMAIN {verdict: 'benign'}]->(d) } AS benign_labels,
       COUNT { (:LabelSource)-[:LABELS_DOMAIN {verdict: 'malicious'}]->(d) } AS malicious_labels
ORDER BY domain
