"""Saving and loading trained classifiers as versioned, checked artifacts.

A saved model is a version folder (placed by :class:`attribution.classifier.store.ModelStore`)
holding:

- ``model.skops``: the fitted :class:`MaliciousnessClassifier`, written with ``skops.io``
  (no pickle; loading only builds the types it is told to trust);
- ``manifest.json``: library versions, feature-set version and names, training-data id,
  gate parameters, metrics, the model file's SHA-256 and the exact list of types that
  ``skops`` needs to trust to load it;
- ``MODEL_CARD.md``: intended use, the false-positive guarantee and its assumptions, metrics
  and limitations, for the approval body;
- ``manifest.sig``: when saved with a signing key (training always signs), the Ed25519
  signature of ``manifest.json``'s exact bytes (:mod:`attribution.scoring.signing`).

A version, once written, is never overwritten. Loading refuses, with an error that names the
mismatch, when library versions or the feature-set version differ, when the model file does not
match its recorded digest, when the manifest disagrees with the model, when the file asks for
a type outside :data:`ALLOWED_TYPES` or cannot be read as a model file, and when its signature
does not verify, comes from a key that is not trusted, or is missing where one is required
(:class:`~attribution.scoring.signing.ModelTrust`). An unsigned model that is allowed to load
does so with an :class:`UnsignedModelWarning`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import skops.io
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from numpy.typing import ArrayLike
from sklearn.utils.validation import check_is_fitted

from attribution.classifier.store import (
    CARD_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    SIGNATURE_FILE,
    ModelStore,
)
from attribution.scoring.estimator import MaliciousnessClassifier
from attribution.scoring.signing import (
    ModelSigningError,
    ModelTrust,
    sign_manifest,
    verify_manifest,
)
from attribution.settings import load_settings

__all__ = [
    "ALLOWED_TYPES",
    "MANIFEST_FORMAT",
    "FeatureVersionMismatch",
    "LibraryVersionMismatch",
    "ModelIntegrityError",
    "ModelLoadError",
    "ModelVersionExists",
    "UnsignedModel",
    "UnsignedModelWarning",
    "UntrustedModelKey",
    "UntrustedModelTypes",
    "library_versions",
    "load_model",
    "manifest_digest",
    "save_model",
    "training_data_id",
]

MANIFEST_FORMAT = 1

#: Types beyond skops' built-in safe set (which already covers numpy arrays and dtypes and the
#: public scikit-learn estimators) that a saved classifier needs: this class, the step that
#: prepares its scorers' input and the gradient-boosting tree predictors. Anything else in a
#: model file is refused at save time and at load time, whatever the manifest says.
ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "attribution.scoring.estimator.MaliciousnessClassifier",
        "attribution.scoring.preprocess.BlankColumnFiller",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }
)

_PINNED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "skops")
_SECTIONS = ("feature_set", "library_versions", "model_file", "trusted_types", "gate")
"""Manifest sections loading checks; all but ``trusted_types`` (a list) are objects."""
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ModelLoadError(ValueError):
    """A saved model was refused; the message says why."""


class FeatureVersionMismatch(ModelLoadError):
    """The model was trained on a different feature-set version than the caller provides."""


class LibraryVersionMismatch(ModelLoadError):
    """The installed scikit-learn / numpy / scipy / skops differ from those at save time."""


class ModelIntegrityError(ModelLoadError):
    """The model file or manifest was altered after saving, or they disagree."""


class UntrustedModelTypes(ModelLoadError):
    """The model file needs types outside :data:`ALLOWED_TYPES` or outside its manifest."""


class UnsignedModel(ModelLoadError):
    """The model carries no signature, and the settings require one."""


class UntrustedModelKey(ModelLoadError):
    """The model's signature verifies, but comes from a key that is not trusted."""


class UnsignedModelWarning(UserWarning):
    """An unsigned model was loaded because signatures are not required."""


