#!/usr/bin/env bash
# Sets the machine up, then runs the offline demo end to end (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m attribution.demo "$@"
