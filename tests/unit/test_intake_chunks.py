"""Line formats are read in chunks with the whole file's line numbers, as if read at once."""

from __future__ import annotations

from pathlib import Path

from attribution.intake.detect import read_chunks, read_input


def merged(path: Path, chunk_lines: int) -> tuple[list[object], list[object], list[str | None]]:
    records: list[object] = []
    rejections: list[object] = []
    kinds: list[str | None] = []
    for kind, result in read_chunks(path, None, chunk_lines):
        kinds.append(kind)
        records += result.records
        rejections += result.rejections
    return records, rejections, kinds


def test_a_chunked_list_equals_the_list_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "hosts.txt"
    lines = [f"host{i}.example" if i % 7 else "not a host!" for i in range(1, 24)]
    path.write_text("\n".join(lines) + "\n")
    _kind, whole = read_input(path)
    records, rejections, kinds = merged(path, 5)
    assert kinds == ["list"] * 5
    assert (records, rejections) == (whole.records, whole.rejections)
    assert [r.line for r in whole.rejections] == [7, 14, 21]


def test_a_chunked_csv_keeps_its_header_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    rows = [f"host{i}.example,c2,red" if i % 5 else "bad value,c2,red" for i in range(1, 13)]
    path.write_text("indicator,tags,colour\n" + "\n".join(rows) + "\n")
    _kind, whole = read_input(path)
    records, rejections, kinds = merged(path, 4)
    assert kinds == ["csv"] * 4
    assert (records, rejections) == (whole.records, whole.rejections)
    assert [r.line for r in whole.rejections] == [1, 6, 11]
    assert [r.line for r in whole.records][:3] == [2, 3, 4]
