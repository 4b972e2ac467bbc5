#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine; safe to run again.
#   Debian packages: Java 17 and Maven (to resolve and run Neo4j), nsd (the sandbox's DNS
#   server), chromium (renders the HTML reports, drives the console in the tests), redis-server
#   (the enrichment broker and shared registry limits; the project runs its own instances).
#   A virtual environment in .venv with the pinned Python packages.
#   The Neo4j jars, resolved from Maven Central into ~/.cache/attribution (first run only).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(openjdk-17-jre-headless maven nsd chromium redis-server python3-venv)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# nsd's package enables a system service on port 53; the project runs its own instances.
for service in nsd redis-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
    systemctl stop "$service" || true
  fi
done

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "setup: installing Python packages (pinned in pyproject.toml)"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

echo "setup: resolving Neo4j from Maven Central (cached after the first run)"
.venv/bin/python -c "from attribution.neo4j_server import resolve_distribution; from attribution.settings import load_settings; print('setup: neo4j jars in', resolve_distribution(load_settings().home))"
