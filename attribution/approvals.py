"""The approval workflow: a request to the independent reviewer, and the reviewer's decision.

A request names a target and the digest of the confidence report it rests on; a decision
names the digest of the report the reviewer read. Both are nodes of the graph
(``ApprovalRequest``, ``Decision``) linked to the target (``CONCERNS_DOMAIN``/``CONCERNS_IP``)
and to each other (``DECIDES``), and both are appended to the audit log.

Rules, each refused with :class:`WorkflowRefusal` and a one-line reason:

Requesting
    The report must verify (digest, and signature when present), concern the target, be no
    older than the maximum age, and recommend ``eligible-for-approval``; the target must be in
    the graph, and must not already have an open request. A returned request can be asked
    again, with a report whose digest differs from the returned one.
Deciding
    Only a reviewer decides (``[roles] reviewers`` in the TOML file or ``ATTRIBUTION_REVIEWERS``,
    comma-separated), and never the user who asked. The report given must verify, concern the
    request's target, be the report the request named, and be no older than the maximum age
    (``[approvals] report_max_age_days``, or ``ATTRIBUTION_REPORT_MAX_AGE_DAYS``; default 7).
    With ``[approvals] require_signed_reports`` (``ATTRIBUTION_REQUIRE_SIGNED_REPORTS=1``) an
    unsigned report is refused, and with ``[approvals] trusted_report_keys``
    (``ATTRIBUTION_TRUSTED_REPORT_KEYS``, comma-separated fingerprints) only reports signed by
    one of those keys count. Both apply to requests as well.
    Only an open request is decided: ``approve`` and ``deny`` close it for good, ``return``
    sends it back to the requester (status ``returned``).

Decisions are only ever created, never updated: the decision and the status change are one
write transaction that first locks the request, so two reviewers deciding at once cannot
both succeed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from neo4j import ManagedTransaction

from attribution import audit
from attribution.db import Graph, iso_utc
from attribution.identities import InvalidIdentity, parse_target
from attribution.reports.canonical import verify_document
from attribution.reports.recommend import ELIGIBLE
from attribution.schema import TARGETS
from attribution.settings import DEFAULT_REPORT_MAX_AGE_DAYS, Settings

__all__ = [
    "DEFAULT_MAX_AGE_DAYS",
    "OUTCOMES",
    "UnknownRequest",
    "WorkflowPolicy",
    "WorkflowRefusal",
    "decide",
    "get_request",
    "list_requests",
    "policy_from_settings",
    "request_approval",
]

DEFAULT_MAX_AGE_DAYS = DEFAULT_REPORT_MAX_AGE_DAYS
OUTCOMES = {"approve": "approved", "deny": "denied", "return": "returned"}


class WorkflowRefusal(Exception):
    """The workflow refused the action; the message is the one-line reason."""


class UnknownRequest(LookupError):
    """No approval request has this id."""


@dataclass(frozen=True)
class WorkflowPolicy:
    """Who reviews, and how old a report may be."""

    reviewers: frozenset[str]
    max_age: timedelta = timedelta(days=DEFAULT_MAX_AGE_DAYS)
    require_signature: bool = False
    """Refuse unsigned reports (whose generation time no signature protects)."""
    trusted_keys: frozenset[str] = frozenset()
    """Fingerprints of the keys reports must be signed with; empty accepts any valid key."""


def policy_from_settings(settings: Settings) -> WorkflowPolicy:
    """The workflow policy the approval settings describe (``settings.approvals``)."""
    approvals = settings.approvals
    return WorkflowPolicy(
        approvals.reviewers,
        timedelta(days=approvals.report_max_age_days),
        require_signature=approvals.require_signed_reports or bool(approvals.trusted_report_keys),
        trusted_keys=approvals.trusted_report_keys,
    )


def _check_report(
    document: Any, kind: str, value: str, policy: WorkflowPolicy, now: datetime
) -> str:
    """The verified report's digest; WorkflowRefusal when it cannot be relied on."""
    result = verify_document(document)
    if not result.ok or result.digest is None:
        raise WorkflowRefusal(f"the report fails verification: {result.reason}")
    if policy.require_signature and not result.signed:
        raise WorkflowRefusal("the report is not signed, and signed reports are required")
    if policy.trusted_keys and result.fingerprint not in policy.trusted_keys:
        raise WorkflowRefusal(f"the report is signed by an untrusted key {result.fingerprint}")
    target = document["content"].get("target") or {}
    if (target.get("kind"), target.get("value")) != (kind, value):
        raise WorkflowRefusal(
            f"the report concerns {target.get('kind')} {target.get('value')}, not {kind} {value}"
        )
    try:
        generated = datetime.fromisoformat(str(document["generated_at"]).replace("Z", "+00:00"))
    except ValueError as exc:
        raise WorkflowRefusal(f"the report's generation time is unreadable ({exc})") from exc
    if generated.tzinfo is None:
        raise WorkflowRefusal("the report's generation time has no time zone")
    age = now - generated
    if age > policy.max_age:
        raise WorkflowRefusal(
            f"the report is {age.days} days old; the maximum is {policy.max_age.days} days: "
            "generate a new one"
        )
    if age < -timedelta(minutes=5):
        raise WorkflowRefusal("the report's generation time lies in the future")
    _check_evidence_age(document["content"], policy, now)
    return result.digest


