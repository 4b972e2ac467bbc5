// id: review-labels-by-source
// title: Labels by source
// description: How many verdicts each label source gives, per target kind and verdict: the
//   ground truth the classifier is trained on, and where it comes from.
// params: none
// returns: source, source_kind, target_kind, verdict, labels
// false_positives: Feeds list shared infrastructure (sinkholes, CDNs, parking) as malicious;
//   a source with many malicious labels is not necessarily a precise one.
// revision: 1
CALL () {
  MATCH (s:LabelSource)-[l:LABELS_DOMAIN]->(:Domain)
  RETURN s, 'domain' AS target_kind, l.verdict AS verdict
  UNION ALL
  MATCH (s:LabelSource)-[l:LABELS_IP]->(:IPAddress)
  RETURN s, 'ip' AS target_kind, l.verdict AS verdict
}
RETURN s.name AS source, s.kind AS source_kind, target_kind, verdict, count(*) AS labels
ORDER BY source, target_kind, verdict
