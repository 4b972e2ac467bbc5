"""Settings, read once from environment variables and one optional TOML file.

Precedence, highest first: environment variables, the TOML file, built-in defaults.
The TOML file is ``$ATTRIBUTION_CONFIG`` or ``./attribution.toml`` when it exists.
Secrets (the Neo4j password, the report signing key) come only from the environment
or from files the local server manager writes with owner-only permissions.

Neo4j's own variable names are used: ``NEO4J_URI``, ``NEO4J_USERNAME``,
``NEO4J_PASSWORD``, ``NEO4J_DATABASE``. When ``NEO4J_URI`` is set the project uses that
server and never starts or downloads one.

Besides the paths, each job's settings form one frozen section:

* :class:`Neo4jSettings` (``[neo4j]``): the server and how to reach it;
* :class:`ReportSettings` (``[reports]``): ``ATTRIBUTION_COLLATERAL_THRESHOLD`` /
  ``collateral_threshold``, ``max_facts``, ``ATTRIBUTION_FRESHNESS_HOURS`` /
  ``freshness_hours``, and the signing key ``ATTRIBUTION_SIGNING_KEY`` (environment only);
* :class:`ApprovalSettings`: ``ATTRIBUTION_REVIEWERS`` / ``[roles] reviewers``, and in
  ``[approvals]`` ``ATTRIBUTION_REPORT_MAX_AGE_DAYS`` / ``report_max_age_days``,
  ``ATTRIBUTION_REQUIRE_SIGNED_REPORTS`` / ``require_signed_reports`` and
  ``ATTRIBUTION_TRUSTED_REPORT_KEYS`` / ``trusted_report_keys``;
* :class:`EnrichmentSettings` (``[enrichment]``): ``ATTRIBUTION_SANDBOX_ENDPOINTS`` /
  ``sandbox_endpoints``, and the real services' overrides (resolver, timeouts, concurrency);
* :class:`AuditSettings` (``[audit]``): ``ATTRIBUTION_AUDIT_ANCHOR_DIR`` / ``anchor_dir`` (where
  each log's head is anchored after every append; default ``<home>/audit-anchors``) and
  ``ATTRIBUTION_AUDIT_ANCHOR_COMMAND`` / ``anchor_command`` (run with ``SEQ:HASH`` after every
  append, e.g. to send the head to another host);
* :class:`ModelSettings` (``[models]``): the key model manifests are signed with,
  ``ATTRIBUTION_MODEL_SIGNING_KEY`` (environment only; default
  ``<home>/keys/model-signing.pem``, generated on first use), ``ATTRIBUTION_REQUIRE_SIGNED_MODELS``
  / ``require_signed`` and ``ATTRIBUTION_TRUSTED_MODEL_KEYS`` / ``trusted_keys``.

``ATTRIBUTION_NEO4J_RETRY_SECONDS`` / ``[neo4j] retry_seconds`` bounds how long the driver
retries a transaction while the server is unreachable (default 60).

The audit log is ``ATTRIBUTION_AUDIT_LOG`` or ``<home>/audit.jsonl``; the user named in audit
entries when a command is not told otherwise is ``ATTRIBUTION_USER`` or the login name.

A value of the wrong kind raises :class:`SettingsError`, naming the variable or TOML key.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parent.parent
NEO4J_VERSION = "5.26.30"
NEO4J_BROWSER_VERSION = "5.24.0"
APOC_VERSION = "5.26.19"

SIGNING_KEY_ENV = "ATTRIBUTION_SIGNING_KEY"
SANDBOX_ENDPOINTS_ENV = "ATTRIBUTION_SANDBOX_ENDPOINTS"
DEFAULT_COLLATERAL_THRESHOLD = 3
DEFAULT_MAX_FACTS = 400
DEFAULT_FRESHNESS_HOURS = 72.0
DEFAULT_REPORT_MAX_AGE_DAYS = 7.0
DEFAULT_NEO4J_RETRY_SECONDS = 60.0
MODEL_SIGNING_KEY_ENV = "ATTRIBUTION_MODEL_SIGNING_KEY"
_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no", ""}

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting holds a value of the wrong kind; the message names where it was set."""