class ModelVersionExists(FileExistsError):
    """A model with this name and version already exists; versions are never overwritten."""


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a saved model depends on."""
    return {name: installed_version(name) for name in _PINNED_LIBRARIES}


def training_data_id(X: ArrayLike, y: ArrayLike) -> str:
    """SHA-256 identifying a training matrix and its labels.

    The digest covers the shape, every value as little-endian float64 (all NaNs made the same
    NaN, so the id does not depend on how missing values were produced) and the labels as
    text, so the same data gives the same id whatever container or dtype it came in.
    """
    X_arr = np.asarray(X, dtype=np.float64)
    if X_arr.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got {X_arr.ndim} dimensions")
    y_arr = np.asarray(y).ravel()
    if y_arr.shape[0] != X_arr.shape[0]:
        raise ValueError(f"X has {X_arr.shape[0]} rows but y has {y_arr.shape[0]} labels")
    canonical = np.where(np.isnan(X_arr), np.nan, X_arr).astype("<f8", copy=False)
    digest = hashlib.sha256()
    digest.update(f"attribution-training-data-v1:{X_arr.shape[0]}x{X_arr.shape[1]}\n".encode())
    digest.update(np.ascontiguousarray(canonical).tobytes())
    if np.issubdtype(y_arr.dtype, np.number) and np.all(np.mod(y_arr, 1) == 0):
        labels = [str(int(v)) for v in y_arr]
    else:
        labels = [str(v) for v in y_arr]
    digest.update("\n".join(labels).encode())
    return digest.hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_digest(model_dir: str | Path) -> str:
    """SHA-256 of a saved model's ``manifest.json``, for recording in the audit chain.

    The manifest records the model file's digest, so this one value pins both.
    """
    return _sha256_file(Path(model_dir) / MANIFEST_FILE)


def _json_number(value: Any) -> Any:
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def _check_component(kind: str, value: str) -> None:
    if not isinstance(value, str) or not _SAFE_COMPONENT.match(value) or value in {".", ".."}:
        raise ValueError(
            f"model {kind} {value!r} must be 1-128 characters of letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )


def _policy_text(manifest: Mapping[str, Any]) -> str:
    policy = manifest.get("evidence_policy")
    if not isinstance(policy, Mapping):
        return "the minimum given when scoring"
    return f"{policy.get('min_families')} (of {', '.join(policy.get('families', []))})"


def _metric_table(metrics: Mapping[str, Any]) -> str:
    if not metrics:
        return "No evaluation metrics were supplied when this model was saved."
    metric_lines = "\n".join(
        f"| {key} | {'n/a' if value is None else f'{value:.4g}'} |"
        for key, value in sorted(metrics.items())
    )
    return f"| metric | value |\n|---|---|\n{metric_lines}"


def _gate_state(gate: Mapping[str, Any]) -> str:
    if gate["gate_closed"]:
        return (
            "**The gate is closed**: there were too few benign calibration samples, so this "
            "model never recommends action."
        )
    return (
        f"The threshold is the scorer's score of rank {gate['umbrella_rank']} (in "
        f"ascending order) among {gate['n_calibration_benign']} held-out benign samples "
        f"(the rule needs at least {gate['min_calibration_benign']}); for this rank and "
        f"size, P(false-positive rate > alpha) = {gate['violation_probability']:.4f}."
    )


def _rate_meant(batch: int | None) -> str:
    if batch is None:
        return "the false-positive rate (the share of benign servers the model would act on)"
    return (
        f"the false-positive rate among {batch} benign servers scored together (the share "
        "of them the model would act on, sampling noise of a finite batch included)"
    )


def _model_card(manifest: Mapping[str, Any]) -> str:
    gate = manifest["gate"]
    training = manifest["training_data"]
    metric_table = _metric_table(manifest["metrics"])
    libraries = ", ".join(f"{k} {v}" for k, v in manifest["library_versions"].items())
    gate_state = _gate_state(gate)
    rate_meant = _rate_meant(gate.get("batch_size"))
    return f"""# Model card: {manifest["name"]} {manifest["version"]}

