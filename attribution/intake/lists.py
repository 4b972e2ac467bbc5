"""Indicator lists: plain text (one indicator per line) and CSV with a header.

Plain lists
    One indicator per line: a domain, IP address, CIDR block, AS number or URL (its host
    becomes the identity, the URL is kept on the record). Blank lines are skipped; ``#``
    starts a comment at the beginning of a line or after whitespace.
CSV
    A header row names the columns, case-insensitively: ``indicator`` (or ``value``) is
    required; ``tags`` (``;``-separated, lower-cased, duplicates dropped), ``source`` (a
    row's own source, default the file's source name) and ``first_seen`` (RFC 3339 with an
    offset) are optional. An unknown column is reported once as a rejection of the header
    and otherwise ignored; the rows still come out. Records are one line each: a quoted
    field may not span lines.

Intel lists are not derived from communications, so the metadata-only guard does not
apply to them; every value must still be a valid identity.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from attribution.identities import Identity, InvalidIdentity, parse_indicator, parse_url
from attribution.intake.records import (
    IndicatorRecord,
    IntakeResult,
    Rejection,
    parse_time,
    split_lines,
)

__all__ = [
    "CSV_COLUMNS",
    "clean_source",
    "csv_rows",
    "parse_csv",
    "parse_indicator_text",
    "parse_lines",
    "parse_list",
    "strip_comment",
]

R = TypeVar("R")

CSV_COLUMNS = ("indicator", "tags", "source", "first_seen")
_INDICATOR_ALIASES = {"indicator": "indicator", "value": "indicator"}
MAX_TAG_LENGTH = 64
MAX_SOURCE_LENGTH = 128


def strip_comment(text: str) -> str:
    """The line without a ``#`` comment (at the start or after whitespace), stripped."""
    stripped = text.strip()
    if stripped.startswith("#"):
        return ""
    for index, char in enumerate(stripped):
        if char == "#" and stripped[index - 1].isspace():
            return stripped[:index].rstrip()
    return stripped


def parse_indicator_text(text: str) -> tuple[Identity, str | None]:
    """The identity of one indicator and, when it was given as a URL, the URL."""
    if "://" in text:
        return parse_url(text)
    return parse_indicator(text), None


def parse_lines(
    lines: IntakeResult[tuple[int, str]],
    source_name: str,
    identify: Callable[[str], tuple[Identity, str | None]],
    make: Callable[[Identity, int, str | None], R],
) -> IntakeResult[R]:
    """Records of a one-indicator-per-line list, already split by :func:`split_lines`.

    ``identify`` turns a line without its comment into (identity, URL or None); ``make``
    builds the record from the identity, the line number and the URL. Lines ``identify``
    refuses become rejections of field ``indicator``.
    """
    result: IntakeResult[R] = IntakeResult(rejections=list(lines.rejections))
    for number, raw in lines.records:
        text = strip_comment(raw)
        if not text:
            continue
        try:
            identity, url = identify(text)
        except InvalidIdentity as exc:
            result.rejections.append(
                Rejection.of(source_name, number, "indicator", text, exc.reason)
            )
            continue
        result.records.append(make(identity, number, url))
    result.rejections.sort(key=lambda rejection: rejection.line)
    return result


def parse_list(data: bytes | str, source_name: str) -> IntakeResult[IndicatorRecord]:
    """Parse a plain indicator list (see the module docstring)."""
    return parse_lines(
        split_lines(data, source_name),
        source_name,
        parse_indicator_text,
        lambda identity, number, url: IndicatorRecord(identity, (), source_name, None, number, url),
    )


def _clean_tags(text: str) -> tuple[str, ...]:
    tags: list[str] = []
    for piece in text.split(";"):
        tag = piece.strip().lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"tag longer than {MAX_TAG_LENGTH} characters")
        if not tag.isprintable():
            raise ValueError("tag contains a control character")
        if tag not in tags:
            tags.append(tag)
    return tuple(tags)


