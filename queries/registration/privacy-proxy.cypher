// id: registration-privacy-proxy
// title: Domains registered through a privacy or proxy service
// description: Domains whose registration hides the holder (flagged on the domain, or held
//   by a registrant marked as a privacy/proxy service), with registrar and score.
// params: min_score: float = 0.0 — only domains scored at least this (unscored count as 0)
// params: limit: int = 1000 — at most this many rows
// returns: domain, registrant, registrar, created, score, decision
// false_positives: Privacy registration is the default at many registrars and common for
//   individuals; it is context, not evidence of malice.
// revision: 2
MATCH (d:Domain)
WHERE (d.privacy_proxy = true OR EXISTS { (d)-[:REGISTERED_BY]->(:Registrant {privacy_proxy: true}) })
  AND coalesce(d.score, 0.0) >= $min_score
OPTIONAL MATCH (d)-[:REGISTERED_BY]->(holder:Registrant)
OPTIONAL MATCH (d)-[:REGISTERED_WITH]->(reg:Registrar)
RETURN d.name AS domain, holder.name AS registrant, reg.name AS registrar, d.created AS created,
       d.score AS score, d.decision AS decision
ORDER BY domain, registrant, registrar
LIMIT $limit
