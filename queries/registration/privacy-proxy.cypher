// id: registration-privacy-proxy
// title: Domains registered through a privacy or proxy service
// description: Domains whose registration hides the holder (flagged on the domain, or held
//   by a registrant marked as a privacy/proxy service), with registrar and score.
// params: min_score: float = 0.0 — only domains scored at least this (unscored count as 0)
// params: limit: int = 1000 — at most this many rows
// returns: domain, registrant, registrar, created, score, decision
// false_positives: Privacy registration is the default at many registrars and common for
//   individuals; it is context, not evidence of malice.
// page_limit: limit
// revision: 3

// Speed: names are read in order from the name index and the first $limit that qualify kept,
// so the query reads about $limit names divided by the share that qualifies.
MATCH (d:Domain)
USING INDEX d:Domain(name)
WHERE d.name >= ''
  AND (d.privacy_proxy = true OR EXISTS { (d)-[:REGISTERED_BY]->(:Registrant {privacy_proxy: true}) })
  AND coalesce(d.score, 0.0) >= $min_score
WITH d ORDER BY d.name LIMIT $limit
OPTIONAL MATCH (d)-[:REGISTERED_BY]->(holder:Registrant)
OPTIONAL MATCH (d)-[:REGISTERED_WITH]->(reg:Registrar)
RETURN d.name AS domain, holder.name AS registrant, reg.name AS registrar, d.created AS created,
       d.score AS score, d.decision AS decision
ORDER BY domain, registrant, registrar
LIMIT $limit