def _default_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "attribution"


def _shared_dir() -> Path:
    return REPO_ROOT.parent / "shared"


@dataclass(frozen=True)
class Neo4jSettings:
    """Where the graph lives and how to reach it."""

    uri: str | None
    username: str
    password: str | None
    database: str
    bolt_port: int
    http_port: int
    heap: str
    pagecache: str
    retry_seconds: float = DEFAULT_NEO4J_RETRY_SECONDS
    """How long the driver retries a transaction (server unreachable, deadlock) before giving up."""

    @property
    def external(self) -> bool:
        """True when the user pointed us at a server we must not manage."""
        return self.uri is not None


@dataclass(frozen=True)
class ReportSettings:
    """How confidence reports are built and signed."""

    collateral_threshold: int = DEFAULT_COLLATERAL_THRESHOLD
    """Co-hosted names not known to be malicious above which an address is a collateral risk."""
    max_facts: int = DEFAULT_MAX_FACTS
    """Evidence facts a report shows (the total is always stated)."""
    freshness_hours: float = DEFAULT_FRESHNESS_HOURS
    """A resolution last seen this long before a report's reference time is no longer current:
    its address is shown in the report but cannot be acted upon."""
    signing_key: Path | None = None
    """PEM Ed25519 private key reports are signed with; unsigned when None."""


@dataclass(frozen=True)
class ApprovalSettings:
    """Who reviews, and which reports a request or decision may rest on."""

    reviewers: frozenset[str] = frozenset()
    report_max_age_days: float = DEFAULT_REPORT_MAX_AGE_DAYS
    require_signed_reports: bool = False
    trusted_report_keys: frozenset[str] = frozenset()
    """Fingerprints (lower-case hex) of the keys reports must be signed with; empty: any."""


@dataclass(frozen=True)
class EnrichmentSettings:
    """Where enrichment sends its questions: a sandbox's endpoints file, or the real services
    with these overrides of their defaults (None keeps the default)."""

    sandbox_endpoints: Path | None = None
    resolver_address: str | None = None
    resolver_port: int | None = None
    dns_lifetime: float | None = None
    rdap_bootstrap_url: str | None = None
    http_timeout: float | None = None
    whois_timeout: float | None = None
    max_concurrency: int | None = None
    node_retry_base: float | None = None
    """Seconds before a node whose sources failed transiently is retried the first time."""
    node_retry_cap: float | None = None
    """The longest wait between a node's retries, in seconds."""
    breaker_failures: int | None = None
    """Failures in a row after which a server's circuit breaker opens."""
    breaker_cooldown: float | None = None
    """Seconds an open breaker keeps requests away from its server."""
    max_retry_after: float | None = None
    """The longest ``Retry-After`` waited for, in seconds; a longer one fails the lookup."""

    def overrides(self) -> dict[str, Any]:
        """The real services' settings that are set, by name."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in _NOT_SERVICE_FIELDS and getattr(self, f.name) is not None
        }

    def failure_policy(self) -> dict[str, Any]:
        """The retry and breaker settings that are set, by name (they apply in sandbox mode
        too)."""
        return {
            name: getattr(self, name)
            for name in _FAILURE_POLICY_FIELDS
            if getattr(self, name) is not None
        }


_FAILURE_POLICY_FIELDS = (
    "node_retry_base",
    "node_retry_cap",
    "breaker_failures",
    "breaker_cooldown",
    "max_retry_after",
)
_NOT_SERVICE_FIELDS = frozenset({"sandbox_endpoints", *_FAILURE_POLICY_FIELDS})


@dataclass(frozen=True)
class AuditSettings:
    """Where the audit chain's head is anchored besides the log itself."""

    anchor_dir: Path | None = None
    """Directory of anchor files (one per log); None: ``<home>/audit-anchors``."""
    anchor_command: str | None = None
    """A command run with ``SEQ:HASH`` appended after every entry; None: none."""


