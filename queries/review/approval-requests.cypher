// id: review-approval-requests
// title: Approval requests by status
// description: Approval requests with a given status, the target's current score and
//   decision (which may have moved since the request) and how many decisions answer each.
// params: status: string = open — open, approved, denied or returned
// returns: request_id, target, requested_by, requested_at, current_score, current_decision, report_digest, decisions
// false_positives: current_score is today's score, not the one the report was built on; the
//   report digest identifies the evidence the reviewer actually saw.
// revision: 1
MATCH (a:ApprovalRequest)
WHERE a.status = $status
OPTIONAL MATCH (a)-[:CONCERNS_DOMAIN|CONCERNS_IP]->(t)
RETURN a.request_id AS request_id, a.target AS target, a.requested_by AS requested_by,
       a.requested_at AS requested_at, t.score AS current_score, t.decision AS current_decision,
       a.report_digest AS report_digest, COUNT { (:Decision)-[:DECIDES]->(a) } AS decisions
ORDER BY requested_at, request_id
