"""The audit log: a hash-chained JSON Lines file of everything the approval process relies on.

Every report generation, approval request, reviewer decision and label change is appended as
one line. Each entry holds ``seq`` (1, 2, 3, ...), ``time`` (UTC, ISO 8601), ``actor``,
``action``, ``subject``, ``details``, ``prev_hash`` (the ``hash`` of the entry before it; 64
zeros for the first) and ``hash``: the SHA-256 hex digest of the RFC 8785 canonical JSON of the
entry without its ``hash`` field. Editing, deleting or reordering any entry therefore breaks the
chain at that entry, and :func:`verify` names the first broken one.

Deleting entries from the *end*, or rewriting the whole chain consistently, leaves a chain that
is valid in itself. To detect that, every append also *anchors* the new head (its seq and hash)
outside the log: in an anchor file of its own (``<anchor dir>/<key of the log's path>.json``,
the directory from :attr:`attribution.settings.AuditSettings.anchor_dir`) and, when
``ATTRIBUTION_AUDIT_ANCHOR_COMMAND`` is set, by running that command with ``SEQ:HASH`` as its
last argument (to send the head to a host the log's writers cannot reach). ``attribution audit
verify`` checks the log against its anchor file (:func:`recorded_anchors`), and a head recorded
by hand (``attribution audit head``) can still be passed as ``expect_head``: verification fails
unless the log still contains each anchored entry unchanged.

An entry is written *before* what it records is done: :func:`append` raises
:class:`AuditError` when it cannot write the entry or its anchor, and callers let that stop the
change. A line that is not valid UTF-8, holds a duplicated key, or a ``NaN`` or ``Infinity``, is
tampering like any other edit: :func:`verify` names its line.

Appends take an exclusive ``fcntl`` lock on the file for the read-last-entry-then-write step,
so concurrent processes on one host extend the chain one after another without forking it.

The file is ``<settings.home>/audit.jsonl``; ``ATTRIBUTION_AUDIT_LOG`` overrides the path.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785

from attribution.settings import Settings, load_settings
from attribution.strict_json import DuplicateKey, no_duplicate_keys

__all__ = [
    "GENESIS_HASH",
    "AuditError",
    "AuditTampered",
    "AuditVerification",
    "anchor_path",
    "append",
    "audit_log_path",
    "entry_hash",
    "head",
    "read_entries",
    "recorded_anchors",
    "verify",
]

GENESIS_HASH = "0" * 64
ENTRY_FIELDS = ("seq", "time", "actor", "action", "subject", "details", "prev_hash", "hash")
ANCHOR_COMMAND_TIMEOUT_S = 30.0


class AuditError(Exception):
    """The log (or its anchor) cannot be written or read: what the entry records must not
    happen. The message names the file and why."""


class AuditTampered(AuditError, ValueError):
    """The log holds a line that is not an audit entry: run ``attribution audit verify``."""


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


def anchor_path(log: Path, settings: Settings | None = None) -> Path:
    """The anchor file of ``log``: one per log, named by a digest of its absolute path, in
    ``ATTRIBUTION_AUDIT_ANCHOR_DIR`` or ``<home>/audit-anchors``."""
    settings = settings or load_settings()
    directory = settings.audit.anchor_dir or settings.home / "audit-anchors"
    key = hashlib.sha256(str(Path(log).absolute()).encode("utf-8")).hexdigest()[:24]
    return directory / f"{key}.json"


def _write_anchor(log: Path, entry: Mapping[str, Any], settings: Settings) -> None:
    """Record ``entry`` as the head of ``log`` in its anchor file (atomically, owner-only)
    and hand it to the anchor command when one is set."""
    target = anchor_path(log, settings)
    body = {"log": str(Path(log).absolute()), "seq": entry["seq"], "hash": entry["hash"]}
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(prefix=".anchor.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(rfc8785.dumps(body) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as exc:
        raise AuditError(
            f"cannot anchor the audit head of {log} in {target.parent}: {exc.strerror or exc}"
        ) from exc
    command = settings.audit.anchor_command
    if command:
        _run_anchor_command(command, f"{entry['seq']}:{entry['hash']}")


def _run_anchor_command(command: str, anchor: str) -> None:
    try:
        done = subprocess.run(
            [*shlex.split(command), anchor],
            capture_output=True,
            timeout=ANCHOR_COMMAND_TIMEOUT_S,
            check=False,
        )
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        raise AuditError(f"the audit anchor command {command!r} could not run ({exc})") from exc
    if done.returncode != 0:
        raise AuditError(
            f"the audit anchor command {command!r} failed with exit code {done.returncode}"
        )


def _next_link(handle: Any, target: Path) -> tuple[int, str]:
    """The seq and prev_hash of the entry to add after the file's last line."""
    last = _last_line(handle)
    if last is None:
        return 1, GENESIS_HASH
    try:
        previous = _strict_json(last)
        return int(previous["seq"]) + 1, str(previous["hash"])
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise AuditTampered(
            f"{target}: the last line is not an audit entry ({exc}); run `attribution audit verify`"
        ) from exc