@dataclass(frozen=True)
class ModelSettings:
    """How model manifests are signed at training and checked at loading."""

    signing_key: Path | None = None
    """PEM Ed25519 private key models are signed with; None: ``<home>/keys/model-signing.pem``."""
    require_signed: bool = False
    """Refuse to load a model whose manifest carries no signature."""
    trusted_keys: frozenset[str] = frozenset()
    """Fingerprints (lower-case hex) of the keys a model may be signed with; empty: the
    signing key's own."""


@dataclass(frozen=True)
class RedisSettings:
    """The broker: ``REDIS_URL`` (an existing server; nothing is started), else the managed
    local instance on ``port`` (``attribution redis start``)."""

    url: str | None = None
    port: int = 6390

    @property
    def external(self) -> bool:
        return self.url is not None


@dataclass(frozen=True)
class ClientSettings:
    """Where the command line finds a running service (``attribution serve``), and its token.

    When ``service_url`` is set, the approval commands go through the service, acting as the
    principal the token proves."""

    service_url: str | None = None
    token: str | None = None

    @property
    def configured(self) -> bool:
        return self.service_url is not None


@dataclass(frozen=True)
class Settings:
    """Every knob of the service in one place."""

    home: Path
    neo4j: Neo4jSettings
    warninglists_dir: Path | None
    """A clone of the upstream MISP warninglists; None: the lists bundled with the pinned
    ``pymispwarninglists`` package."""
    fixtures_dir: Path
    models_dir: Path
    audit_log: Path
    min_evidence_families: int = 2
    """Independent evidence families (:mod:`attribution.features.families`) a node needs before
    the classifier may decide about it; written into each model's manifest at training."""
    user: str | None = None
    """``ATTRIBUTION_USER``: who acts, when a command is not told (see :meth:`acting_user`)."""
    reports: ReportSettings = field(default_factory=ReportSettings)
    approvals: ApprovalSettings = field(default_factory=ApprovalSettings)
    enrichment: EnrichmentSettings = field(default_factory=EnrichmentSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    client: ClientSettings = field(default_factory=ClientSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)

    def acting_user(self) -> str:
        """``ATTRIBUTION_USER``, else the login name."""
        return self.user or getpass.getuser()


def _read_toml() -> dict[str, Any]:
    path = Path(os.environ.get("ATTRIBUTION_CONFIG", "attribution.toml"))
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not a valid TOML file ({exc})") from None


def _table(toml: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    table = toml.get(name, {})
    if not isinstance(table, Mapping):
        raise SettingsError(f"[{name}] in the TOML file must be a table")
    return table


_KIND_NAMES: dict[Any, str] = {int: "an integer", float: "a number", str: "a string"}


def _convert(kind: Callable[[Any], T], value: Any, where: str) -> T:
    """``kind(value)``; SettingsError naming ``where`` when the value is not of that kind."""
    problem = f"{where} = {value!r} is not {_KIND_NAMES.get(kind, kind)}"
    if isinstance(value, bool):
        raise SettingsError(problem)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise SettingsError(problem) from None


class _Source:
    """One reading of the environment and the TOML file, with the precedence rule."""

    def __init__(self, env: Mapping[str, str], toml: Mapping[str, Any]) -> None:
        self.env = env
        self.toml = toml

    def value(
        self, kind: Callable[[Any], T], var: str | None, table: str | None, key: str, default: T
    ) -> T:
        """The variable when set and not empty, else the TOML key, else the default."""
        if var is not None and self.env.get(var):
            return _convert(kind, self.env[var], var)
        scope = _table(self.toml, table) if table else self.toml
        if key in scope:
            where = f"[{table}] {key}" if table else key
            return _convert(kind, scope[key], where)
        return default

    def names(self, var: str, table: str, key: str) -> frozenset[str]:
        """A comma-separated variable (set, even empty, it wins) or a TOML list of strings;
        blanks dropped, surrounding spaces stripped."""
        if var in self.env:
            items = self.env[var].split(",")
        else:
            listed = _table(self.toml, table).get(key, [])
            if not isinstance(listed, list) or not all(isinstance(i, str) for i in listed):
                raise SettingsError(f"[{table}] {key} = {listed!r} is not a list of strings")
            items = listed
        return frozenset(item.strip() for item in items if item.strip())

    def flag(self, var: str, table: str, key: str) -> bool:
        """A yes/no variable (set, even empty, it wins) or a TOML boolean; default no."""
        if var in self.env:
            text = self.env[var].strip().lower()
            if text not in _TRUE | _FALSE:
                raise SettingsError(
                    f"{var} = {self.env[var]!r} is not one of 1/true/yes/0/false/no"
                )
            return text in _TRUE
        value = _table(self.toml, table).get(key, False)
        if not isinstance(value, bool):
            raise SettingsError(f"[{table}] {key} = {value!r} is not true or false")
        return value


def _neo4j(src: _Source) -> Neo4jSettings:
    env = src.env
    return Neo4jSettings(
        uri=env.get("NEO4J_URI") or src.value(str, None, "neo4j", "uri", None),
        username=src.value(str, "NEO4J_USERNAME", "neo4j", "username", "neo4j"),
        password=env.get("NEO4J_PASSWORD"),
        database=src.value(str, "NEO4J_DATABASE", "neo4j", "database", "neo4j"),
        bolt_port=src.value(int, "ATTRIBUTION_BOLT_PORT", "neo4j", "bolt_port", 7687),
        http_port=src.value(int, "ATTRIBUTION_HTTP_PORT", "neo4j", "http_port", 7474),
        heap=src.value(str, "ATTRIBUTION_NEO4J_HEAP", "neo4j", "heap", "2g"),
        pagecache=src.value(str, "ATTRIBUTION_NEO4J_PAGECACHE", "neo4j", "pagecache", "2g"),
        retry_seconds=src.value(
            float,
            "ATTRIBUTION_NEO4J_RETRY_SECONDS",
            "neo4j",
            "retry_seconds",
            DEFAULT_NEO4J_RETRY_SECONDS,
        ),
    )


def _reports(src: _Source) -> ReportSettings:
    key = src.env.get(SIGNING_KEY_ENV)
    return ReportSettings(
        collateral_threshold=src.value(
            int,
            "ATTRIBUTION_COLLATERAL_THRESHOLD",
            "reports",
            "collateral_threshold",
            DEFAULT_COLLATERAL_THRESHOLD,
        ),
        max_facts=src.value(int, None, "reports", "max_facts", DEFAULT_MAX_FACTS),
        freshness_hours=src.value(
            float,
            "ATTRIBUTION_FRESHNESS_HOURS",
            "reports",
            "freshness_hours",
            DEFAULT_FRESHNESS_HOURS,
        ),
        signing_key=Path(key) if key else None,
    )


def _approvals(src: _Source) -> ApprovalSettings:
    trusted = src.names("ATTRIBUTION_TRUSTED_REPORT_KEYS", "approvals", "trusted_report_keys")
    return ApprovalSettings(
        reviewers=src.names("ATTRIBUTION_REVIEWERS", "roles", "reviewers"),
        report_max_age_days=src.value(
            float,
            "ATTRIBUTION_REPORT_MAX_AGE_DAYS",
            "approvals",
            "report_max_age_days",
            DEFAULT_REPORT_MAX_AGE_DAYS,
        ),
        require_signed_reports=src.flag(
            "ATTRIBUTION_REQUIRE_SIGNED_REPORTS", "approvals", "require_signed_reports"
        ),
        trusted_report_keys=frozenset(k.lower() for k in trusted),
    )


def _enrichment(src: _Source) -> EnrichmentSettings:
    def opt(kind: Callable[[Any], T], key: str) -> T | None:
        return src.value(kind, None, "enrichment", key, None)

    endpoints = src.env.get(SANDBOX_ENDPOINTS_ENV) or opt(str, "sandbox_endpoints")
    return EnrichmentSettings(
        sandbox_endpoints=Path(endpoints) if endpoints else None,
        resolver_address=opt(str, "resolver_address"),
        resolver_port=opt(int, "resolver_port"),
        dns_lifetime=opt(float, "dns_lifetime"),
        rdap_bootstrap_url=opt(str, "rdap_bootstrap_url"),
        http_timeout=opt(float, "http_timeout"),
        whois_timeout=opt(float, "whois_timeout"),
        max_concurrency=opt(int, "max_concurrency"),
        node_retry_base=opt(float, "node_retry_base"),
        node_retry_cap=opt(float, "node_retry_cap"),
        breaker_failures=opt(int, "breaker_failures"),
        breaker_cooldown=opt(float, "breaker_cooldown"),
        max_retry_after=opt(float, "max_retry_after"),
    )


def _audit(src: _Source) -> AuditSettings:
    anchor_dir = src.value(str, "ATTRIBUTION_AUDIT_ANCHOR_DIR", "audit", "anchor_dir", None)
    return AuditSettings(
        anchor_dir=Path(anchor_dir).expanduser() if anchor_dir else None,
        anchor_command=src.value(
            str, "ATTRIBUTION_AUDIT_ANCHOR_COMMAND", "audit", "anchor_command", None
        ),
    )


def _models(src: _Source) -> ModelSettings:
    key = src.env.get(MODEL_SIGNING_KEY_ENV)
    trusted = src.names("ATTRIBUTION_TRUSTED_MODEL_KEYS", "models", "trusted_keys")
    return ModelSettings(
        signing_key=Path(key).expanduser() if key else None,
        require_signed=src.flag("ATTRIBUTION_REQUIRE_SIGNED_MODELS", "models", "require_signed"),
        trusted_keys=frozenset(k.lower() for k in trusted),
    )


def _redis(src: _Source) -> RedisSettings:
    url = src.value(str, "REDIS_URL", "redis", "url", "") or None
    return RedisSettings(
        url=url, port=src.value(int, "ATTRIBUTION_REDIS_PORT", "redis", "port", 6390)
    )


def _client(src: _Source) -> ClientSettings:
    token = src.env.get("ATTRIBUTION_TOKEN") or None
    token_file = src.env.get("ATTRIBUTION_TOKEN_FILE")
    if token is None and token_file:
        try:
            token = Path(token_file).expanduser().read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise SettingsError(
                f"ATTRIBUTION_TOKEN_FILE: cannot read {token_file} ({exc})"
            ) from None
    url = src.value(str, "ATTRIBUTION_SERVICE_URL", "client", "service_url", "") or None
    return ClientSettings(service_url=url.rstrip("/") if url else None, token=token)


def _optional_path(src: _Source, var: str, key: str) -> Path | None:
    text = src.value(str, var, None, key, "")
    return Path(text).expanduser() if text else None


def _path(src: _Source, var: str, key: str, default: Path) -> Path:
    return Path(src.value(str, var, None, key, str(default)))


def load_settings() -> Settings:
    """Build the settings from the environment and the TOML file; SettingsError when a value
    is of the wrong kind."""
    src = _Source(os.environ, _read_toml())
    home = _path(src, "ATTRIBUTION_HOME", "home", _default_home()).expanduser()
    shared = _shared_dir()
    audit_log = os.environ.get("ATTRIBUTION_AUDIT_LOG")
    return Settings(
        home=home,
        neo4j=_neo4j(src),
        warninglists_dir=_optional_path(src, "ATTRIBUTION_WARNINGLISTS_DIR", "warninglists_dir"),
        fixtures_dir=_path(
            src, "ATTRIBUTION_FIXTURES_DIR", "fixtures_dir", shared / "fixtures" / "rdap-whois-asn"
        ),
        models_dir=_path(src, "ATTRIBUTION_MODELS_DIR", "models_dir", REPO_ROOT / "models"),
        audit_log=Path(audit_log).expanduser() if audit_log else home / "audit.jsonl",
        min_evidence_families=src.value(
            int, "ATTRIBUTION_MIN_EVIDENCE_FAMILIES", "scoring", "min_evidence_families", 2
        ),
        user=os.environ.get("ATTRIBUTION_USER") or None,
        reports=_reports(src),
        approvals=_approvals(src),
        enrichment=_enrichment(src),
        audit=_audit(src),
        models=_models(src),
        client=_client(src),
        redis=_redis(src),
    )
