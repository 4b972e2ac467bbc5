"""Canonical JSON, the report digest and Ed25519 signatures.

A report document is::

    {"report_format": "attribution-confidence-report/1",
     "generated_at": "...Z",
     "content": {...},
     "digest": "<sha256 hex>",
     "signature": {...} | null}

``digest`` is the SHA-256 hex digest of the RFC 8785 (JCS) canonical JSON of ``content``
alone. ``generated_at`` lies outside ``content`` on purpose: the same graph and model give the
same content and therefore the same digest, whenever the report is generated.

The optional signature is Ed25519 over the canonical JSON of ``{"digest", "generated_at"}``,
so a signed report also protects its generation time (which approvals use to refuse stale
reports); an unsigned report's ``generated_at`` is protected only by the audit log entry written
when it was generated. The key is a PEM private key whose path is in
``ATTRIBUTION_SIGNING_KEY``; the signature block carries the raw public key (base64) and its
fingerprint (SHA-256 hex of the raw 32-byte public key), so a verifier can compare the
fingerprint with the one it trusts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from attribution.settings import SIGNING_KEY_ENV, ReportSettings

__all__ = [
    "REPORT_FORMAT",
    "SIGNING_KEY_ENV",
    "SigningKeyError",
    "Verification",
    "canonical_bytes",
    "content_digest",
    "load_private_key",
    "load_public_key",
    "load_signing_key",
    "public_key_fingerprint",
    "seal",
    "sign",
    "verify_document",
]

REPORT_FORMAT = "attribution-confidence-report/1"
SIGNATURE_ALGORITHM = "Ed25519"


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 canonical JSON of JSON data."""
    return rfc8785.dumps(value)


def content_digest(content: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of a report's content."""
    return hashlib.sha256(canonical_bytes(dict(content))).hexdigest()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 hex of the raw public key."""
    return hashlib.sha256(_raw_public(key)).hexdigest()


def load_private_key(path: Path | str) -> Ed25519PrivateKey:
    """An Ed25519 private key from an unencrypted PEM file; ValueError otherwise."""
    data = Path(path).read_bytes()
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path | str) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file (a private key file gives its public half)."""
    data = Path(path).read_bytes()
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


class SigningKeyError(ValueError):
    """The configured signing key cannot be loaded; the message names the setting and why."""


def load_signing_key(settings: ReportSettings) -> Ed25519PrivateKey | None:
    """The key reports are signed with (``ATTRIBUTION_SIGNING_KEY``), or None when none is set."""
    if settings.signing_key is None:
        return None
    try:
        return load_private_key(settings.signing_key)
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"{SIGNING_KEY_ENV}: cannot load the signing key ({exc})") from exc


def _signed_payload(digest: str, generated_at: str) -> bytes:
    return canonical_bytes({"digest": digest, "generated_at": generated_at})


def sign(digest: str, generated_at: str, key: Ed25519PrivateKey) -> dict[str, str]:
    """The signature block for a digest and generation time."""
    public = key.public_key()
    value = key.sign(_signed_payload(digest, generated_at))
    return {
        "algorithm": SIGNATURE_ALGORITHM,
        "public_key": base64.b64encode(_raw_public(public)).decode("ascii"),
        "public_key_fingerprint": public_key_fingerprint(public),
        "signed": "canonical JSON of {digest, generated_at}",
        "value": base64.b64encode(value).decode("ascii"),
    }


def seal(
    content: Mapping[str, Any], generated_at: str, key: Ed25519PrivateKey | None = None
) -> dict[str, Any]:
    """The full report document: content plus generation time, digest and optional signature."""
    digest = content_digest(content)
    return {
        "report_format": REPORT_FORMAT,
        "generated_at": generated_at,
        "content": dict(content),
        "digest": digest,
        "signature": sign(digest, generated_at, key) if key is not None else None,
    }


@dataclass(frozen=True)
class Verification:
    """Whether a report document checks out; ``reason`` says why not."""

    ok: bool
    reason: str
    digest: str | None = None
    signed: bool = False
    fingerprint: str | None = None


def verify_document(
    document: Any,
    *,
    trusted_key: Ed25519PublicKey | None = None,
    require_signature: bool = False,
) -> Verification:
    """Recompute the digest and check the signature, if any.

    With ``trusted_key`` the report must be signed by exactly that key; with
    ``require_signature`` it must be signed at all.
    """
    if not isinstance(document, dict):
        return Verification(False, "the report is not a JSON object")
    if document.get("report_format") != REPORT_FORMAT:
        return Verification(False, f"unknown report format {document.get('report_format')!r}")
    content = document.get("content")
    stated = document.get("digest")
    if not isinstance(content, dict) or not isinstance(stated, str):
        return Verification(False, "the report lacks its content or digest")
    try:
        actual = content_digest(content)
    except (TypeError, ValueError) as exc:
        return Verification(False, f"the content is not canonicalisable JSON ({exc})")
    if actual != stated:
        return Verification(
            False, f"digest mismatch: content hashes to {actual}, the report states {stated}"
        )
    signature = document.get("signature")
    if signature is None:
        if require_signature or trusted_key is not None:
            return Verification(False, "the report is not signed", digest=actual)
        return Verification(True, "digest matches (unsigned)", digest=actual)
    generated_at = document.get("generated_at")
    if not isinstance(signature, dict) or not isinstance(generated_at, str):
        return Verification(False, "malformed signature block", digest=actual, signed=True)
    if signature.get("algorithm") != SIGNATURE_ALGORITHM:
        return Verification(
            False, f"unsupported signature algorithm {signature.get('algorithm')!r}", actual, True
        )
    try:
        raw = base64.b64decode(str(signature.get("public_key", "")), validate=True)
        value = base64.b64decode(str(signature.get("value", "")), validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        return Verification(False, f"malformed signature block ({exc})", actual, True)
    fingerprint = public_key_fingerprint(public)
    if signature.get("public_key_fingerprint") != fingerprint:
        return Verification(
            False, "the stated key fingerprint does not match the public key", actual, True
        )
    if trusted_key is not None and public_key_fingerprint(trusted_key) != fingerprint:
        return Verification(
            False,
            f"signed by key {fingerprint}, not by the trusted key "
            f"{public_key_fingerprint(trusted_key)}",
            actual,
            True,
            fingerprint,
        )
    try:
        public.verify(value, _signed_payload(actual, generated_at))
    except InvalidSignature:
        return Verification(
            False,
            "the signature does not match the digest and generation time",
            actual,
            True,
            fingerprint,
        )
    return Verification(True, "digest and signature match", actual, True, fingerprint)
