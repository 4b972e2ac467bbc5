// id: review-conflicting-labels
// title: Targets labelled both malicious and benign
// description: Domains and addresses on which sources disagree, one row per label, so a
//   reviewer can see which source said what before the label is used for training or action.
// params: none
// returns: kind, target, source, verdict
// false_positives: Compromised legitimate sites are both: benign owner, malicious content for
//   a while. Disagreement is the point of this list, not an error to clean away.
// revision: 1
CALL () {
  MATCH (s:LabelSource)-[l:LABELS_DOMAIN]->(d:Domain)
  RETURN 'domain' AS kind, d.name AS target, s.name AS source, l.verdict AS verdict
  UNION ALL
  MATCH (s:LabelSource)-[l:LABELS_IP]->(ip:IPAddress)
  RETURN 'ip' AS kind, ip.address AS target, s.name AS source, l.verdict AS verdict
}
WITH kind, target, collect({source: source, verdict: verdict}) AS labels
WHERE any(x IN labels WHERE x.verdict = 'malicious') AND any(x IN labels WHERE x.verdict = 'benign')
UNWIND labels AS label
RETURN kind, target, label.source AS source, label.verdict AS verdict
ORDER BY kind, target, source, verdict
