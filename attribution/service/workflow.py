"""Approvals through the service: the policy is the service's, the actor is the principal.

The same rules as :mod:`attribution.approvals` apply, with three differences that make them
hold against the people they bind:

- the reviewers are the live principals with the ``reviewer`` role, the maximum report age is
  the service's ``report_max_age_days``, and reports must be signed by a key the service
  trusts: nothing comes from the caller;
- a request or a decision rests only on a report the service generated
  (:func:`attribution.service.reports.grounded`);
- the requester or decider is the authenticated principal, recorded with its role.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from attribution.approvals import WorkflowPolicy, decide, request_approval
from attribution.service.context import ServiceContext
from attribution.service.principals import Principal
from attribution.service.reports import grounded

__all__ = ["service_decide", "service_policy", "service_request"]


def service_policy(ctx: ServiceContext) -> WorkflowPolicy:
    return WorkflowPolicy(
        reviewers=ctx.principals.names_with_role("reviewer", ctx.clock()),
        max_age=timedelta(days=ctx.config.report_max_age_days),
        require_signature=True,
        trusted_keys=ctx.trusted_fingerprints,
    )


def service_request(
    ctx: ServiceContext,
    principal: Principal,
    target: str,
    digest: str,
    document: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Open a request as ``principal``; NotGrounded or WorkflowRefusal when refused."""
    report = grounded(ctx, digest, document)
    return request_approval(
        ctx.graph,
        target,
        report,
        principal.name,
        service_policy(ctx),
        now=ctx.clock(),
        audit_path=ctx.settings.audit_log,
        actor_role=principal.role,
    )


def service_decide(
    ctx: ServiceContext,
    principal: Principal,
    request_id: str,
    outcome: str,
    reason: str,
    digest: str,
) -> dict[str, Any]:
    """Decide a request as ``principal``; NotGrounded, WorkflowRefusal or UnknownRequest
    when refused."""
    report = grounded(ctx, digest)
    return decide(
        ctx.graph,
        request_id,
        outcome,
        principal.name,
        reason,
        report,
        service_policy(ctx),
        now=ctx.clock(),
        audit_path=ctx.settings.audit_log,
        actor_role=principal.role,
    )
