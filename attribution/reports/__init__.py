"""Confidence reports: evidence gathered from the graph, a recommendation, canonical JSON with a
digest and optional signature, and an HTML rendering of the same content.

* :mod:`attribution.reports.builder` reads the graph and builds the report content;
* :mod:`attribution.reports.publish` writes a report's files and its audit log entry: the one
  way a report for the approval process is produced;
* :mod:`attribution.reports.servers` finds the servers an action would be against (current or
  stale) and who else each one carries;
* :mod:`attribution.reports.explanation` shows the score's explanation and evidence families as
  scoring wrote them;
* :mod:`attribution.reports.recommend` holds the recommendation rules;
* :mod:`attribution.reports.canonical` canonicalises, digests, signs and verifies;
* :mod:`attribution.reports.html` and :mod:`attribution.reports.figures` render the page.
"""

from attribution.reports.builder import (
    ReportError,
    build_content,
    generate_report,
    validate_document,
)
from attribution.reports.canonical import content_digest, seal, verify_document
from attribution.reports.publish import PublishedReport, publish_report

__all__ = [
    "PublishedReport",
    "ReportError",
    "build_content",
    "content_digest",
    "generate_report",
    "publish_report",
    "seal",
    "validate_document",
    "verify_document",
]
