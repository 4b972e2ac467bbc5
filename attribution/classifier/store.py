"""Where trained classifiers live on disk: the one place that knows the models folder's layout.

::

    <models>/<name>/v<N>/                    one saved version, never overwritten
        model.skops                          the fitted classifier (skops.io)
        manifest.json                        versions, feature set, training data, gate, metrics
        manifest.sig                         Ed25519 signature of manifest.json (signed models)
        MODEL_CARD.md                        intended use, the guarantee, its assumptions
    <models>/<name>/score-state.json         the last ``attribution score`` run per database
    <models>/<name>/evaluations/<UTC time>/  an evaluation's JSON and plots

Nodes name the model that scored them as ``<name>/<version>`` (:meth:`ModelStore.model_version`).
What goes into a version's files, and the checks on loading, belong to
:mod:`attribution.scoring.persistence`; this module only places them. It imports nothing
beyond the standard library, so reading a manifest for a report costs no scikit-learn import.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = [
    "CARD_FILE",
    "LATEST",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "SIGNATURE_FILE",
    "ModelManifest",
    "ModelStore",
]

MODEL_FILE = "model.skops"
MANIFEST_FILE = "manifest.json"
SIGNATURE_FILE = "manifest.sig"
CARD_FILE = "MODEL_CARD.md"
STATE_FILE = "score-state.json"
EVALUATIONS = "evaluations"
LATEST = "latest"
"""The ``--model`` value that picks the highest numbered version."""

_VERSION = re.compile(r"^v(\d+)$")
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STAMP = "%Y%m%dT%H%M%S%fZ"


@dataclass(frozen=True)
class ModelManifest:
    """A saved version's manifest as found on disk, or why it could not be read.

    ``data`` and ``raw`` are ``None`` exactly when ``problem`` says why. The accessors read
    the keys :func:`attribution.scoring.persistence.save_model` writes (the ``gate`` object
    and ``evidence_policy``) and give ``None`` for a value that is absent or of the wrong type.
    """

    name: str
    version: str
    data: Mapping[str, Any] | None
    raw: bytes | None
    problem: str | None

    @classmethod
    def read(cls, folder: Path, name: str, version: str) -> ModelManifest:
        """The manifest in a version ``folder``. A problem names the file as
        ``models/<name>/<version>/manifest.json``, relative to the models folder, so that
        what is said about it (in a report, say) never carries a machine's own paths."""
        where = _where(name, version)
        path = folder / MANIFEST_FILE
        if not path.is_file():
            return cls.missing(name, version)
        try:
            raw = path.read_bytes()
            data = json.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return cls(name, version, None, None, f"model manifest {where} unreadable ({exc})")
        if not isinstance(data, Mapping):
            return cls(name, version, None, None, f"model manifest {where} is not an object")
        return cls(name, version, data, raw, None)

    @classmethod
    def missing(cls, name: str, version: str) -> ModelManifest:
        """No manifest where ``name`` and ``version`` point."""
        return cls(name, version, None, None, f"no model manifest at {_where(name, version)}")

    @property
    def sha256(self) -> str | None:
        """SHA-256 of the manifest file; it records the model file's digest, so it pins both."""
        return None if self.raw is None else hashlib.sha256(self.raw).hexdigest()

    def _gate(self, key: str) -> Any:
        gate = self.data.get("gate") if self.data is not None else None
        return gate.get(key) if isinstance(gate, Mapping) else None

    def _gate_number(self, key: str) -> float | None:
        value = self._gate(key)
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    def _gate_count(self, key: str) -> int | None:
        value = self._gate(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def alpha(self) -> float | None:
        """Tolerated false-positive rate of the gate."""
        return self._gate_number("alpha")

    @property
    def delta(self) -> float | None:
        """Bound on the probability that the false-positive rate exceeds alpha."""
        return self._gate_number("delta")

    @property
    def threshold(self) -> float | None:
        """The gate's threshold, on the score named by :attr:`gate_rule`."""
        return self._gate_number("threshold")

    @property
    def benign_calibration_size(self) -> int | None:
        """Held-out benign samples the threshold was chosen from."""
        return self._gate_count("n_calibration_benign")

    @property
    def batch_size(self) -> int | None:
        """``None``: the gate bounds the population rate; ``m``: the rate among m benign."""
        return self._gate_count("batch_size")

    @property
    def gate_rule(self) -> str | None:
        """What the threshold applies to, in words."""
        rule = self._gate("rule")
        return rule if isinstance(rule, str) else None

    @property
    def min_families(self) -> int | None:
        """The evidence policy the model was trained with, if it states one."""
        policy = self.data.get("evidence_policy") if self.data is not None else None
        value = policy.get("min_families") if isinstance(policy, Mapping) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class ModelStore:
    """The models folder (``Settings.models_dir``): versions, manifests, score state and
    evaluations of every model name under it."""

    root: Path

    def version_dir(self, name: str, version: str) -> Path:
        """Where version ``version`` of model ``name`` is (or would be) saved."""
        return self.root / name / version

    def versions(self, name: str) -> list[str]:
        """The numbered versions (``v1``, ``v2``, ...) of ``name``, oldest first."""
        folder = self.root / name
        numbered = (
            (int(m.group(1)), p.name)
            for p in (folder.iterdir() if folder.is_dir() else ())
            if p.is_dir() and (m := _VERSION.match(p.name))
        )
        return [version for _, version in sorted(numbered)]

    def next_version(self, name: str) -> str:
        """The version the next training run of ``name`` saves as."""
        last = self.versions(name)
        return f"v{int(last[-1][1:]) + 1}" if last else "v1"

    def latest(self, name: str) -> Path:
        """The highest numbered version of ``name``; ``FileNotFoundError`` when there is none."""
        last = self.versions(name)
        if not last:
            raise FileNotFoundError(
                f"no trained model {name!r} under {self.root}; run `attribution train`"
            )
        return self.version_dir(name, last[-1])

    def resolve(self, model: str, name: str) -> Path:
        """A version folder from ``latest``, a version of ``name`` (``v3``) or a path."""
        if model == LATEST:
            return self.latest(name)
        if _VERSION.match(model):
            return self.version_dir(name, model)
        return Path(model)

    @staticmethod
    def model_version(model_dir: Path) -> str:
        """How nodes name the model of a version folder: ``<name>/<version>``."""
        return f"{model_dir.parent.name}/{model_dir.name}"

    def manifest(self, model_version: str | None) -> ModelManifest:
        """The manifest of a node's ``model_version`` (``<name>/<version>``), or why not."""
        if not model_version:
            return ModelManifest("", "", None, None, "the target has no model version")
        name, _, version = model_version.partition("/")
        if not all(_SAFE_COMPONENT.match(c) and c not in {".", ".."} for c in (name, version)):
            return ModelManifest.missing(name, version)  # a name never saved, nor a way out
        return ModelManifest.read(self.version_dir(name, version), name, version)

    def state_file(self, name: str) -> Path:
        """The file remembering the last score run of ``name`` per database."""
        return self.root / name / STATE_FILE

    def read_state(self, name: str, database: str) -> dict[str, Any] | None:
        """The last score run of ``name`` on ``database``, or ``None`` (never run, unreadable)."""
        entry = _read_json_object(self.state_file(name)).get(database)
        return entry if isinstance(entry, dict) else None

    def write_state(self, name: str, database: str, entry: Mapping[str, Any]) -> None:
        """Record the score run of ``name`` on ``database``, keeping other databases' runs.

        Written to a temporary file and renamed, so a reader never sees half a file."""
        path = self.state_file(name)
        state = _read_json_object(path)
        state[database] = dict(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)

    def evaluation_dir(self, name: str, at: datetime) -> Path:
        """A new folder name for an evaluation of ``name`` run at ``at`` (not created here)."""
        return self.root / name / EVALUATIONS / at.strftime(_STAMP)


def _where(name: str, version: str) -> str:
    return f"models/{name}/{version}/{MANIFEST_FILE}"


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}
