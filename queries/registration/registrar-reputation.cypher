// id: registration-registrar-reputation
// title: Registrar reputation
// description: Per registrar: how many known domains it sponsors, how many of them a source
//   labels malicious, how many the classifier marks act, and the malicious share.
// params: min_domains: int = 1 — only registrars sponsoring at least this many known domains
// returns: registrar, name, domains, malicious, act_decisions, malicious_share
// false_positives: The graph holds mostly suspicious domains, so every registrar's share is
//   inflated; large registrars appear malicious-heavy simply because they are large. Compare
//   registrars with each other, never with a fixed threshold.
// revision: 1
MATCH (r:Registrar)<-[:REGISTERED_WITH]-(d:Domain)
WITH r, count(d) AS domains,
     sum(CASE WHEN EXISTS { (:LabelSource)-[:LABELS_DOMAIN {verdict: 'malicious'}]->(d) }
              THEN 1 ELSE 0 END) AS malicious,
     sum(CASE WHEN d.decision = 'act' THEN 1 ELSE 0 END) AS act_decisions
WHERE domains >= $min_domains
RETURN r.key AS registrar, r.name AS name, domains, malicious, act_decisions,
       round(toFloat(malicious) / domains, 3) AS malicious_share
ORDER BY malicious_share DESC, registrar
