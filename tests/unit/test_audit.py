"""The hash-chained audit log: appends, concurrent appends, and every kind of tampering."""

from __future__ import annotations

import itertools
import json
import multiprocessing
from pathlib import Path

import pytest

from attribution import audit


@pytest.fixture(autouse=True)
def _anchors_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Anchor files go to the test's own directory, not the user's home."""
    monkeypatch.setenv("ATTRIBUTION_AUDIT_ANCHOR_DIR", str(tmp_path / "anchors"))
    monkeypatch.delenv("ATTRIBUTION_AUDIT_ANCHOR_COMMAND", raising=False)
    return tmp_path / "anchors"


def _fill(path: Path, count: int = 5) -> list[dict]:
    return [
        audit.append(
            f"user{i}",
            "label.change",
            f"domain:d{i}.test",
            {"verdict": "malicious"},
            path=path,
            time=f"2026-03-0{i + 1}T00:00:00Z",
        )
        for i in range(count)
    ]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_entries_chain_and_verify(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    entries = _fill(log)
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev_hash"] == audit.GENESIS_HASH
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(entries))
    assert entries[0]["hash"] == audit.entry_hash(entries[0])
    assert audit.read_entries(log) == entries
    result = audit.verify(log)
    assert result.as_dict() == {
        "ok": True,
        "entries": 5,
        "head_seq": 5,
        "head_hash": entries[-1]["hash"],
        "reason": None,
        "line": None,
        "seq": None,
    }
    assert audit.head(log) == (5, entries[-1]["hash"])
    assert audit.verify(tmp_path / "missing.jsonl").ok


def test_edited_entry_is_named(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log)
    lines = _lines(log)
    lines[2] = lines[2].replace('"malicious"', '"benign"')
    log.write_text("".join(lines))
    result = audit.verify(log)
    assert (result.ok, result.line, result.seq) == (False, 3, 3)
    assert "was altered" in (result.reason or "")


def test_edit_with_recomputed_hash_breaks_the_next_link(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log)
    lines = _lines(log)
    entry = json.loads(lines[1])
    entry["actor"] = "someone-else"
    entry["hash"] = audit.entry_hash(entry)
    lines[1] = json.dumps(entry) + "\n"
    log.write_text("".join(lines))
    result = audit.verify(log)
    assert (result.ok, result.line, result.seq) == (False, 3, 3)
    assert "does not link" in (result.reason or "")


def test_deleted_entry_is_named(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log)
    lines = _lines(log)
    del lines[1]
    log.write_text("".join(lines))
    result = audit.verify(log)
    assert (result.ok, result.line, result.seq) == (False, 2, 3)
    assert "expected seq 2" in (result.reason or "")


def test_reordered_entries_are_named(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log)
    lines = _lines(log)
    lines[3], lines[4] = lines[4], lines[3]
    log.write_text("".join(lines))
    result = audit.verify(log)
    assert (result.ok, result.line, result.seq) == (False, 4, 5)


def test_garbage_line_is_named(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log, 2)
    with log.open("a") as handle:
        handle.write("not json\n")
    result = audit.verify(log)
    assert (result.ok, result.line, result.seq) == (False, 3, None)
    with pytest.raises(ValueError, match="last line is not an audit entry"):
        audit.append("x", "label.change", "s", path=log)


def test_truncated_tail_is_detected_against_a_recorded_head(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    entries = _fill(log)
    anchor = f"5:{entries[-1]['hash']}"
    assert audit.verify(log, expect_head=anchor).ok
    assert audit.verify(log, expect_head=entries[-1]["hash"]).ok
    log.write_text("".join(_lines(log)[:3]))
    assert audit.verify(log).ok  # a shorter chain is still a chain
    result = audit.verify(log, expect_head=anchor)
    assert not result.ok
    assert "no longer in the log" in (result.reason or "")
    assert (result.line, result.seq) == (4, 5)


def _append_many(path: str, worker: int) -> None:
    for i in range(25):
        audit.append(f"w{worker}", "label.change", f"n{i}", {"i": i}, path=Path(path))


def test_concurrent_processes_keep_one_chain(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(log), w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    result = audit.verify(log)
    assert (result.ok, result.entries) == (True, 100)


def test_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTRIBUTION_AUDIT_LOG", str(tmp_path / "elsewhere.jsonl"))
    assert audit.audit_log_path() == tmp_path / "elsewhere.jsonl"
    monkeypatch.delenv("ATTRIBUTION_AUDIT_LOG")
    monkeypatch.setenv("ATTRIBUTION_HOME", str(tmp_path / "home"))
    assert audit.audit_log_path() == tmp_path / "home" / "audit.jsonl"


def test_audit_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from attribution.cli.main import main

    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("ATTRIBUTION_AUDIT_LOG", str(log))
    entries = _fill(log, 3)
    assert main(["audit", "head"]) == 0
    anchor = capsys.readouterr().out.strip()
    assert anchor == f"3:{entries[-1]['hash']}"
    assert main(["audit", "verify", "--expect-head", anchor]) == 0
    assert "3 entries, chain intact" in capsys.readouterr().out
    lines = _lines(log)
    log.write_text(lines[0] + lines[2])
    assert main(["audit", "verify", "--json"]) == 4
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["line"], report["seq"]) == (False, 2, 3)
    log.write_text(lines[0] + lines[1])
    assert main(["audit", "verify", "--expect-head", anchor]) == 4
    assert "chain broken at line 3: the recorded head" in capsys.readouterr().out


def _verify_anchored(log: Path) -> audit.AuditVerification:
    return audit.verify(log, anchors=audit.recorded_anchors(log))


def test_every_append_anchors_the_head_outside_the_log(
    tmp_path: Path, _anchors_in_tmp: Path
) -> None:
    log = tmp_path / "log" / "audit.jsonl"
    entries = _fill(log, 3)
    [anchor_file] = list(_anchors_in_tmp.iterdir())
    assert anchor_file == audit.anchor_path(log)
    assert json.loads(anchor_file.read_text()) == {
        "hash": entries[-1]["hash"],
        "log": str(log),
        "seq": 3,
    }
    assert oct(anchor_file.stat().st_mode & 0o777) == "0o600"
    assert audit.recorded_anchors(log) == [
        (f"anchor file {anchor_file}", f"3:{entries[-1]['hash']}")
    ]
    assert _verify_anchored(log).ok


def test_a_truncated_tail_is_caught_by_the_anchor(tmp_path: Path, _anchors_in_tmp: Path) -> None:
    log = tmp_path / "audit.jsonl"
    entries = _fill(log, 5)
    log.write_text("".join(_lines(log)[:3]))
    result = _verify_anchored(log)
    assert (result.ok, result.line, result.seq, result.entries) == (False, 4, 5, 3)
    assert result.reason == (
        f"anchor file {audit.anchor_path(log)} 5:{entries[-1]['hash']} is no longer in the log "
        "(entries were removed from its end, or it was rewritten)"
    )
    log.unlink()
    assert (_verify_anchored(log).ok, _verify_anchored(log).line) == (False, 1)


def test_a_consistently_rewritten_chain_is_caught_by_the_anchor(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log, 4)
    rewritten = []
    prev = audit.GENESIS_HASH
    for line in _lines(log):
        entry = json.loads(line)
        entry["details"] = {"verdict": "benign"}
        entry["prev_hash"] = prev
        entry["hash"] = prev = audit.entry_hash(entry)
        rewritten.append(json.dumps(entry) + "\n")
    log.write_text("".join(rewritten))
    assert audit.verify(log).ok  # in itself, the rewritten chain is a chain
    result = _verify_anchored(log)
    assert (result.ok, result.line, result.seq) == (False, 5, 4)
    assert "is no longer in the log" in (result.reason or "")


def test_the_anchor_command_receives_each_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    received = tmp_path / "received.txt"
    script = tmp_path / "anchor.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> {received}\n')
    script.chmod(0o755)
    monkeypatch.setenv("ATTRIBUTION_AUDIT_ANCHOR_COMMAND", str(script))
    entries = _fill(tmp_path / "audit.jsonl", 2)
    assert received.read_text().splitlines() == [f"{e['seq']}:{e['hash']}" for e in entries]
    monkeypatch.setenv("ATTRIBUTION_AUDIT_ANCHOR_COMMAND", "false")
    with pytest.raises(
        audit.AuditError, match=r"^the audit anchor command 'false' failed with exit code 1$"
    ):
        audit.append("x", "label.change", "s", path=tmp_path / "audit.jsonl")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"seq": 3, "seq": 3}', "line 3 is not a well-formed entry: the key 'seq' appears twice"),
        (
            b'{"seq": 3, "details": NaN}',
            "line 3 is not a well-formed entry: it holds NaN, which JSON does not allow",
        ),
        (b'{"seq": 3, "actor": "b\xffd"}', "line 3 holds an invalid UTF-8 byte at column 23"),
        (b"[" * 100_000, "line 3 is nested too deeply to be an audit entry"),
    ],
)
def test_lenient_json_is_tampering(tmp_path: Path, line: bytes, reason: str) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log, 2)
    with log.open("ab") as handle:
        handle.write(line + b"\n")
    result = audit.verify(log)
    assert (result.ok, result.line, result.seq, result.reason) == (False, 3, None, reason)
    with pytest.raises(audit.AuditTampered, match="run `attribution audit verify`"):
        audit.head(log)
    with pytest.raises(ValueError, match="last line is not an audit entry"):
        audit.append("x", "label.change", "s", path=log)


def test_a_duplicated_key_inside_a_valid_entry_is_tampering(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    _fill(log, 2)
    lines = _lines(log)
    # The duplicate comes first, so a lenient reader keeps the genuine value and the hash holds.
    lines[1] = lines[1].replace('"actor":', '"actor":"mallory","actor":', 1)
    log.write_text("".join(lines))
    result = audit.verify(log)
    assert (result.ok, result.line, result.reason) == (
        False,
        2,
        "line 2 is not a well-formed entry: the key 'actor' appears twice",
    )


def test_verify_and_head_commands_name_the_tampered_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from attribution.cli.main import main

    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("ATTRIBUTION_AUDIT_LOG", str(log))
    _fill(log, 2)
    with log.open("ab") as handle:
        handle.write(b'{"seq": 3, "details": NaN}\n')
    assert main(["audit", "verify"]) == 4
    assert capsys.readouterr().out == (
        f"{log}: chain broken at line 3: line 3 is not a well-formed entry: it holds NaN, "
        "which JSON does not allow\n"
    )
    assert main(["audit", "head"]) == 4
    assert capsys.readouterr().err == (
        f"attribution audit: {log}: line 3 is not a well-formed entry: it holds NaN, which JSON "
        "does not allow; run `attribution audit verify`\n"
    )
    log.write_text("".join(_lines(log)[:1]))
    assert main(["audit", "verify"]) == 4
    assert "chain broken at line 2: anchor file" in capsys.readouterr().out
