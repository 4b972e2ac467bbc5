"""Which intake format a file is, from its content first and its path second.

``--format`` (the ``fmt`` argument) always wins. Otherwise:

- a directory holding ``lists/<name>/list.json`` (or ``<name>/list.json``) is
  ``misp-warninglists``;
- JSON content: a STIX bundle or STIX object is ``stix``; an object with ``report_id`` is
  ``incident``; an object with ``objectClassName`` or an RDAP ``errorCode`` is ``rdap``
  (for a JSON array the first element decides);
- JSON Lines: the first object decides: ``rrname`` and ``rrtype`` -> ``passive-dns``,
  ``report_id`` -> ``incident``, flow fields (``src_ip``/``dst_ip`` or an export alias)
  -> ``flows``;
- text with a comma-separated header: ``indicator`` or ``value`` -> ``csv``, flow fields
  -> ``flows``;
- other text is a list, told apart by the path only, since the lines look the same: a
  path through a ``trails`` directory -> ``trails``; a file name containing ``allowlist``,
  ``allow-list``, ``whitelist`` or ``benign`` -> ``allowlist``; anything else -> ``list``.

A file that fits none of these raises :class:`UnknownFormat`, naming ``--format`` and the
formats it accepts.

:func:`read_input` is the entry point for files a user names: it never raises for what a
file holds. A directory that is not a warninglists clone, a file it cannot open, one larger
than :data:`~attribution.intake.records.MAX_FILE_BYTES` (read no further than that, so a
device such as ``/dev/zero`` costs bounded memory) or one whose format cannot be told becomes
one rejection naming the file and the reason.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from attribution.intake.feeds import (
    labels_from_warninglists,
    parse_allowlist,
    parse_trails,
    trail_family,
)
from attribution.intake.flows import parse_flows
from attribution.intake.guard import FLOW_ALIASES
from attribution.intake.incidents import parse_incident_reports
from attribution.intake.lists import parse_csv, parse_list
from attribution.intake.passive_dns import parse_passive_dns
from attribution.intake.rdap_raw import parse_rdap
from attribution.intake.records import MAX_FILE_BYTES, IntakeResult, Rejection, too_deep
from attribution.intake.stix import parse_stix

__all__ = [
    "FORMATS",
    "InputRefused",
    "UnknownFormat",
    "detect_format",
    "parse_input",
    "parser_for",
    "read_chunks",
    "read_input",
    "read_path",
]

FORMATS = (
    "list",
    "csv",
    "stix",
    "incident",
    "flows",
    "passive-dns",
    "rdap",
    "trails",
    "allowlist",
    "misp-warninglists",
)
_SNIFF_BYTES = 64 * 1024
_ALLOWLIST_WORDS = ("allowlist", "allow-list", "allow_list", "whitelist", "benign")


class UnknownFormat(ValueError):
    """The format of an input could not be told; the message says how to force one."""


class InputRefused(ValueError):
    """A file refused whole before it is parsed (a directory, too large, unreadable)."""


def _is_warninglists_dir(path: Path) -> bool:
    return path.is_dir() and (
        any((path / "lists").glob("*/list.json")) or any(path.glob("*/list.json"))
    )


def _is_flow_field(name: str) -> bool:
    key = name.strip().lower()
    return FLOW_ALIASES.get(key, key) in ("src_ip", "dst_ip")


def _json_kind(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    if obj.get("type") == "bundle" or ("spec_version" in obj and "type" in obj):
        return "stix"
    if "report_id" in obj:
        return "incident"
    if "objectClassName" in obj or ("errorCode" in obj and "rdapConformance" in obj):
        return "rdap"
    if "rrname" in obj and "rrtype" in obj:
        return "passive-dns"
    if any(_is_flow_field(key) for key in obj):
        return "flows"
    return None


def _text_list_kind(path: Path) -> str:
    if "trails" in (part.lower() for part in path.parts[:-1]):
        return "trails"
    if any(word in path.name.lower() for word in _ALLOWLIST_WORDS):
        return "allowlist"
    return "list"


def detect_format(path: Path | str, head: bytes | None = None) -> str:
    """The intake format of ``path`` (see the module docstring)."""
    path = Path(path)
    if _is_warninglists_dir(path):
        return "misp-warninglists"
    if head is None:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    head = head[:_SNIFF_BYTES]
    text = head.decode("utf-8", "replace").removeprefix("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        kind = _sniff_json(path, stripped)
        if kind is not None:
            return kind
    else:
        for line in stripped.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if "," in line:
                header = next(csv.reader([line]))
                names = {cell.strip().lower() for cell in header}
                if names & {"indicator", "value"}:
                    return "csv"
                if any(_is_flow_field(name) for name in names):
                    return "flows"
            break
        if path.suffix.lower() not in (".json", ".jsonl", ".ndjson", ".csv"):
            return _text_list_kind(path)
    raise UnknownFormat(
        f"{path}: cannot tell the intake format from the content; "
        f"give --format, one of: {', '.join(FORMATS)}"
    )


def _sniff_json(path: Path, text: str) -> str | None:
    document = None
    deep = too_deep(text)
    if deep is not None and too_deep(text.split("\n", 1)[0]) is not None:
        raise InputRefused(deep)
    if deep is None:
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = None
    if document is not None:
        first = document[0] if isinstance(document, list) and document else document
        return _json_kind(first)
    # Not one complete document in the sniffed head: a large document, or JSON Lines.
    first_line = text.split("\n", 1)[0]
    try:
        if too_deep(first_line) is None:
            return _json_kind(json.loads(first_line))
    except json.JSONDecodeError:
        pass
    # One large document cut by the sniff limit: decide by its first keys.
    for marker, kind in (
        ('"type": "bundle"', "stix"),
        ('"type":"bundle"', "stix"),
        ('"report_id"', "incident"),
        ('"objectClassName"', "rdap"),
    ):
        if marker in text[:4096]:
            return kind
    return None


_PARSERS: dict[str, Callable[[bytes, str], IntakeResult[Any]]] = {
    "list": parse_list,
    "csv": parse_csv,
    "stix": parse_stix,
    "incident": parse_incident_reports,
    "flows": parse_flows,
    "passive-dns": parse_passive_dns,
    "rdap": parse_rdap,
    "allowlist": parse_allowlist,
    "trails": parse_trails,
}


def parser_for(fmt: str) -> Callable[[bytes, str], IntakeResult[Any]]:
    """The ``parse_*(data, source_name)`` function of a file format.

    For ``trails`` the family and category come from ``source_name`` (give the file's path
    to get both). ``misp-warninglists`` is a directory, not a file: use :func:`read_path`.
    """
    if fmt == "misp-warninglists":
        raise UnknownFormat("misp-warninglists is a directory format: read it with read_path")
    if fmt not in _PARSERS:
        raise UnknownFormat(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}")
    return _PARSERS[fmt]


def read_path(
    path: Path | str, fmt: str | None = None, source_name: str | None = None
) -> IntakeResult[Any]:
    """Read one file (or a warninglists directory) in the given or detected format.

    ``source_name`` defaults to the file name and is what records and rejections carry.
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise UnknownFormat(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}")
    kind = fmt or detect_format(path)
    if kind == "misp-warninglists":
        return labels_from_warninglists(path)
    source = source_name or path.name
    data = read_capped(path)
    if kind == "trails":
        family, category = trail_family(path)
        return parse_trails(data, source, family, category)
    return _PARSERS[kind](data, source)


