"""Header rules of the query library, one broken file per rule, and parameter conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from attribution.browser_style import render_grass
from attribution.queries import (
    PARAM_TYPES,
    Param,
    QueryHeaderError,
    QueryParamError,
    bind_params,
    convert_value,
    list_queries,
    load_queries,
    page_params,
    parse_assignments,
    parse_query,
)

GOOD = """\
// id: pivot-example
// title: Example pivot
// description: Lists the domains on the addresses of a domain,
//   over two lines.
// params: domain: string — domain to start from
// params: since: datetime = 2026-01-01T00:00:00Z — only resolutions seen since
// returns: address, other
// false_positives: Shared hosting.
// revision: 2
MATCH (:Domain {name: $domain})-[r:RESOLVES_TO]->(ip:IPAddress)<-[:RESOLVES_TO]-(o:Domain)
WHERE r.last_seen >= $since // a comment naming $ignored
RETURN ip.address AS address, o.name AS other, '$not_a_param' AS literal
"""


def _write(tmp_path: Path, text: str, name: str = "q.cypher") -> Path:
    path = tmp_path / "pivots" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_good_header_parses(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    (query,) = load_queries(tmp_path).values()
    assert query.id == "pivot-example"
    assert query.category == "pivots"
    assert query.description == "Lists the domains on the addresses of a domain, over two lines."
    assert query.params == (
        Param("domain", "string", None, "domain to start from"),
        Param("since", "datetime", "2026-01-01T00:00:00Z", "only resolutions seen since"),
    )
    assert query.returns == ("address", "other")
    assert query.revision == 2
    assert query.cypher.startswith("MATCH (:Domain")


BROKEN = {
    "unknown key": (
        GOOD.replace("// revision: 2", "// revision: 2\n// author: me"),
        "unknown header key 'author'",
    ),
    "missing key": (
        GOOD.replace("// false_positives: Shared hosting.\n", ""),
        "header lacks false_positives",
    ),
    "duplicate key": (
        GOOD.replace("// revision: 2", "// revision: 2\n// title: again"),
        "'title' given twice",
    ),
    "empty value": (GOOD.replace("// title: Example pivot", "// title:"), "'title' is empty"),
    "bad id": (GOOD.replace("pivot-example", "Pivot_Example"), "must match ^[a-z0-9-]+$"),
    "stray comment": (
        GOOD.replace("// revision: 2", "// revision: 2\n//no space"),
        "header lines are",
    ),
    "revision": (GOOD.replace("// revision: 2", "// revision: two"), "revision must be a positive"),
    "revision zero": (
        GOOD.replace("// revision: 2", "// revision: 0"),
        "revision must be a positive",
    ),
    "returns": (GOOD.replace("address, other", "address, address"), "distinct column names"),
    "param syntax": (
        GOOD.replace("domain: string — domain", "domain string - domain"),
        "must read",
    ),
    "param type": (GOOD.replace("domain: string", "domain: text"), "unknown type 'text'"),
    "param default": (
        GOOD.replace("since: datetime = 2026-01-01T00:00:00Z", "since: datetime = yesterday"),
        "default: parameter since",
    ),
    "param twice": (
        GOOD.replace("// returns:", "// params: domain: string — again\n// returns:"),
        "domain declared twice",
    ),
    "none beside params": (
        GOOD.replace("// returns:", "// params: none\n// returns:"),
        "cannot stand beside",
    ),
    "undeclared param": (
        GOOD.replace("r.last_seen >= $since", "r.last_seen >= $sinse"),
        "used but not declared: sinse",
    ),
    "unused param": (GOOD.replace("r.last_seen >= $since", "true"), "declared but not used: since"),
    "unknown label": (GOOD.replace("(o:Domain)", "(o:Website)"), "not in the schema: Website"),
    "unknown rel type": (
        GOOD.replace("[:RESOLVES_TO]", "[:POINTS_AT]"),
        "not in the schema: POINTS_AT",
    ),
    "no body": (GOOD.split("MATCH")[0], "no Cypher after the header"),
    "page_limit undeclared": (
        GOOD.replace("// revision: 2", "// page_limit: limit\n// revision: 2"),
        "page_limit must name a declared int parameter, got 'limit'",
    ),
    "page_limit not int": (
        GOOD.replace("// revision: 2", "// page_limit: since\n// revision: 2"),
        "page_limit must name a declared int parameter, got 'since'",
    ),
}

LIMITED = GOOD.replace(
    "// returns:", "// params: limit: int = 1000 — at most this many rows\n// returns:"
).replace("// revision: 2", "// page_limit: limit\n// revision: 2") + "LIMIT $limit\n"


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_header_is_refused(tmp_path: Path, case: str) -> None:
    text, message = BROKEN[case]
    path = _write(tmp_path, text)
    with pytest.raises(QueryHeaderError) as caught:
        load_queries(tmp_path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_error_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("// revision: 2", "// revision: 2\n// author: me"))
    with pytest.raises(QueryHeaderError) as caught:
        load_queries(tmp_path)
    assert caught.value.line == 10
    assert str(caught.value).startswith(f"{path}:10: ")


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.cypher")
    second = _write(tmp_path, GOOD, "b.cypher")
    with pytest.raises(QueryHeaderError) as caught:
        load_queries(tmp_path)
    assert str(second) in str(caught.value)
    assert "already used by" in str(caught.value)


def test_params_none(tmp_path: Path) -> None:
    text = GOOD.replace(
        "// params: domain: string — domain to start from\n"
        "// params: since: datetime = 2026-01-01T00:00:00Z — only resolutions seen since\n",
        "// params: none\n",
    )
    text = text.replace("{name: $domain}", "").replace("r.last_seen >= $since", "true")
    assert parse_query(text, "x.cypher").params == ()


def test_shipped_library_is_valid() -> None:
    queries = list_queries()
    assert len(queries) >= 20
    assert len({q.id for q in queries}) == len(queries)
    assert {q.category for q in queries} >= {
        "pivots",
        "hosting",
        "dns",
        "reports",
        "review",
        "changes",
        "paths",
    }
    for query in queries:
        assert query.false_positives


def _p(kind: str) -> Param:
    return Param("v", kind, None, "a value")


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        ("string", " a b ", " a b "),
        ("int", " 42", 42),
        ("int", "-7", -7),
        ("float", "0.25", 0.25),
        ("float", "1", 1.0),
        ("bool", "TRUE", True),
        ("bool", "no", False),
        ("datetime", "2026-09-15T00:00:00Z", datetime(2026, 9, 15, tzinfo=UTC)),
        ("datetime", "2026-09-15", datetime(2026, 9, 15, tzinfo=UTC)),
        (
            "datetime",
            "2026-09-15T09:00:00+09:00",
            datetime(2026, 9, 15, 9, tzinfo=timezone(timedelta(hours=9))),
        ),
        ("list<string>", "act, no-act,", ["act", "no-act"]),
        ("list<string>", '["a,b", "c"]', ["a,b", "c"]),
        ("list<string>", "", []),
        ("int", 5, 5),
        ("float", 3, 3.0),
        ("list<string>", ("a",), ["a"]),
    ],
)
def test_conversion(kind: str, raw: object, value: object) -> None:
    assert convert_value(_p(kind), raw) == value


@pytest.mark.parametrize(
    ("kind", "raw", "message"),
    [
        ("int", "4.5", "expected an integer, got '4.5'"),
        ("float", "lots", "expected a number"),
        ("float", "nan", "finite number"),
        ("bool", "maybe", "expected true or false"),
        ("datetime", "15/09/2026", "ISO 8601"),
        ("list<string>", "[1, 2]", "list of strings"),
        ("list<string>", "[oops", "not a JSON list"),
        ("int", True, "expected int"),
        ("datetime", datetime(2026, 1, 1), "expected datetime"),
        ("string", 3, "expected string"),
    ],
)
def test_conversion_errors(kind: str, raw: object, message: str) -> None:
    with pytest.raises(QueryParamError) as caught:
        convert_value(_p(kind), raw)
    assert message in str(caught.value)
    assert "parameter v" in str(caught.value)


def test_every_declared_type_converts_a_string() -> None:
    samples = {
        "string": "x",
        "int": "1",
        "float": "1.5",
        "bool": "true",
        "datetime": "2026-01-01",
        "list<string>": "a",
    }
    assert set(samples) == set(PARAM_TYPES)
    for kind, raw in samples.items():
        convert_value(_p(kind), raw)


def test_bind_params(tmp_path: Path) -> None:
    query = parse_query(GOOD, "x.cypher")
    assert bind_params(query, {"domain": "a.test"}) == {
        "domain": "a.test",
        "since": datetime(2026, 1, 1, tzinfo=UTC),
    }
    with pytest.raises(QueryParamError, match="needs parameter domain"):
        bind_params(query, {})
    with pytest.raises(QueryParamError, match="has no parameter limit"):
        bind_params(query, {"domain": "a.test", "limit": "3"})


def test_parse_assignments() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    with pytest.raises(QueryParamError, match="must read key=value"):
        parse_assignments(["a"])
    with pytest.raises(QueryParamError, match="given twice"):
        parse_assignments(["a=1", "a=2"])


def test_browser_style_file_matches_the_schema() -> None:
    shipped = (Path(__file__).resolve().parents[2] / "queries" / "style.grass").read_text()
    assert shipped == render_grass()
    assert "node.Domain {\n  color: #E05A47;\n  border-color: #C74433;\n" in shipped
    assert 'caption: "{address}";' in shipped


def test_style_command_prints_the_shipped_style_sheet(capsys: pytest.CaptureFixture[str]) -> None:
    from attribution.cli.main import main

    assert main(["query", "style"]) == 0
    shipped = (Path(__file__).resolve().parents[2] / "queries" / "style.grass").read_text()
    assert capsys.readouterr().out == shipped


def test_a_page_asks_for_the_rows_up_to_its_end_and_one_more(tmp_path: Path) -> None:
    _write(tmp_path, LIMITED)
    (query,) = load_queries(tmp_path).values()
    assert query.page_limit == "limit"
    assert query.as_dict()["page_limit"] == "limit"
    bound = {"domain": "a.test", "limit": 1000}
    assert page_params(query, bound, 0, 100) == {"domain": "a.test", "limit": 101}
    assert page_params(query, bound, 200, 100) == {"domain": "a.test", "limit": 301}
    # The caller's own smaller limit stands, and the bound parameters are not changed.
    assert page_params(query, {"domain": "a.test", "limit": 50}, 0, 100)["limit"] == 50
    assert bound["limit"] == 1000


def test_a_query_without_page_limit_pages_with_its_parameters_as_bound(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    (query,) = load_queries(tmp_path).values()
    assert query.page_limit is None
    assert page_params(query, {"domain": "a.test"}, 0, 2) == {"domain": "a.test"}