Created {manifest["created_at"]}. Feature set `{manifest["feature_set"]["version"]}`
({len(manifest["feature_set"]["names"])} features). Training data id
`{training["id"]}` ({training["n_samples"]} samples: {training["n_benign"]} benign,
{training["n_malicious"]} malicious). Libraries: {libraries}.

## Intended use

Scores internet infrastructure (domains, IPs, networks) from communication metadata for
maliciousness, as one input to a confidence report reviewed by an independent approval body.
It recommends "act" or "no-act"; it does not decide. It must not be used on content data, nor
as the sole basis for any action against a server.

## False-positive guarantee

Act only when the scorer's score is strictly greater than {gate["threshold"]:.6g} (the
reported probability is its Venn-ABERS calibration, a monotone map of that score). This threshold was set by the Neyman–Pearson umbrella rule so that
the probability that {rate_meant} exceeds alpha = {gate["alpha"]:g} is at most delta = {gate["delta"]:g}.
{gate_state}

Assumptions behind the guarantee:

- Benign servers seen in deployment are exchangeable with the benign calibration samples:
  drawn from the same distribution, with the same feature extraction
  (feature set `{manifest["feature_set"]["version"]}`). Drift in the benign population (new
  hosting platforms, new CDNs, a changed feature pipeline) voids it until the model is
  recalibrated.
- The calibration labels are correct. Malicious servers mislabelled as benign in calibration
  make the gate looser.
- It bounds the rate over benign servers as a population, not the error on any single server,
  and says nothing about how many malicious servers are missed.

## Metrics

{metric_table}

## Limitations

- Probabilities are Venn-ABERS calibrated on out-of-fold scores at the class balance of the
  training data, each with its interval; the share of malicious servers in deployment may
  differ, which shifts probabilities but not the gate.
- Missing evidence (NaN) is routed by the default tree scorer, not imputed. A node with fewer
  independent evidence families than {_policy_text(manifest)} gets no decision, and a node
  whose evidence pattern has fewer than {gate.get("min_pattern_count", "n/a")} benign
  calibration samples gets "outside-calibration" instead of a decision.
- Explanations are exact Shapley values over feature groups, with "not observed" as the
  absent value: they add up to the score minus the score of the same kind of node with
  nothing observed. They describe the model, not causes in the world.
- Shared infrastructure (CDNs, cloud ranges, co-hosting) must be checked separately before
  any action: a malicious tenant does not make a shared address a target.