def _check_evidence_age(content: Mapping[str, Any], policy: WorkflowPolicy, now: datetime) -> None:
    """A report names the servers current at its reference time (``parameters.as_of``, the
    target's scoring time); a fresh report on an old score would name yesterday's servers."""
    as_of = (content.get("parameters") or {}).get("as_of")
    if as_of is None:
        return  # content version 1, or a target with no time at all: nothing to compare
    try:
        reference = datetime.fromisoformat(str(as_of).replace("Z", "+00:00"))
    except ValueError as exc:
        raise WorkflowRefusal(f"the report's reference time is unreadable ({exc})") from exc
    if reference.tzinfo is None:
        raise WorkflowRefusal("the report's reference time has no time zone")
    if now - reference > policy.max_age:
        raise WorkflowRefusal(
            f"the evidence behind the report is as of {as_of}, {(now - reference).days} days "
            f"ago; the maximum is {policy.max_age.days} days: enrich and score the target again"
        )


def _target(text: str) -> tuple[str, str]:
    try:
        identity = parse_target(text, "approved against")
    except InvalidIdentity as exc:
        raise WorkflowRefusal(f"not a domain or IP address: {exc}") from exc
    return identity.kind, str(identity.value)


def _with_role(details: dict[str, Any], role: str | None) -> dict[str, Any]:
    return {**details, "role": role} if role is not None else details


