// id: pivot-shared-registrant
// title: Domains held by the same registrant as a domain
// description: Lists the other domains registered by the registrant(s) of one domain.
//   Privacy and proxy registrants are skipped unless include_privacy is true.
// params: domain: string — canonical domain name to pivot from
// params: include_privacy: bool = false — also pivot on privacy/proxy registrants
// returns: registrant, registrant_name, privacy_proxy, domain, score, decision
// false_positives: Privacy and proxy services hold millions of unrelated registrations, so
//   pivoting through them links strangers. Registrant names normalised from free text can
//   merge distinct holders with the same name.
// revision: 1
MATCH (:Domain {name: $domain})-[:REGISTERED_BY]->(reg:Registrant)
WHERE $include_privacy OR NOT coalesce(reg.privacy_proxy, false)
WITH DISTINCT reg
MATCH (other:Domain)-[:REGISTERED_BY]->(reg)
WHERE other.name <> $domain
RETURN reg.key AS registrant, reg.name AS registrant_name,
       coalesce(reg.privacy_proxy, false) AS privacy_proxy, other.name AS domain,
       other.score AS score, other.decision AS decision
ORDER BY registrant, domain
