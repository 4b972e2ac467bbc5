"""Start, stop and inspect the offline sandbox: nsd plus the RDAP/WHOIS server process.

    sandbox = Sandbox(Path("/tmp/sbx-state"))
    endpoints = sandbox.up(Path("world"))      # picks free ports, waits until all answer
    ...                                        # point resolvers/RDAP/WHOIS clients at endpoints
    sandbox.down()

Both processes run detached, in their own sessions, so they outlive the Python process that
started them (a CLI `up` followed by a later `down`). The endpoints are also written to
``<state_dir>/sandbox.json``, with the limits the RDAP and WHOIS servers enforce when any is
set (``limits``: ``{"rdap": {"requests", "seconds", "burst"} | None, "whois": ...}``), which
``EnrichmentConfig.from_sandbox`` applies as the sandbox registries' published limits.
:meth:`Sandbox.stats` reads how many requests and over-limit answers the servers gave.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import psutil
import requests

from enrichment.sandbox import nsd
from enrichment.sandbox.layout import load_data_dir
from enrichment.sandbox.limiting import SERVICES, LimitSpec, parse_service_limit
from enrichment.sandbox.rdap_server import PROBE_HEADER, STATS_PATH

HOST = "127.0.0.1"
STATE_FILE = "sandbox.json"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
PROBE_TIMEOUT = 1.0
# The directory that holds the enrichment package, for the server subprocess.
REPO_ROOT = Path(__file__).resolve().parents[2]


class SandboxError(RuntimeError):
    """The sandbox could not be started, or is in a state that needs a `down` first."""


def _port_free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                return False
    return True


def free_port(exclude: set[int] | None = None) -> int:
    """A port free on 127.0.0.1 for both TCP and UDP (DNS needs both)."""
    exclude = exclude or set()
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if port not in exclude and _port_free(port):
            return port
    raise SandboxError("no free port found on 127.0.0.1")


@contextlib.contextmanager
def unresponsive_port() -> Iterator[int]:
    """A 127.0.0.1 port that accepts packets and connections but never answers.

    Point a DNS resolver (UDP or TCP) or a WHOIS/RDAP client at it to get a real timeout. The
    sockets belong to the calling process and close when the block ends; nothing is started.
    """
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        port = free_port()
        udp.bind((HOST, port))
        tcp.bind((HOST, port))
        tcp.listen(64)  # never accepted: the kernel completes handshakes, nobody writes
        yield port
    finally:
        udp.close()
        tcp.close()


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie; reaps it if it is our exited child."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group_members(pgid: int) -> list[int]:
    """Processes of a process group, zombies included (they still show in pgrep)."""
    members = []
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid:
                members.append(proc.pid)
    return members


def _ours(pid: int, marker: str) -> bool:
    """Whether pid still runs the program we started (a pid can be reused after a crash)."""
    try:
        return marker in " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False


def _wait_group_empty(pgid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        _alive(pgid)  # reaps the leader when it is our own child
        if not _group_members(pgid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _stop_group(pid: int) -> bool:
    """Stop the process group led by pid; True if there was anything to stop.

    SIGTERM goes to the leader first, so that nsd stops and reaps its own children; whatever is
    left after STOP_TIMEOUT gets SIGTERM as a group, then SIGKILL.
    """
    if not _group_members(pid):
        _alive(pid)
        return False
    steps: list[tuple[bool, signal.Signals]] = [
        (False, signal.SIGTERM),
        (True, signal.SIGTERM),
        (True, signal.SIGKILL),
    ]
    for whole_group, sig in steps:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if whole_group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        if _wait_group_empty(pid, STOP_TIMEOUT):
            break
    return True


def probe_dns(port: int, zone: str) -> bool:
    """Whether something answers DNS over UDP on the port (any rcode counts)."""
    query = dns.message.make_query(zone or ".", "SOA")
    try:
        dns.query.udp(query, HOST, port=port, timeout=PROBE_TIMEOUT)
    except (dns.exception.DNSException, OSError):
        return False
    return True


def probe_rdap(base_url: str) -> bool:
    """Whether the RDAP server answers its help path (marked as a probe: it spends no fault)."""
    try:
        answer = requests.get(base_url + "help", timeout=PROBE_TIMEOUT, headers=PROBE_HEADER)
        return answer.status_code == 200
    except requests.RequestException:
        return False


def probe_whois(port: int) -> bool:
    """Whether the WHOIS server answers a query and closes the connection."""
    try:
        with socket.create_connection((HOST, port), timeout=PROBE_TIMEOUT) as conn:
            conn.sendall(b"sandbox-probe.invalid\r\n")
            while conn.recv(4096):
                pass
    except OSError:
        return False
    return True


def _log_tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _pick_ports(*asked: int | None) -> list[int]:
    """The ports asked for, with a distinct free port wherever none was asked."""
    taken: set[int] = set()
    ports = []
    for asked_port in asked:
        port = asked_port if asked_port is not None else free_port(taken)
        taken.add(port)
        ports.append(port)
    return ports


class Sandbox:
    """The sandbox whose processes and files live in one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir).resolve()

    @property
    def state_file(self) -> Path:
        """Where the endpoints of the running sandbox are recorded."""
        return self.state_dir / STATE_FILE

    def endpoints(self) -> dict[str, Any] | None:
        """The recorded endpoints, or None when the sandbox was never started or is down."""
        if not self.state_file.exists():
            return None
        loaded: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        return loaded

    def up(
        self,
        data_dir: Path,
        *,
        dns_port: int | None = None,
        rdap_port: int | None = None,
        whois_port: int | None = None,
        limits: Mapping[str, LimitSpec] | None = None,
    ) -> dict[str, Any]:
        """Start nsd and the RDAP/WHOIS process on data_dir; return the endpoints.

        ``limits`` maps ``rdap`` / ``whois`` to the limit that server enforces (none when
        absent). Idempotent when already up on the same data directory (the ports asked for
        must then match, or be None, and the limits must match). Raises SandboxError if it is
        up on another directory.
        """
        data_root = Path(data_dir).resolve()
        # Recorded only when a server is limited, so unlimited sandboxes keep their old file.
        published = (
            {s: (limits[s].to_dict() if s in limits else None) for s in SERVICES}
            if limits
            else None
        )
        running = self._already_up(data_root, dns_port, rdap_port, whois_port)
        if running is not None:
            if running.get("limits") != published:
                raise SandboxError("sandbox already up with other limits; run down first")
            return running
        data = load_data_dir(data_root)
        nsd.check_zones(data)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        dns_p, rdap_p, whois_p = _pick_ports(dns_port, rdap_port, whois_port)
        nsd_proc = nsd.start(
            nsd.write_config(data, self.state_dir, dns_p), self.state_dir / "nsd.out"
        )
        serve_proc = self._start_servers(data_root, rdap_p, whois_p, limits or {})
        endpoints: dict[str, Any] = {
            "dns_host": HOST,
            "dns_port": dns_p,
            "rdap_base_url": self._url(rdap_p),
            "rdap_bootstrap_url": self._url(rdap_p) + "bootstrap/",
            "whois_host": HOST,
            "whois_port": whois_p,
            "data_dir": str(data_root),
            "pids": {"nsd": nsd_proc.pid, "servers": serve_proc.pid},
        }
        if published is not None:
            endpoints["limits"] = published
        self.state_file.write_text(json.dumps(endpoints, indent=2) + "\n", encoding="utf-8")
        self._wait_ready(endpoints, min(data.zones, default="."), nsd_proc, serve_proc)
        return endpoints

    def _already_up(
        self,
        data_root: Path,
        dns_port: int | None,
        rdap_port: int | None,
        whois_port: int | None,
    ) -> dict[str, Any] | None:
        """The running sandbox's endpoints when it serves ``data_root`` on the ports asked for;
        None when nothing runs (half-dead leftovers are cleared). Raises on any clash."""
        current = self.endpoints()
        if current is None:
            return None
        state = self.status()
        if state["up"] and current["data_dir"] == str(data_root):
            asked = {"dns_port": dns_port, "whois_port": whois_port}
            clash = [k for k, v in asked.items() if v is not None and v != current[k]]
            if rdap_port is not None and current["rdap_base_url"] != self._url(rdap_port):
                clash.append("rdap_port")
            if clash:
                raise SandboxError(f"sandbox already up with other {', '.join(clash)}")
            return current
        if state["up"]:
            raise SandboxError(
                f"sandbox in {self.state_dir} is up on {current['data_dir']}; run down first"
            )
        self.down()
        return None

    def _start_servers(
        self, data_root: Path, rdap_p: int, whois_p: int, limits: Mapping[str, LimitSpec]
    ) -> subprocess.Popen[bytes]:
        """Start the RDAP and WHOIS process in its own session, logging to ``serve.log``."""
        command = [
            sys.executable,
            "-m",
            "enrichment.sandbox.serve",
            "--data-dir",
            str(data_root),
            "--rdap-port",
            str(rdap_p),
            "--whois-port",
            str(whois_p),
        ]
        for service, spec in sorted(limits.items()):
            command += ["--limit", f"{service}={spec.text()}"]
        with (self.state_dir / "serve.log").open("ab") as log:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=str(REPO_ROOT),
                env={**os.environ, "PYTHONPATH": self._pythonpath()},
            )

    def _wait_ready(
        self,
        endpoints: dict[str, Any],
        first_zone: str,
        nsd_proc: subprocess.Popen[bytes],
        serve_proc: subprocess.Popen[bytes],
    ) -> None:
        """Wait until DNS, RDAP and WHOIS all answer; stop everything and raise when a process
        exits or :data:`START_TIMEOUT` passes first."""
        deadline = time.monotonic() + START_TIMEOUT
        ready = {"dns": False, "rdap": False, "whois": False}
        while time.monotonic() < deadline:
            for name, proc, log_path in (
                ("nsd", nsd_proc, self.state_dir / "nsd" / "nsd.log"),
                ("servers", serve_proc, self.state_dir / "serve.log"),
            ):
                if proc.poll() is not None:
                    self.down()
                    detail = _log_tail(log_path) or _log_tail(self.state_dir / "nsd.out")
                    raise SandboxError(f"{name} exited with status {proc.returncode}:\n{detail}")
            ready["dns"] = ready["dns"] or probe_dns(endpoints["dns_port"], first_zone)
            ready["rdap"] = ready["rdap"] or probe_rdap(endpoints["rdap_base_url"])
            ready["whois"] = ready["whois"] or probe_whois(endpoints["whois_port"])
            if all(ready.values()):
                return
            time.sleep(0.1)
        self.down()
        waiting = sorted(k for k, v in ready.items() if not v)
        raise SandboxError(f"sandbox did not answer within {START_TIMEOUT:.0f}s: {waiting}")

    @staticmethod
    def _url(port: int) -> str:
        return f"http://{HOST}:{port}/"

    @staticmethod
    def _pythonpath() -> str:
        root = str(REPO_ROOT)
        existing = os.environ.get("PYTHONPATH")
        return f"{root}{os.pathsep}{existing}" if existing else root

    def stats(self) -> dict[str, dict[str, int]]:
        """Requests and over-limit answers of the RDAP and WHOIS servers since they started:
        ``{"rdap": {"requests": n, "over_limit": n}, "whois": {...}}``."""
        current = self.endpoints()
        if current is None:
            raise SandboxError(f"no sandbox recorded in {self.state_dir}")
        url = str(current["rdap_base_url"]).rstrip("/") + STATS_PATH
        try:
            answer = requests.get(url, timeout=5.0)
            answer.raise_for_status()
            stats: dict[str, dict[str, int]] = answer.json()
        except (requests.RequestException, ValueError) as error:
            raise SandboxError(f"sandbox stats not readable at {url}: {error}") from error
        return stats

    def down(self) -> bool:
        """Stop both processes (SIGTERM, then SIGKILL). True if anything was running."""
        current = self.endpoints()
        if current is None:
            return False
        stopped = False
        markers = {"nsd": "nsd", "servers": "enrichment.sandbox.serve"}
        pids = [
            pid
            for name, pid in current.get("pids", {}).items()
            if _ours(pid, markers.get(name, "")) or _group_members(pid)
        ]
        for pid in pids:  # both shut down in parallel; _stop_group then waits and escalates
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
        for pid in pids:
            stopped = _stop_group(pid) or stopped
        self.state_file.unlink(missing_ok=True)
        return stopped

    def stop_dns(self) -> bool:
        """Stop the DNS server alone, RDAP and WHOIS staying up: a fault drill for "DNS down".

        True if it was running. :meth:`start_dns` brings it back on the same port.
        """
        current = self.endpoints()
        pid = (current or {}).get("pids", {}).get("nsd")
        if pid is None or not (_ours(pid, "nsd") or _group_members(pid)):
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
        return _stop_group(pid)

    def start_dns(self) -> None:
        """Start the DNS server again on its recorded port after :meth:`stop_dns`."""
        current = self.endpoints()
        if current is None:
            raise SandboxError(f"no sandbox recorded in {self.state_dir}")
        data = load_data_dir(Path(current["data_dir"]))
        conf = nsd.write_config(data, self.state_dir, int(current["dns_port"]))
        proc = nsd.start(conf, self.state_dir / "nsd.out")
        current["pids"]["nsd"] = proc.pid
        self.state_file.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
        deadline = time.monotonic() + START_TIMEOUT
        while not probe_dns(int(current["dns_port"]), min(data.zones, default=".")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SandboxError(
                    f"nsd did not come back: {_log_tail(self.state_dir / 'nsd.out')}"
                )
            time.sleep(0.1)

    def status(self) -> dict[str, Any]:
        """What is really running: each recorded pid checked, each port probed."""
        current = self.endpoints()
        if current is None:
            return {"up": False, "endpoints": None, "processes": {}, "answering": {}}
        markers = {"nsd": "nsd", "servers": "enrichment.sandbox.serve"}
        processes = {
            name: {"pid": pid, "alive": _alive(pid) and _ours(pid, markers.get(name, ""))}
            for name, pid in current["pids"].items()
        }
        zone = next(iter(sorted(load_zone_names(Path(current["data_dir"])))), ".")
        answering = {
            "dns": probe_dns(current["dns_port"], zone),
            "rdap": probe_rdap(current["rdap_base_url"]),
            "whois": probe_whois(current["whois_port"]),
        }
        up = all(p["alive"] for p in processes.values()) and all(answering.values())
        return {"up": up, "endpoints": current, "processes": processes, "answering": answering}


def load_zone_names(data_dir: Path) -> list[str]:
    """Zone origins of a data directory, from the zone file names (no validation)."""
    return sorted(p.name[: -len(".zone")] for p in (data_dir / "dns" / "zones").glob("*.zone"))


def main(argv: list[str] | None = None) -> int:
    """Command line: up / down / status for a state directory."""
    parser = argparse.ArgumentParser(prog="python -m enrichment.sandbox.manager")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--dns-port", type=int)
    parser.add_argument("--rdap-port", type=int)
    parser.add_argument("--whois-port", type=int)
    parser.add_argument("--limit", action="append", default=[], metavar="SERVICE=RATE/SECONDS")
    args = parser.parse_args(argv)
    sandbox = Sandbox(args.state_dir)
    if args.command == "up":
        if args.data_dir is None:
            parser.error("up needs --data-dir")
        result: Any = sandbox.up(
            args.data_dir,
            dns_port=args.dns_port,
            rdap_port=args.rdap_port,
            whois_port=args.whois_port,
            limits=dict(parse_service_limit(text) for text in args.limit),
        )
    elif args.command == "down":
        result = {"stopped": sandbox.down()}
    else:
        result = sandbox.status()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
