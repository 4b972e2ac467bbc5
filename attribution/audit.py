"""The audit log: a hash-chained JSON Lines file of everything the approval process relies on.

Every report generation, approval request, reviewer decision and label change is appended as
one line. Each entry holds ``seq`` (1, 2, 3, ...), ``time`` (UTC, ISO 8601), ``actor``,
``action``, ``subject``, ``details``, ``prev_hash`` (the ``hash`` of the entry before it; 64
zeros for the first) and ``hash``: the SHA-256 hex digest of the RFC 8785 canonical JSON of the
entry without its ``hash`` field. Editing, deleting or reordering any entry therefore breaks the
chain at that entry, and :func:`verify` names the first broken one.

Deleting entries from the *end* leaves a shorter chain that is still valid. To detect that,
record the head (``attribution audit head``: the last seq and hash) somewhere the log's writers
cannot change, and pass it back as ``expect_head``; verification then fails unless the log
still contains that entry unchanged.

Appends take an exclusive ``fcntl`` lock on the file for the read-last-entry-then-write step,
so concurrent processes on one host extend the chain one after another without forking it.

The file is ``<settings.home>/audit.jsonl``; ``ATTRIBUTION_AUDIT_LOG`` overrides the path.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785

from attribution.settings import Settings, load_settings

__all__ = [
    "GENESIS_HASH",
    "AuditVerification",
    "append",
    "audit_log_path",
    "entry_hash",
    "head",
    "read_entries",
    "verify",
]

GENESIS_HASH = "0" * 64
ENTRY_FIELDS = ("seq", "time", "actor", "action", "subject", "details", "prev_hash", "hash")


def audit_log_path(settings: Settings | None = None) -> Path:
    """Where the log lives: ``$ATTRIBUTION_AUDIT_LOG`` or ``<home>/audit.jsonl``
    (:attr:`attribution.settings.Settings.audit_log`)."""
    return (settings or load_settings()).audit_log


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of the entry without its ``hash`` field."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _last_line(handle: Any) -> bytes | None:
    """The last non-empty line of a binary file opened for reading, read from the end."""
    handle.seek(0, os.SEEK_END)
    end = handle.tell()
    if end == 0:
        return None
    block = 4096
    data = b""
    position = end
    while position > 0:
        step = min(block, position)
        position -= step
        handle.seek(position)
        data = handle.read(step) + data
        stripped = data.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    stripped = data.rstrip(b"\n")
    return stripped or None


def append(
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    *,
    path: Path | None = None,
    time: str | None = None,
) -> dict[str, Any]:
    """Append one entry to the chain and return it (with its seq and hash).

    ``details`` must be JSON data (strings, numbers, booleans, None, lists, dicts). Raises
    ValueError when the current last line is not a readable entry: the chain must be repaired
    (or verified) before anything is added to it.
    """
    target = path or audit_log_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            last = _last_line(handle)
            if last is None:
                seq, prev_hash = 1, GENESIS_HASH
            else:
                try:
                    previous = json.loads(last)
                    seq, prev_hash = int(previous["seq"]) + 1, str(previous["hash"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise ValueError(
                        f"{target}: the last line is not an audit entry ({exc}); "
                        "run `attribution audit verify`"
                    ) from exc
            entry: dict[str, Any] = {
                "seq": seq,
                "time": time or _now(),
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": dict(details or {}),
                "prev_hash": prev_hash,
            }
            entry["hash"] = entry_hash(entry)
            line = rfc8785.dumps(entry) + b"\n"
            handle.seek(0, os.SEEK_END)
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return entry


def read_entries(path: Path | None = None) -> list[dict[str, Any]]:
    """Every entry of the log, in file order (no verification)."""
    target = path or audit_log_path()
    if not target.exists():
        return []
    out = []
    for line in target.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


@dataclass(frozen=True)
class AuditVerification:
    """The outcome of checking the chain; ``line`` and ``seq`` name the first broken entry."""

    ok: bool
    entries: int
    head_seq: int | None
    head_hash: str | None
    reason: str | None = None
    line: int | None = None
    seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "reason": self.reason,
            "line": self.line,
            "seq": self.seq,
        }


def verify(path: Path | None = None, *, expect_head: str | None = None) -> AuditVerification:
    """Check every entry's hash and link; report the first break.

    ``expect_head`` is a previously recorded head hash (optionally written ``SEQ:HASH``): the
    log must still contain that entry, which detects a truncated tail.
    """
    target = path or audit_log_path()
    if not target.exists():
        lines: list[str] = []
    else:
        lines = target.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
    prev_hash = GENESIS_HASH
    expected_seq = 1
    seen_hashes: dict[str, int] = {}
    count = 0

    def broken(reason: str, line_no: int, seq: int | None) -> AuditVerification:
        return AuditVerification(
            ok=False,
            entries=count,
            head_seq=expected_seq - 1 if count else None,
            head_hash=prev_hash if count else None,
            reason=reason,
            line=line_no,
            seq=seq,
        )

    for line_no, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            return broken(f"line {line_no} is not JSON ({exc.msg})", line_no, None)
        if not isinstance(entry, dict) or set(entry) != set(ENTRY_FIELDS):
            return broken(f"line {line_no} does not have the audit entry fields", line_no, None)
        seq = entry["seq"]
        if entry["hash"] != entry_hash(entry):
            return broken(
                f"entry seq {seq} (line {line_no}) was altered: its hash does not match its content",
                line_no,
                seq,
            )
        if seq != expected_seq:
            return broken(
                f"entry seq {seq} (line {line_no}) is out of sequence: expected seq {expected_seq} "
                "(an entry was deleted or entries were reordered)",
                line_no,
                seq,
            )
        if entry["prev_hash"] != prev_hash:
            return broken(
                f"entry seq {seq} (line {line_no}) does not link to the entry before it",
                line_no,
                seq,
            )
        prev_hash = entry["hash"]
        seen_hashes[prev_hash] = seq
        expected_seq += 1
        count += 1
    result = AuditVerification(
        ok=True,
        entries=count,
        head_seq=expected_seq - 1 if count else None,
        head_hash=prev_hash if count else None,
    )
    if expect_head:
        anchor_seq, _, anchor_hash = expect_head.rpartition(":")
        if anchor_hash not in seen_hashes or (
            anchor_seq and str(seen_hashes[anchor_hash]) != anchor_seq
        ):
            return AuditVerification(
                ok=False,
                entries=count,
                head_seq=result.head_seq,
                head_hash=result.head_hash,
                reason=f"the recorded head {expect_head} is no longer in the log "
                "(entries were removed from its end, or it was rewritten)",
                line=count + 1 if count else 1,
                seq=int(anchor_seq) if anchor_seq.isdigit() else None,
            )
    return result


def head(path: Path | None = None) -> tuple[int, str] | None:
    """The last entry's seq and hash (unverified), or None for an empty log."""
    entries = read_entries(path)
    if not entries:
        return None
    return int(entries[-1]["seq"]), str(entries[-1]["hash"])