def request_approval(
    graph: Graph,
    target: str,
    report: Mapping[str, Any],
    requested_by: str,
    policy: WorkflowPolicy,
    *,
    now: datetime | None = None,
    audit_path: Path | None = None,
    actor_role: str | None = None,
) -> dict[str, Any]:
    """Open a request for action against ``target`` on the basis of ``report``.

    ``actor_role`` (the authenticated principal's role, in service mode) goes into the
    audit entry beside the requester's name."""
    now = now or datetime.now(UTC)
    if not requested_by.strip():
        raise WorkflowRefusal("the requester must be named")
    kind, value = _target(target)
    digest = _check_report(report, kind, value, policy, now)
    outcome = report["content"]["recommendation"]["outcome"]
    if outcome != ELIGIBLE:
        raise WorkflowRefusal(f"the report recommends {outcome}, not {ELIGIBLE}")
    spec = TARGETS[kind]
    label, key, rel = spec.label, spec.key, spec.concerned_by
    request_id = f"req-{uuid.uuid4().hex[:16]}"

    def work(tx: ManagedTransaction) -> str | None:
        target_rows = tx.run(
            f"MATCH (t:{label} {{{key}: $value}}) SET t.{key} = t.{key} RETURN count(t) AS n",
            value=value,
        ).single()
        if target_rows is None or target_rows["n"] == 0:
            return f"{kind} {value} is not in the graph"
        # The no-op SET above locks the target: concurrent requests for it queue here.
        existing = tx.run(
            f"MATCH (r:ApprovalRequest)-[:{rel}]->(:{label} {{{key}: $value}}) "
            "RETURN r.request_id AS id, r.status AS status, r.report_digest AS digest",
            value=value,
        ).data()
        for row in existing:
            if row["status"] == "open":
                return f"{kind} {value} already has an open request {row['id']}"
            if row["status"] == "returned" and row["digest"] == digest:
                return f"request {row['id']} was returned on this report; a new report is needed"
        tx.run(
            f"MATCH (t:{label} {{{key}: $value}})\n"
            "CREATE (r:ApprovalRequest {request_id: $id, target: $value, report_digest: $digest,\n"
            "  requested_by: $by, requested_at: datetime($at), status: 'open'})\n"
            f"CREATE (r)-[:{rel}]->(t)",
            value=value,
            id=request_id,
            digest=digest,
            by=requested_by,
            at=iso_utc(now),
        ).consume()
        return None

    problem = graph.write(work)
    if problem:
        raise WorkflowRefusal(problem)
    try:
        audit.append(
            requested_by,
            "approval.request",
            request_id,
            _with_role({"target": f"{kind}:{value}", "report_digest": digest}, actor_role),
            path=audit_path,
            time=iso_utc(now),
        )
    except audit.AuditError:
        # A request the chain does not record is withdrawn before anyone can act on it.
        graph.run_write(
            "MATCH (r:ApprovalRequest {request_id: $id}) DETACH DELETE r", {"id": request_id}
        )
        raise
    return get_request(graph, request_id)


def decide(
    graph: Graph,
    request_id: str,
    outcome: str,
    decided_by: str,
    reason: str,
    report: Mapping[str, Any],
    policy: WorkflowPolicy,
    *,
    now: datetime | None = None,
    audit_path: Path | None = None,
    actor_role: str | None = None,
) -> dict[str, Any]:
    """Record a reviewer's decision (approve, deny or return) on an open request;
    ``actor_role`` as for :func:`request_approval`."""
    now = now or datetime.now(UTC)
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {sorted(OUTCOMES)}")
    if not reason.strip():
        raise WorkflowRefusal("a decision needs a stated reason")
    request = get_request(graph, request_id)
    if decided_by not in policy.reviewers:
        raise WorkflowRefusal(f"{decided_by} does not have the reviewer role")
    if decided_by == request["requested_by"]:
        raise WorkflowRefusal(f"{decided_by} made the request and cannot decide it")
    if request["status"] != "open":
        raise WorkflowRefusal(f"request {request_id} is {request['status']}, not open")
    kind, value = _target(request["target"])
    digest = _check_report(report, kind, value, policy, now)
    if digest != request["report_digest"]:
        raise WorkflowRefusal(
            f"the report {digest[:12]}... is not the report the request named "
            f"({request['report_digest'][:12]}...)"
        )
    decision_id = f"dec-{uuid.uuid4().hex[:16]}"
    details = _with_role(
        {
            "decision_id": decision_id,
            "outcome": outcome,
            "reason": reason,
            "report_digest": digest,
            "target": f"{kind}:{value}",
        },
        actor_role,
    )
    # The entry comes first: a decision that cannot be audited is not made (AuditError).
    entry = audit.append(
        decided_by, "approval.decide", request_id, details, path=audit_path, time=iso_utc(now)
    )
    anchor = f"{entry['seq']}:{entry['hash']}"
    try:
        created = graph.write(
            lambda tx: _create_decision(tx, request_id, details, decided_by, now, anchor)
        )
    except Exception:
        _void_decision(decided_by, request_id, decision_id, "the graph write failed", audit_path)
        raise
    if not created:
        _void_decision(decided_by, request_id, decision_id, "decided meanwhile", audit_path)
        raise WorkflowRefusal(f"request {request_id} was decided meanwhile")
    return get_request(graph, request_id)


