"""Label feeds: maltrail-style trails (malicious), plain allowlists and warninglists (benign).

Trails
    One indicator per line, ``#`` comments, as in maltrail's ``trails/static/<category>/
    <family>.txt``. The family is the file name without extension and the category its
    directory (``trails/static/malware/emotet.txt`` -> family ``emotet``, category
    ``malware``), unless given. Besides domains, addresses and CIDR blocks, trail lines
    may be ``host:port`` (the host is the identity) and ``host/path`` without a scheme
    (the host is the identity, the line is kept as ``url``).
Allowlists
    One indicator per line; every identity is labelled ``benign`` with category
    ``allowlist``.
Label CSV
    A header naming a ``value`` (or ``indicator``) column, with optional ``family``,
    ``category`` and ``source`` columns (the sandbox generator's ``labels/feed-malicious.csv``).
    A ``source`` cell names the feed the line comes from instead of the file.
    :func:`parse_label_list` tells this layout from the line-per-indicator ones.
Warninglists
    :func:`labels_from_warninglists` labels ``benign`` only the entries of lists whose
    category is in :data:`BENIGN_LABEL_CATEGORIES` (top sites, public resolvers, CRL/OCSP
    hosts). Cloud, CDN, dynamic DNS, parking and LOTS lists are *not* labels: attackers rent
    and abuse exactly that infrastructure, so calling it benign would teach the classifier
    the wrong thing. They stay what they are, misidentification controls matched by
    :mod:`attribution.warninglists`. Substring and regex entries name no identity and are
    skipped.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path, PurePath

from attribution.identities import Identity, InvalidIdentity, parse_indicator
from attribution.intake.lists import (
    clean_source,
    csv_rows,
    parse_indicator_text,
    parse_lines,
    strip_comment,
)
from attribution.intake.records import IntakeResult, Label, LabelRecord, Rejection, split_lines
from attribution.warninglists import category_for

__all__ = [
    "BENIGN_LABEL_CATEGORIES",
    "labels_from_warninglists",
    "parse_allowlist",
    "parse_label_csv",
    "parse_label_list",
    "parse_trails",
    "trail_family",
]

BENIGN_LABEL_CATEGORIES = ("top-sites", "public-dns", "crl")


def trail_family(path: str | PurePath) -> tuple[str, str | None]:
    """(family, category) of a trail file from its name and directory."""
    pure = PurePath(path)
    category = pure.parent.name or None
    return pure.stem.lower(), category.lower() if category else None


def _trail_identity(text: str) -> tuple[Identity, str | None]:
    try:
        return parse_indicator_text(text)
    except InvalidIdentity as first_error:
        host, slash, _path = text.partition("/")
        if slash:
            try:
                return _host_without_port(host), text
            except InvalidIdentity:
                raise first_error from None
        if text.count(":") == 1:
            try:
                return _host_without_port(text), None
            except InvalidIdentity:
                raise first_error from None
        raise


def _host_without_port(text: str) -> Identity:
    host, colon, port = text.partition(":")
    if colon and not (port.isdigit() and int(port) <= 65535):
        raise InvalidIdentity(text, "bad port")
    return parse_indicator(host)


def _label_lines(
    lines: IntakeResult[tuple[int, str]],
    source_name: str,
    label: Label,
    family: str | None,
    category: str | None,
    trails: bool,
) -> IntakeResult[LabelRecord]:
    def record(identity: Identity, number: int, url: str | None) -> LabelRecord:
        return LabelRecord(identity, label, family, category, source_name, None, number, url)

    identify = _trail_identity if trails else parse_indicator_text
    return parse_lines(lines, source_name, identify, record)


def _trails(
    lines: IntakeResult[tuple[int, str]],
    source_name: str,
    family: str | None,
    category: str | None,
) -> IntakeResult[LabelRecord]:
    default_family, default_category = trail_family(source_name)
    return _label_lines(
        lines,
        source_name,
        "malicious",
        family or default_family,
        category or default_category,
        trails=True,
    )


def parse_trails(
    data: bytes | str,
    source_name: str,
    family: str | None = None,
    category: str | None = None,
) -> IntakeResult[LabelRecord]:
    """Parse a maltrail-style trail file; family and category default from ``source_name``."""
    return _trails(split_lines(data, source_name), source_name, family, category)


def _allowlist(lines: IntakeResult[tuple[int, str]], source_name: str) -> IntakeResult[LabelRecord]:
    return _label_lines(lines, source_name, "benign", None, "allowlist", trails=False)


def parse_allowlist(data: bytes | str, source_name: str) -> IntakeResult[LabelRecord]:
    """Parse a plain allowlist: every identity labelled benign, category ``allowlist``."""
    return _allowlist(split_lines(data, source_name), source_name)


LABEL_CSV_COLUMNS = ("indicator", "family", "category", "source")


def _is_label_csv(lines: IntakeResult[tuple[int, str]]) -> bool:
    """True when the first content line is a CSV header naming a value or indicator column."""
    first = next((text for _, text in lines.records if strip_comment(text)), "")
    if "," not in first:
        return False
    header = {name.strip().lower() for name in next(csv.reader([first]))}
    return "value" in header or "indicator" in header


def _label_csv(
    lines: IntakeResult[tuple[int, str]], source_name: str, label: Label
) -> IntakeResult[LabelRecord]:
    result: IntakeResult[LabelRecord] = IntakeResult(rejections=lines.rejections)
    for number, row in csv_rows(lines, source_name, LABEL_CSV_COLUMNS, result.rejections):
        value = row["indicator"].strip()
        try:
            identity = parse_indicator_text(value)[0]
        except InvalidIdentity as exc:
            result.rejections.append(
                Rejection.of(source_name, number, "indicator", value, exc.reason)
            )
            continue
        named: dict[str, str] = {}
        try:
            for field in ("family", "category", "source"):
                named[field] = clean_source(row.get(field, ""), "", what=field)
        except ValueError as exc:
            result.rejections.append(
                Rejection.of(source_name, number, field, row.get(field, ""), str(exc))
            )
            continue
        result.records.append(
            LabelRecord(
                identity,
                label,
                named["family"] or None,
                named["category"] or None,
                named["source"] or source_name,
                None,
                number,
            )
        )
    result.rejections.sort(key=lambda rejection: rejection.line)
    return result


def parse_label_csv(data: bytes | str, source_name: str, label: Label) -> IntakeResult[LabelRecord]:
    """Parse a label CSV (see the module docstring); every line is labelled ``label``."""
    return _label_csv(split_lines(data, source_name), source_name, label)


def parse_label_list(
    data: bytes | str, source_name: str, label: Label
) -> IntakeResult[LabelRecord]:
    """A malicious or benign label list in any of the layouts above.

    A label CSV is recognised by its header; otherwise malicious lists are read as trails and
    benign ones as allowlists. The data is split into lines once.
    """
    lines = split_lines(data, source_name)
    if _is_label_csv(lines):
        return _label_csv(lines, source_name, label)
    if label == "malicious":
        return _trails(lines, source_name, None, None)
    return _allowlist(lines, source_name)


def labels_from_warninglists(
    directory: Path | str, categories: tuple[str, ...] = BENIGN_LABEL_CATEGORIES
) -> IntakeResult[LabelRecord]:
    """Benign labels from the warninglists of the given categories (see the module docstring)."""
    root = Path(directory)
    lists_dir = root / "lists" if (root / "lists").is_dir() else root
    result: IntakeResult[LabelRecord] = IntakeResult()
    for path in sorted(lists_dir.glob("*/list.json")):
        list_name = path.parent.name
        category = category_for(list_name)
        if category not in categories:
            continue
        source = f"warninglist:{list_name}"
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            entries = document["list"]
            kind = document["type"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            result.rejections.append(
                Rejection.of(source, 0, None, str(path), f"list not read ({exc})")
            )
            continue
        if kind not in ("cidr", "hostname", "string"):
            continue
        for index, entry in enumerate(entries):
            try:
                identity = parse_indicator(str(entry).lstrip("."))
            except InvalidIdentity as exc:
                result.rejections.append(
                    Rejection.of(source, 0, f"$.list[{index}]", entry, exc.reason)
                )
                continue
            result.records.append(
                LabelRecord(identity, "benign", list_name, category, source, None, 0)
            )
    return result