def clean_source(text: str, default: str, what: str = "source") -> str:
    """A row's own name for something (its source, a family): ``default`` when blank;
    bounded and printable, else ValueError naming ``what``."""
    source = text.strip()
    if not source:
        return default
    if len(source) > MAX_SOURCE_LENGTH:
        raise ValueError(f"{what} longer than {MAX_SOURCE_LENGTH} characters")
    if not source.isprintable():
        raise ValueError(f"{what} contains a control character")
    return source


def parse_csv(data: bytes | str, source_name: str) -> IntakeResult[IndicatorRecord]:
    """Parse a CSV indicator list with a header row (see the module docstring)."""
    lines = split_lines(data, source_name)
    result: IntakeResult[IndicatorRecord] = IntakeResult(rejections=lines.rejections)
    for number, row in csv_rows(lines, source_name, CSV_COLUMNS, result.rejections):
        record = _csv_record(row, source_name, number, result.rejections)
        if record is not None:
            result.records.append(record)
    result.rejections.sort(key=lambda rejection: rejection.line)
    return result


def csv_rows(
    lines: IntakeResult[tuple[int, str]],
    source_name: str,
    accepted: tuple[str, ...],
    rejections: list[Rejection],
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, cell by column name) of a headed CSV, already split into lines.

    ``accepted`` names the columns read, ``indicator`` first (``value`` is accepted for it).
    Comment and blank lines are skipped; a line that is not CSV, or has another number of
    fields than the header, and a header without an indicator column or naming one twice,
    become rejections (the last two stop the file). Unknown columns are reported once.
    """
    columns: dict[str, int] | None = None
    width = 0
    for number, raw in lines.records:
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            cells = next(csv.reader([raw], strict=True))
        except csv.Error as exc:
            rejections.append(Rejection.of(source_name, number, None, raw, f"bad CSV: {exc}"))
            continue
        if columns is None:
            columns = _read_header(cells, source_name, number, rejections, accepted)
            if columns is None:
                return
            width = len(cells)
            continue
        if len(cells) != width:
            rejections.append(
                Rejection.of(
                    source_name,
                    number,
                    None,
                    raw,
                    f"{len(cells)} fields where the header has {width}",
                )
            )
            continue
        yield number, {name: cells[index] for name, index in columns.items()}


def _read_header(
    cells: list[str],
    source_name: str,
    number: int,
    rejections: list[Rejection],
    accepted: tuple[str, ...],
) -> dict[str, int] | None:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = cell.strip().lower()
        name = _INDICATOR_ALIASES.get(name, name)
        if name not in accepted:
            rejections.append(
                Rejection.of(
                    source_name,
                    number,
                    cell,
                    cell,
                    "unknown column, ignored (accepted: indicator or value, "
                    + ", ".join(accepted[1:])
                    + ")",
                )
            )
            continue
        if name in columns:
            rejections.append(
                Rejection.of(source_name, number, cell, cell, "column named twice; file not read")
            )
            return None
        columns[name] = index
    if "indicator" not in columns:
        rejections.append(
            Rejection.of(
                source_name,
                number,
                None,
                ",".join(cells),
                "header has no indicator (or value) column; file not read",
            )
        )
        return None
    return columns


def _csv_record(
    row: dict[str, str], source_name: str, number: int, rejections: list[Rejection]
) -> IndicatorRecord | None:
    def cell(name: str) -> str:
        return row.get(name, "")

    text = cell("indicator").strip()
    try:
        identity, url = parse_indicator_text(text)
    except InvalidIdentity as exc:
        rejections.append(Rejection.of(source_name, number, "indicator", text, exc.reason))
        return None
    first_seen: datetime | None = None
    try:
        field = "tags"
        tags = _clean_tags(cell("tags"))
        field = "source"
        source = clean_source(cell("source"), source_name)
        field = "first_seen"
        if cell("first_seen").strip():
            first_seen = parse_time(cell("first_seen"))
    except ValueError as exc:
        rejections.append(Rejection.of(source_name, number, field, cell(field), str(exc)))
        return None
    return IndicatorRecord(identity, tags, source, first_seen, number, url)
