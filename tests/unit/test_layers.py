"""Dependencies point one way: enrichment never imports attribution."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_enrichment_imports_nothing_from_attribution() -> None:
    files = sorted((REPO / "enrichment").rglob("*.py"))
    assert len(files) > 5
    offenders = {
        str(path.relative_to(REPO)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] == "attribution"
        )
        for path in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_check_sees_an_offending_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from attribution.writer import GraphWriter\nimport attribution.db\n", encoding="utf-8"
    )
    assert imported_modules(bad) == {"attribution.writer", "attribution.db"}