"""


def _check_saveable(
    model: MaliciousnessClassifier,
    name: str,
    version: str,
    feature_version: str,
    feature_names: Sequence[str] | None,
    X_train: ArrayLike,
) -> None:
    """Refuse, before anything is written, what could not be saved or loaded again."""
    if not isinstance(model, MaliciousnessClassifier):
        raise TypeError(f"expected a MaliciousnessClassifier, got {type(model).__name__}")
    check_is_fitted(model, "threshold_")
    _check_component("name", name)
    _check_component("version", version)
    if not isinstance(feature_version, str) or not feature_version:
        raise ValueError("feature_version must be a non-empty string")
    if feature_names is not None and list(feature_names) != list(model.feature_names_):
        raise ValueError("feature_names differ from the names the model was fitted with")
    n_features = np.asarray(X_train).shape[1] if np.ndim(X_train) == 2 else -1
    if n_features != model.n_features_in_:
        raise ValueError(
            f"X_train has {n_features} columns but the model expects {model.n_features_in_}"
        )


def _dump_trusted(model: MaliciousnessClassifier, model_path: Path) -> list[str]:
    """Write the model file; the types it needs trusted, all inside :data:`ALLOWED_TYPES`."""
    skops.io.dump(model, model_path)
    needed = sorted(skops.io.get_untrusted_types(file=model_path))
    refused = sorted(set(needed) - ALLOWED_TYPES)
    if refused:
        raise UntrustedModelTypes(
            f"the model needs types outside the allowlist and was not saved: {refused}"
        )
    return needed


def _manifest(
    model: MaliciousnessClassifier,
    name: str,
    version: str,
    model_path: Path,
    trusted: list[str],
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """The manifest of a model just written to ``model_path`` (``details``: the keyword
    arguments of :func:`save_model`)."""
    y_arr = np.asarray(details["y_train"]).ravel()
    return {
        "format": MANIFEST_FORMAT,
        "name": name,
        "version": version,
        "created_at": (details["created_at"] or datetime.now(UTC)).isoformat(),
        "library_versions": library_versions(),
        "feature_set": {"version": details["feature_version"], "names": list(model.feature_names_)},
        "training_data": {
            "id": training_data_id(details["X_train"], details["y_train"]),
            "n_samples": int(y_arr.size),
            "n_benign": int(np.count_nonzero(y_arr == model.classes_[0])),
            "n_malicious": int(np.count_nonzero(y_arr == model.classes_[1])),
        },
        "classes": [c.item() if hasattr(c, "item") else c for c in model.classes_],
        "gate": model.gate_summary(),
        "evidence_policy": (
            dict(details["evidence_policy"]) if details["evidence_policy"] is not None else None
        ),
        "metrics": {key: _json_number(value) for key, value in (details["metrics"] or {}).items()},
        "model_file": {"name": MODEL_FILE, "sha256": _sha256_file(model_path)},
        "trusted_types": trusted,
    }


def _publish(staging: Path, target: Path, name: str, version: str) -> None:
    try:
        # rename() onto an existing non-empty directory fails, so a version written by a
        # concurrent save is never replaced.
        os.rename(staging, target)
    except OSError as exc:
        raise ModelVersionExists(
            f"model {name} version {version} already exists at {target}"
        ) from exc


def save_model(
    model: MaliciousnessClassifier,
    models_dir: str | Path,
    name: str,
    version: str,
    *,
    feature_version: str,
    X_train: ArrayLike,
    y_train: ArrayLike,
    metrics: Mapping[str, float] | None = None,
    feature_names: Sequence[str] | None = None,
    evidence_policy: Mapping[str, Any] | None = None,
    created_at: datetime | None = None,
    signing_key: Ed25519PrivateKey | None = None,
) -> Path:
    """Write ``models_dir/name/version/`` and return that directory.

    ``X_train``/``y_train`` are the data the model was fitted on (only their digest and class
    counts are stored). ``metrics`` are held-out evaluation figures, e.g. from
    :func:`attribution.scoring.metrics.evaluate_scores`. With ``signing_key`` the manifest is
    signed (``manifest.sig``). Raises :class:`ModelVersionExists` if
    the version exists, and :class:`UntrustedModelTypes` if the model would need a type outside
    :data:`ALLOWED_TYPES` to load.
    """
    _check_saveable(model, name, version, feature_version, feature_names, X_train)
    target = ModelStore(Path(models_dir)).version_dir(name, version)
    if target.exists():
        raise ModelVersionExists(f"model {name} version {version} already exists at {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=target.parent))
    details = {
        "feature_version": feature_version, "X_train": X_train, "y_train": y_train,
        "metrics": metrics, "evidence_policy": evidence_policy, "created_at": created_at,
    }  # fmt: skip
    try:
        model_path = staging / MODEL_FILE
        trusted = _dump_trusted(model, model_path)
        manifest = _manifest(model, name, version, model_path, trusted, details)
        manifest_bytes = (
            json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n"
        ).encode("utf-8")
        (staging / MANIFEST_FILE).write_bytes(manifest_bytes)
        if signing_key is not None:
            signature = sign_manifest(manifest_bytes, signing_key)
            (staging / SIGNATURE_FILE).write_text(
                json.dumps(signature, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
        (staging / CARD_FILE).write_text(_model_card(manifest), encoding="utf-8")
        _publish(staging, target, name, version)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def _read_manifest(model_dir: Path) -> tuple[dict[str, Any], bytes]:
    """A model version's manifest and its exact bytes, checked for its format (not yet for
    its contents)."""
    path = model_dir / MANIFEST_FILE
    try:
        raw = path.read_bytes()
        manifest = json.loads(raw.decode("utf-8"))
    except FileNotFoundError as exc:
        raise ModelLoadError(f"no {MANIFEST_FILE} in {model_dir}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelIntegrityError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ModelIntegrityError(f"{path} does not hold a JSON object")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ModelLoadError(
            f"{path} has manifest format {manifest.get('format')!r}; "
            f"this version of the service reads format {MANIFEST_FORMAT}"
        )
    return manifest, raw


def _check_signature(model_dir: Path, manifest: bytes, trust: ModelTrust) -> None:
    """The manifest is signed by a trusted key, or unsigned where that is allowed (with a
    warning)."""
    path = model_dir / SIGNATURE_FILE
    if not path.exists():
        if trust.require_signed:
            raise UnsignedModel(
                f"model in {model_dir} is not signed, and ATTRIBUTION_REQUIRE_SIGNED_MODELS "
                "requires a signature"
            )
        warnings.warn(
            f"model in {model_dir} is not signed; set ATTRIBUTION_REQUIRE_SIGNED_MODELS to "
            "refuse unsigned models",
            UnsignedModelWarning,
            stacklevel=3,
        )
        return
    try:
        signature = json.loads(path.read_bytes().decode("utf-8"))
        if not isinstance(signature, dict):
            raise ValueError("not a JSON object")
        fingerprint = verify_manifest(manifest, signature)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelIntegrityError(f"{path}: {exc}; the manifest was altered after signing") from exc
    if fingerprint not in trust.trusted_keys:
        raise UntrustedModelKey(
            f"model in {model_dir} is signed by key {fingerprint}, which is not trusted "
            "(ATTRIBUTION_TRUSTED_MODEL_KEYS)"
        )


def _sections(manifest: Mapping[str, Any], model_dir: Path) -> dict[str, Any]:
    """The manifest's sections that loading checks, each present and of its type."""
    try:
        sections = {key: manifest[key] for key in _SECTIONS}
    except KeyError as exc:
        raise ModelIntegrityError(f"manifest in {model_dir} lacks {exc.args[0]!r}") from exc
    malformed = sorted(
        key for key in _SECTIONS if key != "trusted_types" and not isinstance(sections[key], dict)
    )
    if malformed:
        raise ModelIntegrityError(f"manifest in {model_dir} has malformed {', '.join(malformed)}")
    return sections


