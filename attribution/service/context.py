"""What a request handler reaches: the graph, the stores, the configuration and the clock.

One :class:`ServiceContext` is made when the service starts and hangs on
``app.state.ctx``; handlers get it through :func:`attribution.service.auth.context`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from attribution.db import Graph
from attribution.reports.canonical import public_key_fingerprint
from attribution.service.config import ServiceConfig
from attribution.service.principals import PrincipalStore
from attribution.service.ratelimit import TokenBuckets
from attribution.settings import Settings

if TYPE_CHECKING:
    from attribution.warninglists import WarninglistIndex

__all__ = ["ServiceContext", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServiceContext:
    settings: Settings
    config: ServiceConfig
    graph: Graph
    principals: PrincipalStore
    signing_key: Ed25519PrivateKey
    limiter: TokenBuckets
    clock: Callable[[], datetime] = utc_now
    extensions: dict[str, Any] = field(default_factory=dict)
    """Components that areas of the service add at start (the job runner, sessions)."""
    _lists: WarninglistIndex | None = None
    _lists_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def key_fingerprint(self) -> str:
        return public_key_fingerprint(self.signing_key.public_key())

    @property
    def trusted_fingerprints(self) -> frozenset[str]:
        """The service's own key, and the earlier keys its configuration still trusts."""
        return frozenset({self.key_fingerprint}) | self.config.trusted_report_keys

    def warninglists(self) -> WarninglistIndex:
        """The warninglists, loaded once on first use."""
        with self._lists_lock:
            if self._lists is None:
                from attribution.warninglists import load_warninglists

                self._lists = load_warninglists(self.settings.warninglists_dir)
            return self._lists
