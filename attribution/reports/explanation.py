"""The score's explanation and evidence families, as scoring wrote them on the target node.

Nothing here is computed from the graph or the model: the report shows what the scoring step
wrote (``explanation``, ``evidence_families``, ``score_low``/``score_high``) and says so when
something is absent or unreadable, instead of filling a gap. What this module adds is where in
the same report a reviewer can check each reason's values (:data:`CHECK_IN`) and the plain
statement of the families that were not observed.

The explanation (written by the scoring step as JSON) is a Shapley decomposition over feature
groups: ``base_value`` plus every observed group's ``contribution`` gives ``score`` (the value
the contributions explain). A group with a positive contribution is a reason toward malicious;
a negative one is evidence against; the groups not observed are listed apart, as absences.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from attribution.db import json_value
from attribution.features.extract import FEATURE_GROUPS
from attribution.features.families import FAMILIES

__all__ = [
    "CHECK_IN",
    "EVIDENCE_FAMILIES",
    "explanation_block",
    "families_block",
    "min_families",
]

EVIDENCE_FAMILIES = FAMILIES
"""The independent evidence families scoring records, in the order reports list them."""

_LABEL_NOTE = (
    "a rate over every node sharing it with the target; the report lists the labelled "
    "neighbours within two hops only"
)
CHECK_IN: dict[str, tuple[tuple[str, ...], str | None]] = {
    "name": (("target",), "computed from the name itself"),
    "resolution": (("servers", "evidence"), None),
    "hosting": (("servers", "collateral"), None),
    "registration": (("counter_evidence.registration",), None),
    "warninglists": (("counter_evidence.warninglist_hits", "servers"), None),
    "structure": (
        ("evidence",),
        "degree and component size in the whole graph; the report shows two hops of it",
    ),
    "associations": (("labelled_neighbours", "evidence"), _LABEL_NOTE),
}
"""Feature group -> (sections of the report that show its inputs, a caveat or None)."""

_UNKNOWN_GROUP = ((), "no section of this report shows this group's inputs")


class _Unreadable(ValueError):
    """The stored explanation does not have the documented shape."""


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Unreadable(f"{what} is not a finite number")
    return float(value)


def _signed(value: float) -> str:
    return f"{value:+.2f}" if value == 0 or abs(value) >= 0.005 else f"{value:+.1e}"


def _value_text(value: Any) -> str:
    if value is None:
        return "not observed"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _contribution(item: Any, index: int) -> dict[str, Any]:
    if not isinstance(item, Mapping) or not isinstance(item.get("group"), str):
        raise _Unreadable(f"contribution {index} has no group")
    group = item["group"]
    contribution = _number(item.get("contribution"), f"contribution of {group}")
    values = item.get("values") or {}
    if not isinstance(values, Mapping):
        raise _Unreadable(f"values of {group} are not an object")
    # In the group's own feature order (scoring stores them sorted by name), as the reason
    # lines written with the score list them; names the group does not know come last.
    order = {name: i for i, name in enumerate(FEATURE_GROUPS.get(group, ()))}
    ranked = sorted(values.items(), key=lambda kv: (order.get(str(kv[0]), len(order)), kv[0]))
    values = {str(k): json_value(v) for k, v in ranked}
    title = str(item.get("title") or group)
    shown = ", ".join(f"{name} {_value_text(v)}" for name, v in values.items())
    check_in, note = CHECK_IN.get(group, _UNKNOWN_GROUP)
    direction = "none"
    if contribution > 0:
        direction = "toward-malicious"
    elif contribution < 0:
        direction = "against-malicious"
    return {
        "group": group,
        "title": title,
        "contribution": contribution,
        "direction": direction,
        "values": values,
        "text": f"{title}: {shown or 'no values'} ({_signed(contribution)})",
        "check_in": list(check_in),
        "check_note": note,
    }


def _parse(raw: Any) -> dict[str, Any]:
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"not JSON ({exc.msg})") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("contributions"), list):
        raise _Unreadable("no list of contributions")
    base = _number(data.get("base_value"), "base_value")
    explained = _number(data.get("score"), "score")
    items = [_contribution(item, i) for i, item in enumerate(data["contributions"])]
    total = math.fsum(item["contribution"] for item in items)
    not_observed = data.get("not_observed") or []
    if not isinstance(not_observed, list):
        raise _Unreadable("not_observed is not a list")
    return {
        "present": True,
        "note": None,
        "method": str(data.get("method") or "") or None,
        "base_value": base,
        "base_description": str(data.get("base_description") or "") or None,
        "explained_value": explained,
        "sum_of_contributions": total,
        "additive": math.isclose(base + total, explained, rel_tol=1e-9, abs_tol=1e-6),
        "contributions": items,
        "not_observed": [str(title) for title in not_observed],
    }


def _absent(note: str) -> dict[str, Any]:
    return {
        "present": False,
        "note": note,
        "method": None,
        "base_value": None,
        "base_description": None,
        "explained_value": None,
        "sum_of_contributions": None,
        "additive": None,
        "contributions": [],
        "not_observed": [],
    }


def explanation_block(props: Mapping[str, Any]) -> dict[str, Any]:
    """The score's explanation as the report shows it, or a statement of why there is none."""
    raw = props.get("explanation")
    if raw is None:
        if props.get("score") is None:
            return _absent("the target has no score, so there is no explanation")
        return _absent(
            "the score has no explanation (it was written before explanations were recorded); "
            "top_reasons shows the reasons stored with it"
        )
    try:
        return _parse(raw)
    except _Unreadable as exc:
        return _absent(f"the stored explanation is unreadable ({exc}); nothing is shown for it")


def min_families(stated: int | None, problem: str | None) -> tuple[int | None, str]:
    """The model's minimum of evidence families (its manifest's ``evidence_policy``), with a
    statement of where it came from or why there is none (``problem``: the manifest could not
    be read)."""
    if problem is not None:
        return None, f"no minimum: {problem}"
    if stated is None:
        return None, "no minimum: the model manifest states no evidence_policy.min_families"
    return stated, "evidence_policy.min_families of the model manifest"


def _ordered(families: list[str]) -> list[str]:
    known = [f for f in EVIDENCE_FAMILIES if f in families]
    return known + sorted(set(families) - set(EVIDENCE_FAMILIES))


def families_block(
    props: Mapping[str, Any], minimum: int | None, minimum_source: str
) -> dict[str, Any]:
    """Observed and not-observed evidence families of the target, and the model's minimum."""
    raw = props.get("evidence_families")
    block: dict[str, Any] = {"minimum": minimum, "minimum_source": minimum_source}
    if raw is None:
        return {
            **block,
            "recorded": False,
            "observed": None,
            "not_observed": None,
            "statement": "the score recorded no evidence families",
            "meets_minimum": None if minimum is None else False,
        }
    observed = _ordered([str(f) for f in raw])
    missing = [f for f in EVIDENCE_FAMILIES if f not in observed]
    return {
        **block,
        "recorded": True,
        "observed": observed,
        "not_observed": missing,
        "statement": f"not observed: {', '.join(missing)}" if missing else "every family observed",
        "meets_minimum": None if minimum is None else len(observed) >= minimum,
    }