def read_capped(path: Path) -> bytes:
    """The bytes of a file, reading no more than one byte past :data:`MAX_FILE_BYTES`.

    Raises:
        InputRefused: ``path`` is a directory, cannot be read, or is larger than the cap.
    """
    if path.is_dir():
        raise InputRefused("is a directory, not a file (name the files in it)")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputRefused(f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputRefused(f"larger than {MAX_FILE_BYTES} bytes; split it into smaller files")
    return data


def read_input(path: Path | str, fmt: str | None = None) -> tuple[str | None, IntakeResult[Any]]:
    """(format, result) of one file a user named; a file refused whole is one rejection.

    Never raises for the file's content or kind; an unknown ``fmt`` raises
    :class:`UnknownFormat` (a usage error, checked before any file is read).
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise UnknownFormat(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}")
    try:
        if fmt is None and _is_warninglists_dir(path):
            return "misp-warninglists", labels_from_warninglists(path)
        if fmt == "misp-warninglists":
            return fmt, labels_from_warninglists(path)
        return parse_input(read_capped(path), path, fmt)
    except InputRefused as exc:
        refusal = Rejection.of(str(path), 0, None, "", f"file refused: {exc}")
        return fmt, IntakeResult(rejections=[refusal])


def parse_input(
    data: bytes, path: Path | str, fmt: str | None = None
) -> tuple[str | None, IntakeResult[Any]]:
    """(format, result) of a file's bytes, in the given or detected format; never raises.

    ``path`` is where the bytes came from: its name is the records' source name, and it
    tells list formats apart (see the module docstring).
    """
    path = Path(path)
    if len(data) > MAX_FILE_BYTES:
        reason = f"file refused: larger than {MAX_FILE_BYTES} bytes; split it into smaller files"
        return fmt, IntakeResult(rejections=[Rejection.of(str(path), 0, None, "", reason)])
    try:
        kind = fmt or detect_format(path, data[:_SNIFF_BYTES])
    except (InputRefused, UnknownFormat) as exc:
        refusal = Rejection.of(str(path), 0, None, "", f"file refused: {exc}")
        return fmt, IntakeResult(rejections=[refusal])
    if kind == "trails":
        family, category = trail_family(path)
        return kind, parse_trails(data, path.name, family, category)
    return kind, parser_for(kind)(data, path.name)


# Formats whose lines stand alone: read in chunks of this many lines, so that the records
# and rows of one chunk at a time are held, not those of the whole file.
CHUNK_LINES = 20_000
_LINE_FORMATS = ("list", "csv", "trails", "allowlist", "passive-dns")


def _renumbered(result: IntakeResult[Any], offset: int, header: bool) -> IntakeResult[Any]:
    """A chunk's result with line numbers of the whole file (a repeated header's dropped)."""

    def moved(item: Any) -> Any:
        return dataclasses.replace(item, line=item.line + offset) if item.line else item

    rejections = [r for r in result.rejections if not (header and r.line == 1)]
    return IntakeResult([moved(r) for r in result.records], [moved(r) for r in rejections])


def read_chunks(
    path: Path | str, fmt: str | None = None, chunk_lines: int = CHUNK_LINES
) -> Iterator[tuple[str | None, IntakeResult[Any]]]:
    """:func:`read_input` in chunks of ``chunk_lines`` lines for line formats (lists, CSV,
    trails, allowlists, passive DNS); other formats come whole, as one chunk.

    Line numbers are those of the whole file. A CSV header is given to every chunk.
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise UnknownFormat(f"unknown format {fmt!r}; one of: {', '.join(FORMATS)}")
    if path.is_dir() or fmt == "misp-warninglists":
        yield read_input(path, fmt)
        return
    try:
        data = read_capped(path)
    except InputRefused as exc:
        refusal = Rejection.of(str(path), 0, None, "", f"file refused: {exc}")
        yield fmt, IntakeResult(rejections=[refusal])
        return
    try:
        kind = fmt or detect_format(path, data[:_SNIFF_BYTES])
    except (InputRefused, UnknownFormat):
        yield parse_input(data, path, fmt)
        return
    if kind not in _LINE_FORMATS or data.count(b"\n") <= chunk_lines:
        yield parse_input(data, path, kind)
        return
    lines = data.split(b"\n")
    if kind == "csv" and (not lines[0].strip() or lines[0].lstrip().startswith(b"#")):
        yield parse_input(data, path, kind)  # the header is not the first line: read whole
        return
    header = lines[0] + b"\n" if kind == "csv" else b""
    start = 1 if header else 0
    yield _chunk(kind, path, header + b"\n".join(lines[start : start + chunk_lines]), 0, False)
    for begin in range(start + chunk_lines, len(lines), chunk_lines):
        block = b"\n".join(lines[begin : begin + chunk_lines])
        yield _chunk(kind, path, header + block, begin - (1 if header else 0), bool(header))


def _chunk(
    kind: str, path: Path, data: bytes, offset: int, header: bool
) -> tuple[str | None, IntakeResult[Any]]:
    found, result = parse_input(data, path, kind)
    return found, _renumbered(result, offset, header)