def _check_environment(
    model_dir: Path, sections: Mapping[str, Any], expected_feature_version: str
) -> None:
    """The caller's feature set and the installed libraries are the model's own."""
    recorded_feature_set = sections["feature_set"].get("version")
    if recorded_feature_set != expected_feature_version:
        raise FeatureVersionMismatch(
            f"model in {model_dir} was trained on feature set {recorded_feature_set!r}, "
            f"but the caller provides feature set {expected_feature_version!r}"
        )
    recorded = sections["library_versions"]
    installed = library_versions()
    differences = [
        f"{lib} {recorded.get(lib)!r} at save time, {installed[lib]!r} installed"
        for lib in _PINNED_LIBRARIES
        if recorded.get(lib) != installed[lib]
    ]
    if differences:
        raise LibraryVersionMismatch(
            f"model in {model_dir} was saved with other library versions: " + "; ".join(differences)
        )


def _checked_model_file(model_dir: Path, model_file: Mapping[str, Any]) -> Path:
    """The model file, present and matching the digest its manifest records."""
    if model_file.get("name") != MODEL_FILE:
        raise ModelIntegrityError(
            f"manifest names model file {model_file.get('name')!r}, expected {MODEL_FILE!r}"
        )
    model_path = model_dir / MODEL_FILE
    if not model_path.is_file():
        raise ModelIntegrityError(f"model file {model_path} is missing")
    if _sha256_file(model_path) != model_file.get("sha256"):
        raise ModelIntegrityError(f"{model_path} does not match the digest in its manifest")
    return model_path


