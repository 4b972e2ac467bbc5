// id: review-conflicting-labels
// title: Targets labelled both malicious and benign
// description: Domains and addresses on which sources disagree, one row per label, so a
//   reviewer can see which source said what before the label is used for training or action.
// params: none
// returns: kind, target, source, verdict
// false_positives: Compromised legitimate sites are both: benign owner, malicious content for
//   a while. Disagreement is the point of this list, not an error to clean away.
// revision: 3

// Speed: labels_disagree is a summary kept on each domain and address, and indexed; the seek
// is named, because left to itself the planner starts from the few label sources and walks
// every label they gave.
CALL () {
  MATCH (d:Domain {labels_disagree: true}) USING INDEX SEEK d:Domain(labels_disagree)
  MATCH (d)<-[l:LABELS_DOMAIN]-(s:LabelSource)
  RETURN 'domain' AS kind, d.name AS target, s.name AS source, l.verdict AS verdict
  UNION ALL
  MATCH (ip:IPAddress {labels_disagree: true}) USING INDEX SEEK ip:IPAddress(labels_disagree)
  MATCH (ip)<-[l:LABELS_IP]-(s:LabelSource)
  RETURN 'ip' AS kind, ip.address AS target, s.name AS source, l.verdict AS verdict
}
RETURN kind, target, source, verdict
ORDER BY kind, target, source, verdict
