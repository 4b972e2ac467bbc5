"""Intake: turn lists, CSV, STIX 2.1, incident reports, flow metadata, passive DNS and raw
RDAP answers into canonical records, rejecting bad input line by line.

Each format has a pure ``parse_*`` function taking the already-read bytes (or text) and a
source name, and returning an :class:`~attribution.intake.records.IntakeResult`.
"""

from attribution.intake.lists import parse_csv, parse_list
from attribution.intake.records import (
    FlowRecord,
    IncidentIndicator,
    IncidentReportRecord,
    IndicatorRecord,
    IntakeResult,
    LabelRecord,
    PassiveDnsRecord,
    RdapRecord,
    Rejection,
)

__all__ = [
    "FlowRecord",
    "IncidentIndicator",
    "IncidentReportRecord",
    "IndicatorRecord",
    "IntakeResult",
    "LabelRecord",
    "PassiveDnsRecord",
    "RdapRecord",
    "Rejection",
    "parse_csv",
    "parse_list",
]
