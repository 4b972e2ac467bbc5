"""The Neo4j Browser style sheet of the graph: a colour and a caption for every schema label.

``queries/style.grass`` is the text of :func:`render_grass`, which ``attribution query style``
prints; a test keeps the two equal, so a label added to the schema cannot go without a style.
"""

from __future__ import annotations

from attribution.schema import NODES

__all__ = ["render_grass"]

# Browser colours per label: red for what may become a target, blue for network plumbing,
# green for registration, amber for reports, grey for sources and workflow.
_GRASS_COLOURS = {
    "Domain": ("#E05A47", "#C74433"),
    "IPAddress": ("#F79767", "#E07E4E"),
    "Network": ("#4C8EDA", "#2870C2"),
    "Prefix": ("#57C7E3", "#23B3D7"),
    "AutonomousSystem": ("#6DCE9E", "#4AB584"),
    "Organization": ("#8DCC93", "#5DB665"),
    "Registrar": ("#C990C0", "#B261A5"),
    "Registrant": ("#DA7194", "#CC3C6C"),
    "IncidentReport": ("#FFC454", "#D7A013"),
    "Operator": ("#ECB5C9", "#DA7298"),
    "LabelSource": ("#A5ABB6", "#9AA1AC"),
    "ApprovalRequest": ("#D9C8AE", "#C0A378"),
    "Decision": ("#604A0E", "#423204"),
}


def render_grass() -> str:
    """A Neo4j Browser style sheet (``:style`` / drag-and-drop) for every schema label.

    Each label gets its own colour and its key property as caption; relationships show
    their type. ``queries/style.grass`` is this text; a test keeps the two equal.
    """
    missing = [n.label for n in NODES if n.label not in _GRASS_COLOURS]
    if missing:
        raise ValueError(f"no Browser colour for {', '.join(missing)}")
    lines = [
        "node {",
        "  diameter: 50px;",
        "  color: #A5ABB6;",
        "  border-color: #9AA1AC;",
        "  border-width: 2px;",
        "  text-color-internal: #FFFFFF;",
        "  font-size: 10px;",
        "}",
        "",
        "relationship {",
        "  color: #A5ABB6;",
        "  shaft-width: 1px;",
        "  font-size: 8px;",
        "  padding: 3px;",
        "  text-color-external: #000000;",
        "  text-color-internal: #FFFFFF;",
        '  caption: "<type>";',
        "}",
    ]
    for node in NODES:
        fill, border = _GRASS_COLOURS[node.label]
        lines += [
            "",
            f"node.{node.label} {{",
            f"  color: {fill};",
            f"  border-color: {border};",
            "  text-color-internal: #FFFFFF;",
            f'  caption: "{{{node.key}}}";',
            "}",
        ]
    return "\n".join(lines) + "\n"
