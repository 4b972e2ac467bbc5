"""The HTTP client the command line uses when a service is configured.

``ATTRIBUTION_SERVICE_URL`` (or ``[client] service_url``) names the service and
``ATTRIBUTION_TOKEN`` (or ``ATTRIBUTION_TOKEN_FILE``) the caller's token. Every answer other
than success becomes a :class:`ServiceError` carrying the service's one-line message and the
command's exit code: 4 for a refusal (401, 403, 409), 1 for input the service rejected or
does not know (400, 404, 422), 3 when the service cannot be reached or fails.
"""

from __future__ import annotations

from typing import Any

import requests

from attribution.settings import ClientSettings

__all__ = ["ServiceClient", "ServiceError"]

_EXIT_BY_STATUS = {400: 1, 401: 4, 403: 4, 404: 1, 409: 4, 413: 1, 422: 1, 429: 3}


class ServiceError(Exception):
    def __init__(self, message: str, code: int, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class ServiceClient:
    def __init__(self, settings: ClientSettings, timeout: float = 120.0) -> None:
        if settings.service_url is None:
            raise ValueError("no service is configured")
        self.base = settings.service_url
        self.timeout = timeout
        self.session = requests.Session()
        if settings.token:
            self.session.headers["Authorization"] = f"Bearer {settings.token}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of ``method path`` under ``/api/v1``; ServiceError otherwise."""
        url = f"{self.base}/api/v1{path}"
        try:
            answer = self.session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise ServiceError(f"the service at {self.base} cannot be reached ({exc})", 3) from exc
        if answer.ok:
            return answer.json()
        try:
            message = str(answer.json().get("message"))
        except ValueError:
            message = answer.text.strip()[:200] or answer.reason
        return self._fail(answer.status_code, message)

    def _fail(self, status: int, message: str) -> Any:
        code = _EXIT_BY_STATUS.get(status, 3)
        raise ServiceError(f"the service answered {status}: {message}", code, status)