def append(
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    *,
    path: Path | None = None,
    time: str | None = None,
) -> dict[str, Any]:
    """Append one entry to the chain, anchor the new head, and return the entry.

    ``details`` must be JSON data (strings, numbers, booleans, None, lists, dicts). Raises
    :class:`AuditError` when the entry or its anchor cannot be written (the caller must then
    not do what the entry records), and :class:`AuditTampered` when the current last line is
    not a readable entry: the chain must be repaired (or verified) before anything is added.
    """
    settings = load_settings()
    target = path or settings.audit_log
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
        with os.fdopen(fd, "r+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                seq, prev_hash = _next_link(handle, target)
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
                handle.seek(0, os.SEEK_END)
                handle.write(rfc8785.dumps(entry) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
                _write_anchor(target, entry, settings)
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except OSError as exc:
        raise AuditError(
            f"cannot write the audit log {target}: {exc.strerror or exc}"
            + (f" ({exc.filename})" if exc.filename and str(exc.filename) != str(target) else "")
        ) from exc
    return entry


class _Tampering(ValueError):
    """A line that parses as JSON only by a lenient reading."""


def _no_constant(name: str) -> Any:
    raise _Tampering(f"it holds {name}, which JSON does not allow")


def _strict_json(raw: bytes) -> Any:
    """One line as JSON, refusing what :mod:`json` would otherwise let through: invalid
    UTF-8, duplicated keys, NaN and Infinity. ValueError (or RecursionError) otherwise."""
    text = raw.decode("utf-8")
    return json.loads(text, object_pairs_hook=no_duplicate_keys, parse_constant=_no_constant)


def _parse_line(raw: bytes, line_no: int) -> tuple[Any, str | None]:
    """(the line's JSON value, None) or (None, why the line is not an entry)."""
    try:
        return _strict_json(raw), None
    except UnicodeDecodeError as exc:
        return None, f"line {line_no} holds an invalid UTF-8 byte at column {exc.start + 1}"
    except DuplicateKey as exc:
        return None, f"line {line_no} is not a well-formed entry: the key {exc.key!r} appears twice"
    except _Tampering as exc:
        return None, f"line {line_no} is not a well-formed entry: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"line {line_no} is not JSON ({exc.msg})"
    except RecursionError:
        return None, f"line {line_no} is nested too deeply to be an audit entry"


def _raw_lines(target: Path) -> list[bytes]:
    if not target.exists():
        return []
    lines = target.read_bytes().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def read_entries(path: Path | None = None) -> list[dict[str, Any]]:
    """Every entry of the log, in file order (not verified); :class:`AuditTampered` naming
    the first line that is not a JSON object."""
    target = path or audit_log_path()
    out = []
    for line_no, raw in enumerate(_raw_lines(target), start=1):
        if not raw.strip():
            continue
        entry, problem = _parse_line(raw, line_no)
        if problem is None and not isinstance(entry, dict):
            problem = f"line {line_no} is not a JSON object"
        if problem is not None:
            raise AuditTampered(f"{target}: {problem}; run `attribution audit verify`")
        out.append(entry)
    return out


def recorded_anchors(path: Path | None = None) -> list[tuple[str, str]]:
    """The heads anchored for the log, as (where, ``SEQ:HASH``): its anchor file's, when
    there is one. An unreadable anchor file gives an anchor that matches nothing."""
    settings = load_settings()
    target = path or settings.audit_log
    anchor = anchor_path(target, settings)
    if not anchor.exists():
        return []
    where = f"anchor file {anchor}"
    try:
        body = _strict_json(anchor.read_bytes())
        return [(where, f"{int(body['seq'])}:{body['hash']}")]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return [(where, "unreadable")]


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


def _entry_problem(entry: Any, line_no: int, expected_seq: int, prev_hash: str) -> str | None:
    """Why a parsed line is not the next entry of the chain, or None."""
    if not isinstance(entry, dict) or set(entry) != set(ENTRY_FIELDS):
        return f"line {line_no} does not have the audit entry fields"
    seq = entry["seq"]
    try:
        intact = entry["hash"] == entry_hash(entry)
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        intact = False
    if not intact:
        return f"entry seq {seq} (line {line_no}) was altered: its hash does not match its content"
    if seq != expected_seq:
        return (
            f"entry seq {seq} (line {line_no}) is out of sequence: expected seq {expected_seq} "
            "(an entry was deleted or entries were reordered)"
        )
    if entry["prev_hash"] != prev_hash:
        return f"entry seq {seq} (line {line_no}) does not link to the entry before it"
    return None


def _missing_anchor(
    anchors: Sequence[tuple[str, str]], seen_hashes: Mapping[str, int]
) -> tuple[str, str] | None:
    """The first anchor (where, ``[SEQ:]HASH``) whose entry the log no longer holds."""
    for where, anchor in anchors:
        anchor_seq, _, anchor_hash = anchor.rpartition(":")
        if anchor_hash not in seen_hashes or (
            anchor_seq and str(seen_hashes[anchor_hash]) != anchor_seq
        ):
            return where, anchor
    return None


def verify(
    path: Path | None = None,
    *,
    expect_head: str | None = None,
    anchors: Iterable[tuple[str, str]] = (),
) -> AuditVerification:
    """Check every entry's hash and link; report the first break.

    ``expect_head`` is a previously recorded head hash (optionally written ``SEQ:HASH``), and
    ``anchors`` are more of them, each with where it was recorded (:func:`recorded_anchors`):
    the log must still contain each of those entries, which detects a truncated tail and a
    chain rewritten from some entry on.
    """
    target = path or audit_log_path()
    prev_hash = GENESIS_HASH
    seen_hashes: dict[str, int] = {}
    count = 0

    def outcome(reason: str | None, line_no: int | None, seq: int | None) -> AuditVerification:
        return AuditVerification(
            ok=reason is None,
            entries=count,
            head_seq=count if count else None,
            head_hash=prev_hash if count else None,
            reason=reason,
            line=line_no,
            seq=seq,
        )

    for line_no, raw in enumerate(_raw_lines(target), start=1):
        entry, problem = _parse_line(raw, line_no)
        problem = problem or _entry_problem(entry, line_no, count + 1, prev_hash)
        if problem is not None:
            # Problems of a line name no seq; problems of an entry's content name its seq.
            return outcome(problem, line_no, None if problem.startswith("line") else entry["seq"])
        prev_hash = entry["hash"]
        count += 1
        seen_hashes[prev_hash] = count
    expected = [("the recorded head", expect_head)] if expect_head else []
    missing = _missing_anchor([*expected, *anchors], seen_hashes)
    if missing is None:
        return outcome(None, None, None)
    where, anchor = missing
    anchor_seq = anchor.rpartition(":")[0]
    return outcome(
        f"{where} {anchor} is no longer in the log "
        "(entries were removed from its end, or it was rewritten)",
        count + 1 if count else 1,
        int(anchor_seq) if anchor_seq.isdigit() else None,
    )


def head(path: Path | None = None) -> tuple[int, str] | None:
    """The last entry's seq and hash (unverified), or None for an empty log."""
    entries = read_entries(path)
    if not entries:
        return None
    return int(entries[-1]["seq"]), str(entries[-1]["hash"])
