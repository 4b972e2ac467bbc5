"""Pipelines submit indicator files: 202 and a job, loaded in the background through the
same function as ``attribution ingest``, reported line by line as the CLI reports them, and
never lost when the service stops with work queued."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from conftest import LiveService, start_service, stop_service

from attribution import audit
from attribution.db import Graph
from attribution.ingest import ingest_paths
from attribution.service import jobs
from attribution.service.app import build_context
from attribution.service.config import load_service_config
from attribution.service.routes import indicators

GOOD_1 = {
    "src_ip": "10.0.0.5",
    "dst_ip": "203.0.113.9",
    "dst_port": 443,
    "protocol": "tcp",
    "first_seen": "2026-03-01T00:00:00Z",
    "last_seen": "2026-03-01T00:00:10Z",
    "packets": 10,
    "bytes": 1500,
}
GOOD_2 = {**GOOD_1, "dst_ip": "198.51.100.20", "dst_port": 53, "protocol": "udp", "bytes": 80}
MIXED = (
    "\n".join(
        [
            json.dumps(GOOD_1),
            "{not json",
            json.dumps({**GOOD_1, "src_ip": "10.0.0.6", "bytes": 2**63}),
            json.dumps({**GOOD_1, "src_ip": "10.0.0.7", "payload": "R0VUIC8gSFRUUC8xLjE="}),
            json.dumps(GOOD_2),
            json.dumps({**GOOD_1, "src_ip": "10.0.0.8", "note": "x" * 5000}),
        ]
    )
    + "\n"
)
NAME = "partner-a/flows.jsonl"


def wait_for(service: LiveService, who: str, job_id: str, url: str | None = None) -> Any:
    """The job once it is done or failed (the runner is one thread; 60 s is ample)."""
    client = service.client(who)
    deadline = time.monotonic() + 60
    while True:
        answer = client.get(f"{url or service.url}/api/v1/jobs/{job_id}", timeout=10)
        assert answer.status_code == 200, answer.text
        if answer.json()["status"] in ("done", "failed"):
            return answer.json()
        assert time.monotonic() < deadline, answer.json()
        time.sleep(0.05)


def submit(service: LiveService, body: bytes, **params: str) -> Any:
    answer = service.client("pia").post(
        service.api("/indicators"),
        data=body,
        params=params,
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    return answer


def contacts(graph: Graph) -> list[dict[str, Any]]:
    return graph.read(
        "MATCH (a:IPAddress)-[r:CONTACTED]->(b:IPAddress) RETURN a.address AS src, "
        "b.address AS dst, r.dst_port AS port, r.bytes AS bytes ORDER BY src, dst"
    )


def test_a_mixed_file_is_reported_as_the_cli_reports_it(
    live_service: LiveService, graph: Graph, tmp_path: Path
) -> None:
    answer = submit(live_service, MIXED.encode(), name=NAME)
    job_id = answer.json()["job_id"]
    assert answer.json() == {
        "job_id": job_id,
        "status": "queued",
        "links": {"self": f"/api/v1/jobs/{job_id}"},
    }
    assert answer.headers["Location"] == f"/api/v1/jobs/{job_id}"

    job = wait_for(live_service, "pia", job_id)
    expected = {
        "accepted": 2,
        "rejected": [
            {
                "file": "flows.jsonl",
                "line": 2,
                "field": None,
                "value": "{not json",
                "reason": "not JSON (Expecting property name enclosed in double quotes)",
            },
            {
                "file": "flows.jsonl",
                "line": 3,
                "field": "bytes",
                "value": str(2**63),
                "reason": f"must be at most {2**63 - 1} (a signed 64-bit integer)",
            },
            {
                "file": "flows.jsonl",
                "line": 4,
                "field": "payload",
                "value": "(value withheld: possible communication content)",
                "reason": "refused whole by the metadata-only guard: field 'payload' carries "
                "communication content; nothing of this record is kept",
            },
            {
                "file": "flows.jsonl",
                "line": 6,
                "field": None,
                "value": MIXED.splitlines()[5][:200] + "...",
                "reason": "line longer than 4096 bytes",
            },
        ],
        "files": {NAME: {"format": "flows", "accepted": 2, "rejected": 4}},
        "written": {"CONTACTED": 2, "IPAddress": 3},
    }
    assert job["result"] == expected
    assert {k: job[k] for k in ("status", "name", "format", "bytes", "sha256")} == {
        "status": "done",
        "name": NAME,
        "format": None,
        "bytes": len(MIXED.encode()),
        "sha256": hashlib.sha256(MIXED.encode()).hexdigest(),
    }
    assert contacts(graph) == [
        {"src": "10.0.0.5", "dst": "198.51.100.20", "port": 53, "bytes": 80},
        {"src": "10.0.0.5", "dst": "203.0.113.9", "port": 443, "bytes": 1500},
    ]

    # The CLI's own function on the same file, under the same name, reports the same lines.
    local = tmp_path / "partner-a" / "flows.jsonl"
    local.parent.mkdir()
    local.write_text(MIXED)
    cli = ingest_paths(graph, [local]).as_dict()
    assert cli["accepted"] == expected["accepted"]
    assert cli["rejected"] == expected["rejected"]
    assert cli["files"] == {str(local): expected["files"][NAME]}
    assert contacts(graph)[1]["bytes"] == 1500  # loading it again summed nothing twice

    entry = audit.read_entries(live_service.ctx.settings.audit_log)[-1]
    assert {k: entry[k] for k in ("actor", "action", "subject", "details")} == {
        "actor": "pia",
        "action": "indicators.submit",
        "subject": job_id,
        "details": {
            "role": "pipeline",
            "name": NAME,
            "sha256": hashlib.sha256(MIXED.encode()).hexdigest(),
            "bytes": len(MIXED.encode()),
        },
    }
    assert not (live_service.ctx.config.uploads_dir / job_id).exists()


def test_a_multipart_file_keeps_its_name_and_format_can_be_forced(
    live_service: LiveService, graph: Graph
) -> None:
    client = live_service.client("pia")
    files = {"file": ("feed.csv", b"evil.example\n", "text/csv")}
    first = client.post(live_service.api("/indicators"), files=files, timeout=10)
    assert first.status_code == 202, first.text
    job = wait_for(live_service, "pia", first.json()["job_id"])
    assert job["result"]["accepted"] == 0
    assert job["result"]["rejected"] == [
        {
            "file": "feed.csv",
            "line": 0,
            "field": None,
            "value": "",
            "reason": "file refused: feed.csv: cannot tell the intake format from the content; "
            "give --format, one of: list, csv, stix, incident, flows, passive-dns, rdap, "
            "trails, allowlist, misp-warninglists",
        }
    ]
    forced = client.post(
        live_service.api("/indicators"), files=files, params={"format": "list"}, timeout=10
    )
    job = wait_for(live_service, "pia", forced.json()["job_id"])
    assert (job["format"], job["result"]["accepted"], job["result"]["files"]) == (
        "list",
        1,
        {"feed.csv": {"format": "list", "accepted": 1, "rejected": 0}},
    )
    assert graph.read("MATCH (d:Domain {indicator: true}) RETURN d.name AS name") == [
        {"name": "evil.example"}
    ]


def test_bad_submissions_are_refused_naming_the_field(live_service: LiveService) -> None:
    client = live_service.client("pia")
    unknown = client.post(
        live_service.api("/indicators"), data=b"x.example\n", params={"format": "yaml"}, timeout=10
    )
    assert unknown.status_code == 422
    assert unknown.json()["details"] == [
        {
            "field": "format",
            "reason": "unknown format 'yaml'; one of: list, csv, stix, incident, flows, "
            "passive-dns, rdap, trails, allowlist",
        }
    ]
    empty = client.post(live_service.api("/indicators"), data=b"", timeout=10)
    assert (empty.status_code, empty.json()["details"][0]["field"]) == (422, "body")
    no_file = client.post(live_service.api("/indicators"), files={"other": ("a", b"b")})
    assert (no_file.status_code, no_file.json()["details"][0]["field"]) == (422, "file")
    assert list(live_service.ctx.config.uploads_dir.iterdir()) == []


def test_jobs_belong_to_their_pipeline_and_analysts_cannot_submit(
    live_service: LiveService,
) -> None:
    live_service.add("pete", "pipeline")
    job_id = submit(live_service, b"evil.example\n").json()["job_id"]
    other = live_service.client("pete").get(live_service.api(f"/jobs/{job_id}"), timeout=10)
    assert (other.status_code, other.json()["message"]) == (
        404,
        f"no job {job_id} submitted by pete",
    )
    analyst = live_service.client("ana")
    refused = analyst.post(live_service.api("/indicators"), data=b"evil.example\n", timeout=10)
    assert (refused.status_code, refused.json()["message"]) == (
        403,
        "ana (analyst) may not do this; it needs: pipeline",
    )
    assert analyst.get(live_service.api(f"/jobs/{job_id}"), timeout=10).status_code == 403


def test_queued_and_interrupted_jobs_run_after_a_restart(
    live_service: LiveService, graph: Graph
) -> None:
    ctx = live_service.ctx
    indicators.stop(ctx)  # the runner stops, as in a service that is going down
    waiting = submit(live_service, b"queued.example\n", name="a.txt").json()["job_id"]
    cut = submit(live_service, b"cut.example\n", name="b.txt").json()["job_id"]
    store = jobs.runner(ctx).store
    store.set_status(cut, "running")  # as if the process had died in the middle of it
    shown = live_service.client("pia").get(live_service.api(f"/jobs/{waiting}"), timeout=10)
    assert shown.json()["status"] == "queued"
    assert graph.read("MATCH (d:Domain {indicator: true}) RETURN d.name AS name") == []

    config = load_service_config(ctx.config.state_dir)
    restarted = build_context(ctx.settings, config, graph=ctx.graph, clock=ctx.clock)
    url, running = start_service(restarted)
    try:
        for job_id in (waiting, cut):
            job = wait_for(live_service, "pia", job_id, url=url)
            assert (job["status"], job["result"]["accepted"]) == ("done", 1)
    finally:
        stop_service(running)
    assert graph.read("MATCH (d:Domain {indicator: true}) RETURN d.name AS name ORDER BY name") == [
        {"name": "cut.example"},
        {"name": "queued.example"},
    ]
    assert list(config.uploads_dir.iterdir()) == []


def test_labels_in_a_submitted_file_are_audited_as_the_pipeline(
    live_service: LiveService,
) -> None:
    job_id = submit(live_service, b"good.example\n", name="partner-b/allowlist.txt").json()[
        "job_id"
    ]
    assert wait_for(live_service, "pia", job_id)["result"]["accepted"] == 1
    entries = audit.read_entries(live_service.ctx.settings.audit_log)
    labelled = [e for e in entries if e["action"] == "label.ingest"]
    assert [(e["actor"], e["subject"], e["details"]["role"]) for e in labelled] == [
        ("pia", "partner-b/allowlist.txt", "pipeline")
    ]
    assert labelled[0]["details"]["labels"] == 1
