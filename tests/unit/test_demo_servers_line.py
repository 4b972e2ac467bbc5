"""The demo's printed report names what else lives on each server, from the report's counts."""

from __future__ import annotations

from attribution.demo import _tenants_line
from attribution.reports.servers import MAX_EXAMPLES, tenant_summary


def _tenant(name: str, reports: int = 0, verdict: str | None = None) -> dict[str, object]:
    labels = [] if verdict is None else [{"verdict": verdict, "kind": "feed"}]
    return {"name": name, "reports": reports, "labels": labels}


def test_a_server_with_only_the_target_says_so() -> None:
    summary = tenant_summary([_tenant("bad.example")], exclude="bad.example")
    assert _tenants_line(summary) == "no other name"


def test_the_other_names_are_named_and_counted() -> None:
    tenants = [
        _tenant("bad.example"),
        _tenant("shop.example", verdict="benign"),
        _tenant("c2.example", reports=2),
        _tenant("blog.example"),
    ]
    summary = tenant_summary(tenants, exclude="bad.example")
    assert _tenants_line(summary) == (
        "3 other name(s): shop.example, c2.example, blog.example; of these, 2 not known to be "
        "malicious, 1 labelled benign, 1 named in incident reports (a name may be in more than "
        "one count)"
    )


def test_names_past_the_examples_are_counted_not_dropped() -> None:
    names = [f"n{i:02d}.example" for i in range(MAX_EXAMPLES + 3)]
    summary = tenant_summary([_tenant(n) for n in names], exclude=None)
    shown = ", ".join(names[:MAX_EXAMPLES])
    assert _tenants_line(summary) == (
        f"{MAX_EXAMPLES + 3} other name(s): {shown} and 3 more; of these, {MAX_EXAMPLES + 3} not "
        "known to be malicious, 0 labelled benign, 0 named in incident reports (a name may be in "
        "more than one count)"
    )


def test_a_disputed_name_is_counted_benign_and_not_among_the_unknown() -> None:
    tenants = [
        {"name": "shop.example", "reports": 0, "labels": [{"verdict": "benign", "kind": "feed"}]},
        {
            "name": "cdn.example",
            "reports": 0,
            "labels": [
                {"verdict": "benign", "kind": "allowlist"},
                {"verdict": "malicious", "kind": "feed"},
            ],
        },
    ]
    summary = tenant_summary(tenants, exclude=None)
    assert _tenants_line(summary) == (
        "2 other name(s): shop.example, cdn.example; of these, 1 not known to be malicious, "
        "2 labelled benign, 0 named in incident reports (a name may be in more than one count)"
    )
