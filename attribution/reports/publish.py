"""Publishing a confidence report: build it, write its files, and record it in the audit log.

A report the approval process may rely on comes from :func:`publish_report`, whoever asks for
it (the command line, the HTTP API, a notebook), so every one is audited alike. Its audit
entry (action ``report.generate``, subject ``<kind>:<value>``) names the digest, the
generation time, the recommendation, the servers an action would be against, the signing key's
fingerprint and the files written; for an unsigned report that entry is what protects the
generation time. :func:`attribution.reports.builder.generate_report` builds the same document
without side effects, for previews and tests.

Files are named ``report-<kind>-<target>-<digest prefix>.json`` (and ``.html``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attribution import audit
from attribution.db import Graph
from attribution.reports.builder import generate_report, write_json
from attribution.settings import Settings
from attribution.warninglists import WarninglistIndex

__all__ = [
    "FORMATS",
    "PublishedReport",
    "audit_generation",
    "publish_report",
    "report_file_stem",
    "write_report_files",
]

FORMATS = ("json", "html", "both")


@dataclass(frozen=True)
class PublishedReport:
    """The sealed document, the files written (in ``json``, ``html`` order) and the audit
    entry that records them."""

    document: dict[str, Any]
    files: list[Path]
    audit_entry: dict[str, Any]


def report_file_stem(document: Mapping[str, Any]) -> str:
    """``report-<kind>-<target>-<first 12 of the digest>``, safe as a file name."""
    target = document["content"]["target"]
    safe = re.sub(r"[^A-Za-z0-9.-]", "_", target["value"])
    return f"report-{target['kind']}-{safe}-{document['digest'][:12]}"


def write_report_files(document: Mapping[str, Any], out: Path, fmt: str) -> list[Path]:
    """The JSON and/or HTML files (``fmt``: json, html or both) of the report in ``out``."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    out.mkdir(parents=True, exist_ok=True)
    stem = report_file_stem(document)
    written: list[Path] = []
    if fmt in ("json", "both"):
        path = out / f"{stem}.json"
        write_json(document, path)
        written.append(path)
    if fmt in ("html", "both"):
        from attribution.reports.html import render_html

        path = out / f"{stem}.html"
        path.write_text(render_html(document), encoding="utf-8")
        written.append(path)
    return written


def audit_generation(
    document: Mapping[str, Any],
    files: list[Path],
    actor: str,
    *,
    path: Path | None = None,
    actor_role: str | None = None,
) -> dict[str, Any]:
    """Append the ``report.generate`` entry for ``document`` and return it; ``actor_role``
    (the authenticated principal's role, in service mode) is recorded beside the actor."""
    content = document["content"]
    role = {"role": actor_role} if actor_role is not None else {}
    return audit.append(
        actor,
        "report.generate",
        f"{content['target']['kind']}:{content['target']['value']}",
        {
            "digest": document["digest"],
            "generated_at": document["generated_at"],
            "recommendation": content["recommendation"]["outcome"],
            "action_servers": content["action"]["servers"],
            "signed_by": (document["signature"] or {}).get("public_key_fingerprint"),
            "files": [p.name for p in files],
            **role,
        },
        path=path,
    )


def publish_report(
    graph: Graph,
    target: str,
    settings: Settings,
    *,
    actor: str,
    out: Path | None = None,
    fmt: str = "both",
    signing_key: Ed25519PrivateKey | None = None,
    generated_at: datetime | None = None,
    collateral_threshold: int | None = None,
    max_facts: int | None = None,
    freshness_hours: float | None = None,
    warninglists: WarninglistIndex | None = None,
    actor_role: str | None = None,
) -> PublishedReport:
    """Build the report on ``target`` (ReportError when it cannot be), write its files into
    ``out`` when given, and append its entry to the audit log (``settings.audit_log``).

    ``signing_key`` is the key of :func:`attribution.reports.canonical.load_signing_key`
    (None: unsigned); unset options come from the report settings.
    """
    document = generate_report(
        graph,
        target,
        settings,
        generated_at=generated_at,
        signing_key=signing_key,
        collateral_threshold=collateral_threshold,
        max_facts=max_facts,
        warninglists=warninglists,
        freshness_hours=freshness_hours,
    )
    files = write_report_files(document, out, fmt) if out is not None else []
    entry = audit_generation(
        document, files, actor, path=settings.audit_log, actor_role=actor_role
    )
    return PublishedReport(document, files, entry)
