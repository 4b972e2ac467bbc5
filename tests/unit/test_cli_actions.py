"""`label` and `report` are subcommands with actions; their short forms name the default one."""

from __future__ import annotations

from pathlib import Path

import pytest

from attribution.cli.main import build_parser, main, with_default_action


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["report", "evil.example", "--json"], ["report", "generate", "evil.example", "--json"]),
        (["report", "--out", "r", "evil.example"], ["report", "generate", "--out", "r", "evil.example"]),
        (["report", "verify", "r.json"], ["report", "verify", "r.json"]),
        (["report", "generate", "evil.example"], ["report", "generate", "evil.example"]),
        (["report", "--help"], ["report", "--help"]),
        (["report"], ["report"]),
        (["label", "evil.example", "benign"], ["label", "set", "evil.example", "benign"]),
        (["label", "import", "feed.csv"], ["label", "import", "feed.csv"]),
        (["label", "show", "evil.example"], ["label", "show", "evil.example"]),
        (["approval", "list"], ["approval", "list"]),
        (["no-such-command", "x"], ["no-such-command", "x"]),
        ([], []),
    ],
)  # fmt: skip
def test_default_action(argv: list[str], expected: list[str]) -> None:
    assert with_default_action(argv) == expected


def _parse(*argv: str) -> dict[str, object]:
    args = with_default_action(list(argv))
    parsed = vars(build_parser(args[0]).parse_args(args))
    parsed["func"] = parsed["func"].__name__
    return parsed


def test_the_short_forms_parse_as_before() -> None:
    assert _parse("label", "a.example", "benign", "--by", "sato", "--reason", "sinkhole") == {
        "command": "label",
        "label_action": "set",
        "target": "a.example",
        "verdict": "benign",
        "by": "sato",
        "reason": "sinkhole",
        "json": False,
        "func": "_verdict",
    }
    assert _parse("label", "import", "f.csv", "g.txt", "--kind", "feed", "--json") == {
        "command": "label",
        "label_action": "import",
        "files": [Path("f.csv"), Path("g.txt")],
        "kind": "feed",
        "source": None,
        "json": True,
        "func": "_import",
    }
    assert _parse("report", "203.0.113.9", "--format", "json", "--out", "r") == {
        "command": "report",
        "report_action": "generate",
        "target": "203.0.113.9",
        "fmt": "json",
        "out": Path("r"),
        "by": None,
        "collateral_threshold": None,
        "freshness_hours": None,
        "max_facts": None,
        "json": False,
        "func": "_generate",
    }
    assert _parse("report", "verify", "r.json", "--html", "r.html") == {
        "command": "report",
        "report_action": "verify",
        "file": Path("r.json"),
        "public_key": None,
        "html": Path("r.html"),
        "json": False,
        "func": "_verify",
    }


@pytest.mark.parametrize(
    "argv",
    [
        ["label", "a.example", "evil", "--by", "a", "--reason", "r"],
        ["label", "a.example", "benign"],
        ["label", "import", "f.csv"],
        ["label", "show"],
        ["report"],
        ["report", "verify"],
        ["report", "a.example", "extra"],
    ],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
