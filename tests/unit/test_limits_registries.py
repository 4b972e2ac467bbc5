"""The registry table, its documentation, and how results that wait for a quota are recorded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from attribution.observations_to_rows import deferred_until, enrichment_state, needs_retry
from enrichment.config import DEFAULT_RATE_LIMIT, EnrichmentConfig, RateLimit
from enrichment.failures import FailureKind, Outcome, QuotaExhausted, TransientError
from enrichment.http import decode_json_answer
from enrichment.observations import EnrichmentResults, SourceResult, result_from_error
from enrichment.registries import REGISTRIES, registry_table
from enrichment.whois_client import check_over_limit

DOC = Path(__file__).resolve().parents[2] / "docs" / "registry-limits.md"
MIDNIGHT = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def test_the_documented_table_is_the_code_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("| Registry |")
    end = text.index("<!-- end of generated table -->")
    table = registry_table(
        default_rate=DEFAULT_RATE_LIMIT.rate, default_burst=DEFAULT_RATE_LIMIT.burst
    )
    assert text[start:end].strip() == table.strip()


def test_every_registry_names_its_source_and_hosts_are_unique() -> None:
    names = [r.name for r in REGISTRIES]
    hosts = [h for r in REGISTRIES for h in r.hosts]
    assert len(names) == len(set(names))
    assert len(hosts) == len(set(hosts))
    assert all(r.source for r in REGISTRIES)
    lacnic = next(r for r in REGISTRIES if r.name == "LACNIC")
    assert (lacnic.requests, lacnic.period, lacnic.burst) == (5, 60.0, 1)
    ripe = next(r for r in REGISTRIES if r.name == "RIPE")
    assert ripe.daily_quota == 500


def test_requests_are_charged_to_registries_by_host() -> None:
    config = EnrichmentConfig()
    assert config.registry_for("rdap.db.ripe.net", 443).name == "RIPE"
    assert config.registry_for("whois.ripe.net", 43).name == "RIPE"
    assert config.registry_for("whois.lacnic.net", 43).name == "LACNIC"
    assert config.registry_for("x", 53, "Team Cymru DNS").name == "Team Cymru DNS"
    other = config.registry_for("rdap.nic.example", 443)
    assert (other.name, other.rate, other.burst, other.daily_quota) == (
        "rdap.nic.example", 1.0, 2, None,
    )  # fmt: skip
    assert config.rate_limit_for("rdap.lacnic.net") == RateLimit(5 / 60, 1)


def test_the_sandbox_registries_keep_to_the_published_limits(tmp_path: Path) -> None:
    endpoints = {
        "dns_host": "127.0.0.1",
        "dns_port": 5353,
        "rdap_base_url": "http://127.0.0.1:8080/",
        "rdap_bootstrap_url": "http://127.0.0.1:8080/bootstrap/",
        "whois_host": "127.0.0.1",
        "whois_port": 4343,
        "data_dir": str(tmp_path),
        "limits": {"rdap": {"requests": 10, "seconds": 1.0, "burst": 2}, "whois": None},
    }
    config = EnrichmentConfig.from_sandbox(endpoints)
    rdap = config.registry_for("127.0.0.1", 8080)
    whois = config.registry_for("127.0.0.1", 4343)
    # The client keeps to 90% of the published rate, one request at a time.
    assert (rdap.name, round(rdap.rate, 9), rdap.burst) == ("sandbox-rdap", 9.0, 1)
    assert (whois.name, whois.rate, whois.burst) == ("sandbox-whois", 500.0, 50)


def test_over_limit_answers_are_marked() -> None:
    with pytest.raises(TransientError) as http_429:
        decode_json_answer("u", 429, {"Retry-After": "7"}, b"")
    assert (http_429.value.over_limit, http_429.value.retry_after) == (True, 7.0)
    with pytest.raises(TransientError) as http_403:
        decode_json_answer("u", 403, {"Retry-After": "3"}, b"")
    assert (http_403.value.over_limit, http_403.value.retry_after) == (True, 3.0)
    with pytest.raises(Exception) as plain_403:
        decode_json_answer("u", 403, {}, b"")
    assert not isinstance(plain_403.value, TransientError) and plain_403.value.over_limit
    with pytest.raises(TransientError) as whois:
        check_over_limit("w:43", b"% rate limit exceeded; retry after 4 seconds\n", 60.0)
    assert (whois.value.over_limit, whois.value.retry_after) == (True, 4.0)
    with pytest.raises(TransientError) as ripe:
        check_over_limit("w:43", b"%ERROR:201: access denied for 192.0.2.1\n", 60.0)
    assert ripe.value.retry_after == 60.0
    check_over_limit("w:43", b"Domain Name: example.jp\n", 60.0)  # an answer passes


def _deferred(source: str, resume: dt.datetime) -> SourceResult:
    return result_from_error(source, "s", QuotaExhausted("RIPE", resume.timestamp()))


def test_a_spent_quota_defers_the_node_whatever_else_happened() -> None:
    later = MIDNIGHT + dt.timedelta(days=1)
    deferred = _deferred("ip_rdap", MIDNIGHT)
    assert (deferred.outcome, deferred.failure_kind, deferred.deferred_until) == (
        Outcome.FAILED, FailureKind.DEFERRED, MIDNIGHT,
    )  # fmt: skip
    assert deferred.reason == "quota of RIPE spent until 2026-11-30T00:00:00Z"
    ok = SourceResult("dns", "s", Outcome.OK)
    transient = SourceResult("asn", "s", Outcome.FAILED, (), "t", FailureKind.TRANSIENT)
    results = EnrichmentResults("s", (ok, deferred, transient, _deferred("x", later)))
    state, failures = enrichment_state(results)
    assert state == "deferred"
    assert failures == [
        "ip_rdap: quota of RIPE spent until 2026-11-30T00:00:00Z",
        "asn: t",
        "x: quota of RIPE spent until 2026-12-01T00:00:00Z",
    ]
    assert deferred_until(results) == later
    assert deferred_until(EnrichmentResults("s", (ok, transient))) is None
    assert enrichment_state(EnrichmentResults("s", (ok, transient)))[0] == "partial"
    assert not needs_retry(EnrichmentResults("s", (ok, deferred)))
