"""Run the `attribution` command as a subprocess, the way a user or a script would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_attribution(
    env: dict[str, str], *args: str, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`attribution ARGS...` with ``env``; output captured as text, exit code not checked."""
    return subprocess.run(
        [sys.executable, "-m", "attribution.cli.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
