"""Indicator files submitted by pipelines: kept on disk, recorded, and loaded in the background.

A submission is saved first (``<state>/uploads/<job id>/<name>``, fsync'd, 0600), audited,
then recorded as a *queued* job in ``<state>/jobs.sqlite3``, and only then answered. One
runner thread takes the jobs in order and loads each through
:func:`attribution.ingest.ingest_paths`, the function ``attribution ingest`` calls, so the
same parsers and the same metadata-only guard decide what lands; the job keeps the summary
``attribution ingest --json`` would print, with the submitted name in place of the upload's
path. The upload is deleted once its job is done or failed.

Nothing accepted is lost: a job the service was running or had not started when it stopped
is queued again at the next start and run again (loading a file twice leaves the same graph).
When the graph is unavailable a job waits in the queue and is tried again later.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from neo4j.exceptions import ServiceUnavailable, SessionExpired, TransientError

from attribution import audit
from attribution.audit import AuditError
from attribution.db import iso_utc
from attribution.ingest import Submitter, ingest_paths
from attribution.intake.detect import UnknownFormat
from attribution.service.config import private_dir
from attribution.service.context import ServiceContext
from attribution.service.principals import Principal, PrincipalError
from attribution.service.sqlite import create_private, transaction

__all__ = [
    "Job",
    "JobRunner",
    "JobStore",
    "Upload",
    "rewrite_names",
    "runner",
    "safe_relative_path",
    "start",
    "stop",
    "submit",
]

log = logging.getLogger("attribution.service.jobs")

STATUSES = ("queued", "running", "done", "failed")
RETRY_AFTER_S = 30.0
"""How long a job waits after the graph was unavailable before it is tried again."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    principal TEXT NOT NULL,
    name TEXT NOT NULL,
    format TEXT,
    upload TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    status TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    finished_at TEXT,
    result TEXT,
    error TEXT
)
"""


@dataclass(frozen=True)
class Job:
    """One submitted file and where its load stands."""

    id: str
    principal: str
    name: str
    format: str | None
    upload: str
    """The upload's path inside the uploads folder."""
    sha256: str
    bytes: int
    status: str
    submitted_at: str
    finished_at: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The job as the API shows it (the upload's path stays inside the service)."""
        body: dict[str, Any] = {
            "job_id": self.id,
            "status": self.status,
            "name": self.name,
            "format": self.format,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "submitted_at": self.submitted_at,
            "finished_at": self.finished_at,
            "links": {"self": f"/api/v1/jobs/{self.id}"},
        }
        if self.result is not None:
            body["result"] = self.result
        if self.error is not None:
            body["error"] = self.error
        return body


def safe_relative_path(name: str) -> PurePosixPath:
    """A relative path for the upload, kept from the submitted name's last parts so that
    format detection sees what it would see in a user's file name (a ``trails`` folder, an
    ``allowlist`` in the name); nothing in it can leave the job's folder."""
    parts = [_UNSAFE.sub("_", p).strip("._") for p in name.replace("\\", "/").split("/")]
    kept = [p[:100] for p in parts if p][-4:]
    return PurePosixPath(*kept) if kept else PurePosixPath("upload")


def rewrite_names(summary: Mapping[str, Any], upload: Path, name: str) -> dict[str, Any]:
    """An ingest summary with the upload's path and file name replaced by the submitted
    ones, as ``attribution ingest --json`` prints it for a file of that name."""
    base = PurePosixPath(name.replace("\\", "/")).name or name
    names = {str(upload): name, upload.name: base}

    def text(value: Any) -> Any:
        return value.replace(str(upload), name) if isinstance(value, str) else value

    rejected = [
        {
            **r,
            "file": names.get(r["file"], text(r["file"])),
            "value": text(r["value"]),
            "reason": text(r["reason"]),
        }
        for r in summary["rejected"]
    ]
    files = {names.get(key, text(key)): value for key, value in summary["files"].items()}
    return {**summary, "rejected": rejected, "files": files}


class JobStore:
    """Jobs in one SQLite file (0600), in the order they were submitted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        create_private(path, _SCHEMA)

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path)

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        values = dict(row)
        values.pop("seq")
        values["result"] = json.loads(values["result"]) if values["result"] else None
        return Job(**values)

    def add(self, job: Job) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO jobs (id, principal, name, format, upload, sha256, bytes, status, "
                "submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.principal,
                    job.name,
                    job.format,
                    job.upload,
                    job.sha256,
                    job.bytes,
                    job.status,
                    job.submitted_at,
                ),
            )

    def get(self, job_id: str) -> Job | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def next_queued(self) -> Job | None:
        with self._db() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1"
            ).fetchone()
        return self._job(row) if row else None

    def set_status(self, job_id: str, status: str) -> None:
        with self._db() as db:
            db.execute("UPDATE jobs SET status = ? WHERE id = ?", (status, job_id))

    def finish(
        self,
        job_id: str,
        status: str,
        finished_at: str,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        payload = json.dumps(result, ensure_ascii=False) if result is not None else None
        with self._db() as db:
            db.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, result = ?, error = ? WHERE id = ?",
                (status, finished_at, payload, error, job_id),
            )

    def requeue_unfinished(self) -> int:
        """Queue again the jobs a stopped service left running; returns how many."""
        with self._db() as db:
            return db.execute("UPDATE jobs SET status = 'queued' WHERE status = 'running'").rowcount

    def queued_ids(self) -> set[str]:
        with self._db() as db:
            rows = db.execute("SELECT id FROM jobs WHERE status = 'queued'").fetchall()
        return {row["id"] for row in rows}


class Upload:
    """A submitted file being written to its job's folder: 0600, hashed as it arrives,
    fsync'd (with its folders) when complete."""

    def __init__(self, uploads_dir: Path, job_id: str, name: str) -> None:
        self.job_dir = uploads_dir / job_id
        self.relative = safe_relative_path(name)
        self.path = self.job_dir / self.relative
        private_dir(uploads_dir)
        self.job_dir.mkdir(mode=0o700)  # a new job id: an existing folder is an error
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._handle = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self.bytes = 0

    def write(self, chunk: bytes) -> None:
        self._handle.write(chunk)
        self._digest.update(chunk)
        self.bytes += len(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def complete(self) -> None:
        """Flush the file to disk, and the folder entries that name it."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        folder = self.path.parent
        while True:
            _fsync_dir(folder)
            if folder == self.job_dir.parent:
                break
            folder = folder.parent

    def discard(self) -> None:
        self._handle.close()
        shutil.rmtree(self.job_dir, ignore_errors=True)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JobRunner:
    """One thread that loads queued jobs in order; :meth:`stop` lets the current one finish."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.store = JobStore(ctx.config.jobs_db)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="indicator-jobs", daemon=True)

    def start(self) -> None:
        """Queue again what a stopped service left unfinished, drop uploads no queued job
        needs (finished, or never answered), and start the thread."""
        uploads = private_dir(self.ctx.config.uploads_dir)
        requeued = self.store.requeue_unfinished()
        queued = self.store.queued_ids()
        for folder in uploads.iterdir():
            if folder.name not in queued:
                shutil.rmtree(folder, ignore_errors=True)
        if queued:
            log.info("%d indicator jobs queued (%d were running)", len(queued), requeued)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            job = self.store.next_queued()
            if job is None:
                self._wake.wait()
                self._wake.clear()
            elif not self._run(job):
                self._wake.wait(RETRY_AFTER_S)
                self._wake.clear()

    def _submitter(self, job: Job) -> Submitter:
        """The job's principal, as the actor of the audit entries its labels get."""
        try:
            role = self.ctx.principals.get(job.principal).role
        except PrincipalError:
            role = "unknown"
        return Submitter(job.principal, role, self.ctx.settings.audit_log, job.name)

    def _run(self, job: Job) -> bool:
        """Load one job; False when the graph was unavailable and the job waits again."""
        self.store.set_status(job.id, "running")
        job_dir = self.ctx.config.uploads_dir / job.id
        upload = job_dir / job.upload
        status, result, error = "done", None, None
        try:
            summary = ingest_paths(
                self.ctx.graph, [upload], fmt=job.format, submitter=self._submitter(job)
            )
            result = rewrite_names(summary.as_dict(), upload, job.name)
        except (ServiceUnavailable, SessionExpired, TransientError) as exc:
            log.warning("job %s waits: the graph is unavailable (%s)", job.id, exc)
            self.store.set_status(job.id, "queued")
            return False
        except UnknownFormat as exc:
            status, error = "failed", str(exc).replace(str(upload), job.name)
        except AuditError as exc:
            status, error = "failed", f"the labels were not recorded in the audit log: {exc}"
        except Exception:  # a bug must fail its job, not stop the runner and every later job
            log.exception("job %s failed", job.id)
            status, error = "failed", "the load failed unexpectedly; the error is in the log"
        finished = iso_utc(self.ctx.clock())
        self.store.finish(job.id, status, finished, result, error)
        shutil.rmtree(job_dir, ignore_errors=True)
        return True


def submit(
    ctx: ServiceContext,
    principal: Principal,
    upload: Upload,
    job_id: str,
    name: str,
    fmt: str | None,
) -> Job:
    """Record a saved upload as a queued job, after its audit entry; wake the runner.

    Raises :class:`attribution.audit.AuditError` (nothing recorded) when the entry cannot
    be written.
    """
    details = {"role": principal.role, "name": name, "sha256": upload.sha256, "bytes": upload.bytes}
    audit.append(principal.name, "indicators.submit", job_id, details, path=ctx.settings.audit_log)
    job = Job(
        id=job_id,
        principal=principal.name,
        name=name,
        format=fmt,
        upload=upload.relative.as_posix(),
        sha256=upload.sha256,
        bytes=upload.bytes,
        status="queued",
        submitted_at=iso_utc(ctx.clock()),
    )
    runner(ctx).store.add(job)
    runner(ctx).wake()
    return job


def runner(ctx: ServiceContext) -> JobRunner:
    """The context's job runner (made, not started, when the area has not started it)."""
    found = ctx.extensions.get("jobs")
    if not isinstance(found, JobRunner):
        found = ctx.extensions["jobs"] = JobRunner(ctx)
    return found


def start(ctx: ServiceContext) -> None:
    runner(ctx).start()


def stop(ctx: ServiceContext) -> None:
    found = ctx.extensions.get("jobs")
    if isinstance(found, JobRunner):
        found.stop()
