// id: review-labels-by-source
// title: Labels by source
// description: How many verdicts each label source gives, per target kind and verdict: the
//   ground truth the classifier is trained on, and where it comes from.
// params: none
// returns: source, source_kind, target_kind, verdict, labels
// false_positives: Feeds list shared infrastructure (sinkholes, CDNs, parking) as malicious;
//   a source with many malicious labels is not necessarily a precise one.
// revision: 2

// Speed: each source keeps its label counts as summaries (domain_labels, benign_domain_labels,
// malicious_domain_labels and the same for ip). Where every label of a kind is benign or
// malicious the counts are read from the summaries; otherwise that source's labels are counted.
MATCH (s:LabelSource)
CALL (s) {
  WITH s WHERE coalesce(s.domain_labels, 0) =
    coalesce(s.benign_domain_labels, 0) + coalesce(s.malicious_domain_labels, 0)
  UNWIND [['benign', s.benign_domain_labels], ['malicious', s.malicious_domain_labels]] AS pair
  RETURN 'domain' AS target_kind, pair[0] AS verdict, coalesce(pair[1], 0) AS labels
  UNION ALL
  WITH s WHERE coalesce(s.domain_labels, 0) <>
    coalesce(s.benign_domain_labels, 0) + coalesce(s.malicious_domain_labels, 0)
  MATCH (s)-[l:LABELS_DOMAIN]->(:Domain)
  RETURN 'domain' AS target_kind, l.verdict AS verdict, count(*) AS labels
  UNION ALL
  WITH s WHERE coalesce(s.ip_labels, 0) =
    coalesce(s.benign_ip_labels, 0) + coalesce(s.malicious_ip_labels, 0)
  UNWIND [['benign', s.benign_ip_labels], ['malicious', s.malicious_ip_labels]] AS pair
  RETURN 'ip' AS target_kind, pair[0] AS verdict, coalesce(pair[1], 0) AS labels
  UNION ALL
  WITH s WHERE coalesce(s.ip_labels, 0) <>
    coalesce(s.benign_ip_labels, 0) + coalesce(s.malicious_ip_labels, 0)
  MATCH (s)-[l:LABELS_IP]->(:IPAddress)
  RETURN 'ip' AS target_kind, l.verdict AS verdict, count(*) AS labels
}
WITH s, target_kind, verdict, labels
WHERE labels > 0
RETURN s.name AS source, s.kind AS source_kind, target_kind, verdict, labels
ORDER BY source, target_kind, verdict
