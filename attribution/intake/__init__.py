"""Intake: turn lists, CSV, STIX 2.1, incident reports, flow metadata, passive DNS, raw RDAP
answers and label feeds into canonical records, rejecting bad input line by line.

Each format has a pure ``parse_*`` function taking the already-read bytes (or text) and a
source name and returning an :class:`~attribution.intake.records.IntakeResult`;
:func:`read_path` reads a file in a given or detected format. Records derived from
communications pass the metadata-only guard (:mod:`attribution.intake.guard`).
"""

from attribution.intake.detect import (
    FORMATS,
    UnknownFormat,
    detect_format,
    parser_for,
    read_path,
)
from attribution.intake.feeds import labels_from_warninglists, parse_allowlist, parse_trails
from attribution.intake.flows import parse_flows
from attribution.intake.incidents import parse_incident_reports
from attribution.intake.lists import parse_csv, parse_list
from attribution.intake.passive_dns import parse_passive_dns
from attribution.intake.rdap_raw import parse_rdap
from attribution.intake.records import (
    FlowRecord,
    IncidentIndicator,
    IncidentReportRecord,
    IndicatorRecord,
    IntakeResult,
    LabelRecord,
    PassiveDnsRecord,
    RdapEntityRef,
    RdapRecord,
    Rejection,
)
from attribution.intake.stix import parse_stix

__all__ = [
    "FORMATS",
    "FlowRecord",
    "IncidentIndicator",
    "IncidentReportRecord",
    "IndicatorRecord",
    "IntakeResult",
    "LabelRecord",
    "PassiveDnsRecord",
    "RdapEntityRef",
    "RdapRecord",
    "Rejection",
    "UnknownFormat",
    "detect_format",
    "labels_from_warninglists",
    "parse_allowlist",
    "parse_csv",
    "parse_flows",
    "parse_incident_reports",
    "parse_list",
    "parse_passive_dns",
    "parse_rdap",
    "parse_stix",
    "parse_trails",
    "parser_for",
    "read_path",
]
