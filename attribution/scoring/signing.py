"""Who trained a model: Ed25519 signatures over model manifests, and the keys behind them.

A manifest records the model file's SHA-256, so a signature over the manifest's exact bytes
pins the whole artifact. Training signs with the configured key
(``ATTRIBUTION_MODEL_SIGNING_KEY``, default ``<home>/keys/model-signing.pem``), generated on
first use and kept owner-only (0600); a key file others can read is refused. The signature file
holds the algorithm, the raw public key (base64), its fingerprint (SHA-256 hex of the raw key,
as for reports: :mod:`attribution.reports.canonical`) and the signature (base64).

Loading trusts the fingerprints in ``ATTRIBUTION_TRUSTED_MODEL_KEYS``, or, when none are
listed, the public half of the configured signing key (when it exists).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from attribution.reports.canonical import load_private_key, public_key_fingerprint
from attribution.settings import MODEL_SIGNING_KEY_ENV, Settings

__all__ = [
    "ALGORITHM",
    "ModelSigningError",
    "ModelTrust",
    "model_signing_key",
    "sign_manifest",
    "signing_key_path",
    "verify_manifest",
]

ALGORITHM = "Ed25519"


class ModelSigningError(ValueError):
    """The model signing key cannot be made or used; the message names the file and why."""


def signing_key_path(settings: Settings) -> Path:
    """``ATTRIBUTION_MODEL_SIGNING_KEY``, or ``<home>/keys/model-signing.pem``."""
    return settings.models.signing_key or settings.home / "keys" / "model-signing.pem"


def _generate(path: Path) -> None:
    """A new key at ``path``, created owner-only; an existing file is left alone."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # made meanwhile by a concurrent training run
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _load_key(path: Path) -> Ed25519PrivateKey:
    """The key at ``path``; ModelSigningError when others can read it or it is not an
    Ed25519 private key."""
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise ModelSigningError(
                f"{MODEL_SIGNING_KEY_ENV}: {path} is readable by others (mode {mode:o}); "
                "run chmod 600 on it"
            )
        return load_private_key(path)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ModelSigningError):
            raise
        raise ModelSigningError(f"{MODEL_SIGNING_KEY_ENV}: cannot use {path} ({exc})") from exc


def model_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The key models are signed with, generated (owner-only) on first use."""
    path = signing_key_path(settings)
    if not path.exists():
        try:
            _generate(path)
        except OSError as exc:
            raise ModelSigningError(
                f"{MODEL_SIGNING_KEY_ENV}: cannot create {path} ({exc.strerror or exc})"
            ) from exc
    return _load_key(path)


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign_manifest(manifest: bytes, key: Ed25519PrivateKey) -> dict[str, str]:
    """The signature file's content for a manifest's exact bytes."""
    public = key.public_key()
    return {
        "algorithm": ALGORITHM,
        "public_key": base64.b64encode(_raw(public)).decode("ascii"),
        "public_key_fingerprint": public_key_fingerprint(public),
        "signature": base64.b64encode(key.sign(manifest)).decode("ascii"),
    }


def verify_manifest(manifest: bytes, signature: Mapping[str, Any]) -> str:
    """The fingerprint of the key that signed ``manifest``; ValueError when the signature
    file is malformed or the signature does not verify."""
    if signature.get("algorithm") != ALGORITHM:
        raise ValueError(f"algorithm {signature.get('algorithm')!r}, not {ALGORITHM}")
    try:
        public = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(str(signature.get("public_key", "")), validate=True)
        )
        value = base64.b64decode(str(signature.get("signature", "")), validate=True)
        public.verify(value, manifest)
    except (ValueError, InvalidSignature) as exc:
        raise ValueError("the signature does not verify against the manifest") from exc
    return public_key_fingerprint(public)


@dataclass(frozen=True)
class ModelTrust:
    """What loading accepts: whether a signature is required, and whose."""

    require_signed: bool = False
    trusted_keys: frozenset[str] = frozenset()
    """Fingerprints a signature may come from; empty: none (every signed model is refused)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelTrust:
        """``ATTRIBUTION_REQUIRE_SIGNED_MODELS`` and ``ATTRIBUTION_TRUSTED_MODEL_KEYS``, or
        when no keys are listed, the configured signing key's own fingerprint."""
        trusted = settings.models.trusted_keys
        if not trusted:
            path = signing_key_path(settings)
            if path.exists():
                public = _load_key(path).public_key()
                trusted = frozenset({public_key_fingerprint(public)})
        return cls(settings.models.require_signed, trusted)
