"""Incident reports from critical-infrastructure operators (JSON, validated by JSON Schema).

The contract is ``schemas/incident-report.schema.json``. An input holds one report (a JSON
object), several (a JSON array of objects) or one report per line (JSON Lines).

Order of checks, and what each refuses:

1. The metadata-only guard (:mod:`attribution.intake.guard`) on the raw JSON: a field that
   is not in the contract anywhere in the report, or a ``url`` indicator with a path, query,
   fragment or user information, refuses the *whole report* -- an observation carrying
   content means the submission carried content, and nothing of it is kept.
2. JSON Schema: an error inside ``indicators[i]`` rejects that indicator only; any other
   error rejects the report. Rejections name the JSON path (``$.indicators[2].value``).
3. Values: each indicator's value must be a valid identity of its ``type`` (a ``url``
   yields its host; ``ipv4`` must be IPv4), ``first_seen <= last_seen``; a report whose
   ``reported_at`` is before ``observed_at`` is rejected.

Times are converted to UTC. ``line`` in records and rejections is the JSON Lines line
number, or 0 for a JSON document (the path then starts ``$[i]`` for the i-th report of an
array).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from typing import Any, cast

from attribution.identities import (
    Identity,
    InvalidIdentity,
    canonical_asn,
    canonical_cidr,
    canonical_domain,
    canonical_ip,
    parse_url,
)
from attribution.intake.flows import canonical_protocol
from attribution.intake.guard import WITHHELD, check_fields, check_host_only_url
from attribution.intake.records import (
    IncidentIndicator,
    IncidentReportRecord,
    IntakeResult,
    Rejection,
    Role,
    parse_time,
    split_lines,
    too_deep,
)
from attribution.strict_json import DuplicateKey, no_duplicate_keys

__all__ = ["MAX_REPORT_LINE_BYTES", "SCHEMA_NAME", "incident_schema", "parse_incident_reports"]

SCHEMA_NAME = "incident-report.schema.json"
# One report per JSON Lines line can list up to 10,000 indicators, so report lines get a
# larger bound than the 4 KiB of indicator lists.
MAX_REPORT_LINE_BYTES = 4 * 1024 * 1024


@lru_cache(maxsize=1)
def incident_schema() -> dict[str, Any]:
    """The incident report JSON Schema shipped with the package."""
    text = resources.files("attribution.intake").joinpath("schemas", SCHEMA_NAME).read_text()
    return cast(dict[str, Any], json.loads(text))


@lru_cache(maxsize=1)
def _validator() -> Any:
    # Imported here: with its format extras installed, jsonschema costs seconds to import,
    # which every command that merely can read incident reports should not pay.
    import jsonschema

    return jsonschema.Draft202012Validator(incident_schema())


def _loads(text: str) -> Any:
    return json.loads(text, object_pairs_hook=no_duplicate_keys)


def _path(base: str, parts: Iterator[str | int] | list[str | int]) -> str:
    path = base
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _documents(data: bytes | str, source_name: str) -> IntakeResult[tuple[int, str, Any]]:
    """(line, base JSON path, report) for each report in the input."""
    result: IntakeResult[tuple[int, str, Any]] = IntakeResult()
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        result.rejections.append(
            Rejection.of(source_name, 0, "$", "", f"not UTF-8 ({exc.reason} at byte {exc.start})")
        )
        return result
    deep = too_deep(text)
    if deep is not None:
        result.rejections.append(Rejection.of(source_name, 0, "$", "", deep))
        return result
    try:
        document = _loads(text.removeprefix("\ufeff"))
    except (json.JSONDecodeError, DuplicateKey) as whole_error:
        lines = split_lines(text, source_name, MAX_REPORT_LINE_BYTES)
        result.rejections.extend(lines.rejections)
        content = [(n, line) for n, line in lines.records if line.strip()]
        if len(content) < 2:
            result.rejections.append(
                Rejection.of(source_name, 0, "$", text[:80], f"not JSON ({whole_error})")
            )
            return result
        for number, line in content:
            try:
                result.records.append((number, "$", _loads(line)))
            except (json.JSONDecodeError, DuplicateKey) as exc:
                result.rejections.append(
                    Rejection.of(source_name, number, "$", line, f"not JSON ({exc})")
                )
        return result
    if isinstance(document, list):
        result.records.extend((0, f"$[{i}]", item) for i, item in enumerate(document))
    else:
        result.records.append((0, "$", document))
    return result


def _guard(report: Any, base: str) -> tuple[str, str] | None:
    """(JSON path, reason) of the first content found in a report, or None."""
    if not isinstance(report, dict):
        return None  # the schema rejects it
    violation = check_fields("incident-report", report)
    if violation is not None:
        return _path(base, [violation.field]), violation.reason
    operator = report.get("operator")
    if isinstance(operator, dict):
        violation = check_fields("incident-operator", operator)
        if violation is not None:
            return _path(base, ["operator", violation.field]), violation.reason
    indicators = report.get("indicators")
    if isinstance(indicators, list):
        for index, item in enumerate(indicators):
            if not isinstance(item, dict):
                continue
            violation = check_fields("incident-indicator", item)
            if violation is not None:
                return _path(base, ["indicators", index, violation.field]), violation.reason
            value = item.get("value")
            if item.get("type") == "url" and isinstance(value, str):
                reason = check_host_only_url(value)
                if reason is not None:
                    return _path(base, ["indicators", index, "value"]), reason
    return None


def _indicator_identity(kind: str, value: str) -> Identity:
    if kind == "domain":
        return Identity("domain", canonical_domain(value))
    if kind in ("ipv4", "ipv6"):
        address = canonical_ip(value)
        if (":" in address) != (kind == "ipv6"):
            raise InvalidIdentity(value, f"type is {kind} but the value is not an {kind} address")
        return Identity("ip", address)
    if kind == "cidr":
        return Identity("cidr", canonical_cidr(value))
    if kind == "asn":
        return Identity("asn", canonical_asn(value))
    return parse_url(value)[0]


def _report(
    report: dict[str, Any], line: int, base: str, source_name: str, rejections: list[Rejection]
) -> IncidentReportRecord | None:
    errors = sorted(_validator().iter_errors(report), key=lambda e: list(map(str, e.absolute_path)))
    bad_indicators: set[int] = set()
    for error in errors:
        parts = list(error.absolute_path)
        where = _path(base, parts)
        value = error.instance if not isinstance(error.instance, dict | list) else ""
        if len(parts) >= 2 and parts[0] == "indicators" and isinstance(parts[1], int):
            if parts[1] not in bad_indicators:
                bad_indicators.add(parts[1])
                rejections.append(Rejection.of(source_name, line, where, value, error.message))
            continue
        rejections.append(
            Rejection.of(source_name, line, where, value, f"report rejected: {error.message}")
        )
        return None
    try:
        field = "observed_at"
        observed_at = parse_time(report[field])
        field = "reported_at"
        reported_at = parse_time(report[field])
    except ValueError as exc:
        where = _path(base, [field])
        rejections.append(
            Rejection.of(source_name, line, where, report[field], f"report rejected: {exc}")
        )
        return None
    if reported_at < observed_at:
        rejections.append(
            Rejection.of(
                source_name,
                line,
                _path(base, ["reported_at"]),
                report["reported_at"],
                "report rejected: reported_at is before observed_at",
            )
        )
        return None
    indicators: list[IncidentIndicator] = []
    for index, item in enumerate(report["indicators"]):
        if index in bad_indicators:
            continue
        indicator = _indicator(item, index, line, base, source_name, rejections)
        if indicator is not None:
            indicators.append(indicator)
    return IncidentReportRecord(
        report_id=report["report_id"],
        operator_name=report["operator"]["name"],
        sector=report["operator"]["sector"],
        observed_at=observed_at,
        reported_at=reported_at,
        confirmed=report["confirmed"],
        indicators=tuple(indicators),
        source=source_name,
        line=line,
    )


def _indicator(
    item: dict[str, Any],
    index: int,
    line: int,
    base: str,
    source_name: str,
    rejections: list[Rejection],
) -> IncidentIndicator | None:
    def reject(field: str, value: object, reason: str) -> None:
        rejections.append(
            Rejection.of(
                source_name, line, _path(base, ["indicators", index, field]), value, reason
            )
        )

    try:
        identity = _indicator_identity(item["type"], item["value"])
    except InvalidIdentity as exc:
        reject("value", item["value"], exc.reason)
        return None
    try:
        field = "first_seen"
        first_seen = parse_time(item[field])
        field = "last_seen"
        last_seen = parse_time(item[field])
    except ValueError as exc:
        reject(field, item[field], str(exc))
        return None
    if last_seen < first_seen:
        reject("last_seen", item["last_seen"], "last_seen is before first_seen")
        return None
    protocol: str | None = None
    if "protocol" in item:
        try:
            protocol = canonical_protocol(item["protocol"])
        except ValueError as exc:
            reject("protocol", item["protocol"], str(exc))
            return None
    return IncidentIndicator(
        identity=identity,
        indicator_type=item["type"],
        role=cast(Role, item["role"]),
        first_seen=first_seen,
        last_seen=last_seen,
        dst_port=item.get("dst_port"),
        protocol=protocol,
        index=index,
    )


def parse_incident_reports(
    data: bytes | str, source_name: str
) -> IntakeResult[IncidentReportRecord]:
    """Parse incident reports (see the module docstring)."""
    documents = _documents(data, source_name)
    result: IntakeResult[IncidentReportRecord] = IntakeResult(rejections=documents.rejections)
    seen_ids: set[str] = set()
    for line, base, report in documents.records:
        refused = _guard(report, base)
        if refused is not None:
            where, reason = refused
            result.rejections.append(Rejection.of(source_name, line, where, WITHHELD, reason))
            continue
        record = _report(report, line, base, source_name, result.rejections)
        if record is None:
            continue
        if record.report_id in seen_ids:
            result.rejections.append(
                Rejection.of(
                    source_name,
                    line,
                    _path(base, ["report_id"]),
                    record.report_id,
                    "report rejected: report_id given twice in this input",
                )
            )
            continue
        seen_ids.add(record.report_id)
        result.records.append(record)
    result.rejections.sort(key=lambda rejection: rejection.line)
    return result