def _create_decision(
    tx: ManagedTransaction,
    request_id: str,
    details: Mapping[str, Any],
    decided_by: str,
    now: datetime,
    anchor: str,
) -> bool:
    """Create the decision on a still-open request; False when it was decided meanwhile."""
    # Lock the request first, then re-read its state under the lock.
    tx.run(
        "MATCH (r:ApprovalRequest {request_id: $id}) SET r.status = r.status", id=request_id
    ).consume()
    created = tx.run(
        "MATCH (r:ApprovalRequest {request_id: $id})\n"
        "WHERE r.status = 'open'\n"
        "CREATE (d:Decision {decision_id: $decision_id, outcome: $outcome, decided_by: $by,\n"
        "  reason: $reason, decided_at: datetime($at), report_digest: $digest,\n"
        "  audit_head: $anchor})-[:DECIDES]->(r)\n"
        "SET r.status = $status\n"
        "RETURN d.decision_id AS id",
        id=request_id,
        decision_id=details["decision_id"],
        outcome=details["outcome"],
        by=decided_by,
        reason=details["reason"],
        at=iso_utc(now),
        digest=details["report_digest"],
        anchor=anchor,
        status=OUTCOMES[details["outcome"]],
    ).single()
    return created is not None


def _void_decision(
    actor: str, request_id: str, decision_id: str, why: str, audit_path: Path | None
) -> None:
    """Record that an audited decision never reached the graph, so the chain stays true."""
    audit.append(
        actor,
        "approval.decide-void",
        request_id,
        {"decision_id": decision_id, "why": why},
        path=audit_path,
    )


_REQUEST_FIELDS = (
    "r.request_id AS request_id, r.target AS target, r.report_digest AS report_digest, "
    "r.requested_by AS requested_by, r.requested_at AS requested_at, r.status AS status"
)
_DECISIONS = (
    "[(d:Decision)-[:DECIDES]->(r) | {decision_id: d.decision_id, outcome: d.outcome, "
    "decided_by: d.decided_by, reason: d.reason, decided_at: d.decided_at, "
    "report_digest: d.report_digest, audit_head: d.audit_head}] AS decisions"
)


def _request_row(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "decisions"}
    out["decisions"] = sorted(row.get("decisions") or [], key=lambda d: d["decided_at"])
    return out


def get_request(graph: Graph, request_id: str) -> dict[str, Any]:
    """One request with its decisions; UnknownRequest when there is none."""
    rows = graph.read(
        f"MATCH (r:ApprovalRequest {{request_id: $id}}) RETURN {_REQUEST_FIELDS}, {_DECISIONS}",
        {"id": request_id},
        values="json",
    )
    if not rows:
        raise UnknownRequest(f"no approval request {request_id}")
    return _request_row(rows[0])


def list_requests(graph: Graph, statuses: Sequence[str] = ()) -> list[dict[str, Any]]:
    """All requests (optionally of some statuses), newest first."""
    rows = graph.read(
        "MATCH (r:ApprovalRequest) WHERE size($statuses) = 0 OR r.status IN $statuses\n"
        f"RETURN {_REQUEST_FIELDS}, {_DECISIONS}\n"
        "ORDER BY r.requested_at DESC, r.request_id",
        {"statuses": list(statuses)},
        values="json",
    )
    return [_request_row(row) for row in rows]


def decision_anchors(graph: Graph) -> list[tuple[str, str]]:
    """(where, ``SEQ:HASH``) of the audit entry each decision recorded before it was written:
    anchors of the chain held in the graph, outside the log (:func:`attribution.audit.verify`)."""
    rows = graph.read(
        "MATCH (d:Decision) WHERE d.audit_head IS NOT NULL "
        "RETURN d.decision_id AS id, d.audit_head AS head ORDER BY id"
    )
    return [(f"decision {row['id']} in the graph", row["head"]) for row in rows]
