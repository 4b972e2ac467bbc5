#!/usr/bin/env bash
# Sets the machine up, then runs every test (unit, integration against a real Neo4j, sandbox
# against real nsd/RDAP/WHOIS servers on 127.0.0.1, browser rendering) and the linters.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check attribution enrichment tests benchmarks
.venv/bin/mypy
# pytest exits 5 when it collected no tests; with `set -e` that fails the run, as it should.
.venv/bin/pytest "$@"
