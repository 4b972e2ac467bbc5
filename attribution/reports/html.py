"""The HTML rendering of a report document: one self-contained page, no scripts.

The page shows the same content as the JSON (and states the digest and signature), with the
two figures of :mod:`attribution.reports.figures` embedded as ``data:`` URIs. Sections have
stable ids (``summary``, ``recommendation``, ``action``, ``servers``, ``score``, ``evidence``,
``reports``, ``collateral``, ``counter-evidence``, ``digest``) so that links and tests can
address them. Reports of content version 1 (before servers, the action block, evidence families
and explanations) still render; the sections they lack say so.
Jinja2 autoescaping is on: every value from the graph is text, never markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment

from attribution.reports.figures import neighbourhood_png, score_distribution_png
from attribution.templating import strict_environment

__all__ = ["SECTION_IDS", "render_html"]

SECTION_IDS = (
    "summary",
    "recommendation",
    "action",
    "servers",
    "score",
    "evidence",
    "reports",
    "collateral",
    "counter-evidence",
    "digest",
)


def _environment() -> Environment:
    env = strict_environment("attribution.reports")
    env.filters["compact"] = lambda value: json.dumps(value, sort_keys=True, ensure_ascii=False)
    return env


def render_html(document: Mapping[str, Any]) -> str:
    """The page for a sealed report document."""
    content = document["content"]
    template = _environment().get_template("report.html.j2")
    return template.render(
        doc=document,
        c=content,
        score_figure=score_distribution_png(content),
        neighbourhood_figure=neighbourhood_png(content),
        section_ids=SECTION_IDS,
    )
