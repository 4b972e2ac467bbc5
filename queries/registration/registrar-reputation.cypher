// id: registration-registrar-reputation
// title: Registrar reputation
// description: Per registrar: how many known domains it sponsors, how many of them a source
//   labels malicious, how many the classifier marks act, and the malicious share.
// params: min_domains: int = 1 — only registrars sponsoring at least this many known domains
// returns: registrar, name, domains, malicious, act_decisions, malicious_share
// false_positives: The graph holds mostly suspicious domains, so every registrar's share is
//   inflated; large registrars appear malicious-heavy simply because they are large. Compare
//   registrars with each other, never with a fixed threshold.
// revision: 2

// Speed: domain_count and malicious_domains are summaries kept on each registrar; act
// decisions are written beside the writer, so they are counted here through the decision index.
CALL () {
  MATCH (r:Registrar)
  WHERE r.domain_count >= $min_domains AND r.domain_count > 0
  RETURN r, 0 AS acted
  UNION ALL
  MATCH (:Domain {decision: 'act'})-[:REGISTERED_WITH]->(r:Registrar)
  WHERE r.domain_count >= $min_domains
  RETURN r, 1 AS acted
}
WITH r, sum(acted) AS act_decisions
RETURN r.key AS registrar, r.name AS name, r.domain_count AS domains,
       r.malicious_domains AS malicious, act_decisions,
       round(toFloat(r.malicious_domains) / r.domain_count, 3) AS malicious_share
ORDER BY malicious_share DESC, registrar