def _checked_trust(model_path: Path, trusted: Any) -> list[str]:
    """The manifest's trusted types: inside the allowlist, and every type the file needs."""
    if not isinstance(trusted, list) or not all(isinstance(t, str) for t in trusted):
        raise ModelIntegrityError("manifest trusted_types must be a list of type names")
    outside_allowlist = sorted(set(trusted) - ALLOWED_TYPES)
    if outside_allowlist:
        raise UntrustedModelTypes(f"manifest asks to trust types not allowed: {outside_allowlist}")
    needed = _readable(model_path, lambda: skops.io.get_untrusted_types(file=model_path))
    unlisted = sorted(set(needed) - set(trusted))
    if unlisted:
        raise UntrustedModelTypes(f"model file needs types its manifest does not list: {unlisted}")
    return trusted


T = TypeVar("T")

_UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, ValueError, TypeError)
"""What skops raises on a file that is not a model file it wrote (a damaged zip, a missing or
malformed schema member)."""


def _readable(model_path: Path, read: Callable[[], T]) -> T:
    """``read()`` of the model file; ModelIntegrityError when the file is not one skops can read."""
    try:
        return read()
    except _UNREADABLE as exc:
        raise ModelIntegrityError(
            f"{model_path} is not a readable model file ({type(exc).__name__}: {exc})"
        ) from exc


def _check_agreement(
    model_dir: Path, model: MaliciousnessClassifier, sections: Mapping[str, Any]
) -> None:
    """The loaded model has the gate and feature names its manifest states."""
    gate = sections["gate"]
    recorded = {
        "alpha": gate.get("alpha"),
        "delta": gate.get("delta"),
        "batch_size": gate.get("batch_size"),
        "threshold": gate.get("threshold"),
        "n_calibration_benign": gate.get("n_calibration_benign"),
        "feature names": sections["feature_set"].get("names"),
    }
    actual = {
        "alpha": float(model.alpha),
        "delta": float(model.delta),
        "batch_size": getattr(model, "batch_size", None),
        "threshold": float(model.threshold_),
        "n_calibration_benign": int(model.n_calibration_benign_),
        "feature names": list(model.feature_names_),
    }
    disagreeing = [key for key in recorded if recorded[key] != actual[key]]
    if disagreeing:
        raise ModelIntegrityError(
            f"manifest in {model_dir} disagrees with the model on: {', '.join(disagreeing)}"
        )


def load_model(
    path: str | Path, *, expected_feature_version: str, trust: ModelTrust | None = None
) -> MaliciousnessClassifier:
    """Load a saved classifier after checking its signature, its manifest and this environment.

    ``path`` is the version directory (or the ``model.skops`` inside it); ``trust`` defaults to
    the settings' (:meth:`ModelTrust.from_settings`). Raises a :class:`ModelLoadError` subclass
    naming the problem: :class:`UnsignedModel`, :class:`UntrustedModelKey`,
    :class:`FeatureVersionMismatch`, :class:`LibraryVersionMismatch`,
    :class:`ModelIntegrityError` or :class:`UntrustedModelTypes`.
    """
    model_dir = Path(path)
    if model_dir.name == MODEL_FILE:
        model_dir = model_dir.parent
    manifest, raw = _read_manifest(model_dir)
    if trust is None:
        try:
            trust = ModelTrust.from_settings(load_settings())
        except ModelSigningError as exc:
            raise ModelLoadError(str(exc)) from exc
    _check_signature(model_dir, raw, trust)
    sections = _sections(manifest, model_dir)
    _check_environment(model_dir, sections, expected_feature_version)
    model_path = _checked_model_file(model_dir, sections["model_file"])
    trusted = _checked_trust(model_path, sections["trusted_types"])
    model = _readable(model_path, lambda: skops.io.load(model_path, trusted=trusted))
    if not isinstance(model, MaliciousnessClassifier):
        raise ModelIntegrityError(f"{model_path} holds a {type(model).__name__}")
    _check_agreement(model_dir, model, sections)
    return model
