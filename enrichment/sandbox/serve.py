"""Run the sandbox RDAP and WHOIS servers in one process until SIGTERM or SIGINT.

    python -m enrichment.sandbox.serve --data-dir D --rdap-port P --whois-port Q \
        [--limit rdap=RATE/SECONDS[:BURST]] [--limit whois=RATE/SECONDS[:BURST]]

Both servers bind 127.0.0.1 only. A limit is enforced across all connections of a server
(see :mod:`enrichment.sandbox.limiting`). The data directory is loaded and validated before either
server binds, so a bad file stops the process with a message naming it (exit status 2).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from enrichment.sandbox.layout import LayoutError, load_data_dir
from enrichment.sandbox.limiting import SandboxStats, parse_service_limit
from enrichment.sandbox.rdap_server import RdapServer
from enrichment.sandbox.whois_server import WhoisServer

HOST = "127.0.0.1"


def main(argv: list[str] | None = None) -> int:
    """Serve until a termination signal; return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rdap-port", type=int, required=True)
    parser.add_argument("--whois-port", type=int, required=True)
    parser.add_argument("--limit", action="append", default=[], metavar="SERVICE=RATE/SECONDS")
    args = parser.parse_args(argv)
    try:
        limits = dict(parse_service_limit(text) for text in args.limit)
        stats = SandboxStats(limits.get("rdap"), limits.get("whois"))
        data = load_data_dir(args.data_dir)
        rdap = RdapServer((HOST, args.rdap_port), data, stats)
        whois = WhoisServer((HOST, args.whois_port), data, stats)
    except (LayoutError, OSError, ValueError) as exc:
        print(f"sandbox serve: {exc}", file=sys.stderr, flush=True)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )
        for name, server in (("rdap", rdap), ("whois", whois))
    ]
    for thread in threads:
        thread.start()
    print(
        f"sandbox serve: RDAP on {rdap.base_url}, WHOIS on {HOST}:{args.whois_port}, "
        f"data {data.root}",
        file=sys.stderr,
        flush=True,
    )
    while not stop.wait(0.1):  # a timed wait lets the signal handler run promptly
        pass
    for server in (rdap, whois):
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
