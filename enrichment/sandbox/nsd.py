"""Run Debian's nsd as the sandbox's authoritative DNS server.

nsd reads the zone files straight from the data directory; everything it writes (config,
pidfile, log, transfer state) lives in the state directory. It runs without chroot and without
dropping privileges so that an unprivileged user can run it on a high port.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from enrichment.sandbox.layout import DataDir

NSD_BINARIES = ("nsd", "nsd-checkconf", "nsd-checkzone")
NSD_PACKAGE_HINT = "install Debian's nsd package: apt-get install -y nsd"


class NsdError(RuntimeError):
    """nsd is missing, or rejected the configuration or a zone file."""


def find_binary(name: str) -> str:
    """Absolute path of an nsd program; Debian installs them in /usr/sbin."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise NsdError(f"{name} not found; {NSD_PACKAGE_HINT}")
    return found


def _quote(path: Path | str) -> str:
    text = str(path)
    if '"' in text or "\n" in text:
        raise NsdError(f"path not usable in nsd.conf: {text!r}")
    return f'"{text}"'


def render_config(data: DataDir, state_dir: Path, port: int, *, verbosity: int = 1) -> str:
    """The text of nsd.conf serving every zone of the data directory on 127.0.0.1:port.

    Zones listed in faults.json as servfail_zones are declared with a zone file that does not
    exist: nsd then answers SERVFAIL for every name in them.
    """
    nsd_state = state_dir / "nsd"
    lines = [
        "server:",
        "  ip-address: 127.0.0.1",
        f"  port: {port}",
        "  do-ip4: yes",
        "  do-ip6: no",
        "  server-count: 1",
        f"  verbosity: {verbosity}",
        "  hide-version: yes",
        '  database: ""',
        '  chroot: ""',
        '  username: ""',
        f"  pidfile: {_quote(nsd_state / 'nsd.pid')}",
        f"  logfile: {_quote(nsd_state / 'nsd.log')}",
        f"  zonesdir: {_quote(data.root / 'dns' / 'zones')}",
        f"  zonelistfile: {_quote(nsd_state / 'zone.list')}",
        f"  xfrdfile: {_quote(nsd_state / 'xfrd.state')}",
        f"  xfrdir: {_quote(nsd_state / 'xfr')}",
        "",
        "remote-control:",
        "  control-enable: no",
        "",
    ]
    for origin, path in sorted(data.zones.items()):
        lines += ["zone:", f"  name: {_quote(origin)}", f"  zonefile: {_quote(path)}", ""]
    for origin in data.faults.servfail_zones:
        missing = nsd_state / "servfail" / f"{origin}.zone"
        lines += ["zone:", f"  name: {_quote(origin)}", f"  zonefile: {_quote(missing)}", ""]
    return "\n".join(lines)


def check_zones(data: DataDir) -> None:
    """Run nsd-checkzone on every zone; raise NsdError quoting nsd's own message."""
    checkzone = find_binary("nsd-checkzone")
    for origin, path in sorted(data.zones.items()):
        result = subprocess.run(
            [checkzone, origin, str(path)], capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip()
            raise NsdError(f"zone {origin} ({path}) rejected by nsd-checkzone: {message}")


def write_config(data: DataDir, state_dir: Path, port: int, *, verbosity: int = 1) -> Path:
    """Write and check nsd.conf in state_dir/nsd; return its path."""
    nsd_state = state_dir / "nsd"
    (nsd_state / "xfr").mkdir(parents=True, exist_ok=True)
    conf = nsd_state / "nsd.conf"
    conf.write_text(render_config(data, state_dir, port, verbosity=verbosity), encoding="utf-8")
    result = subprocess.run(
        [find_binary("nsd-checkconf"), str(conf)], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip()
        raise NsdError(f"{conf} rejected by nsd-checkconf: {message}")
    return conf


def start(conf: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """Start nsd in the foreground (-d) as a detached child in its own session.

    Its own session means a signal to the caller's terminal does not reach it, and the whole
    process group (nsd forks xfrd and a server process) can be stopped together.
    """
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [find_binary("nsd"), "-d", "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
