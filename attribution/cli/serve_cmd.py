"""``attribution serve [--host 127.0.0.1] [--port 8080] [--state-dir DIR]``: the HTTP service.

It holds the Neo4j credentials (from the operator's settings, as every command does) and
reads its policy only from its state folder (:mod:`attribution.service.config`). It stops
gracefully on SIGINT or SIGTERM: requests in flight are answered and the indicator job in
progress finishes its chunk.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from attribution.cli.common import EXIT_OK, CommandError, connect
from attribution.settings import load_settings

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve",
        help="run the HTTP API, the reviewer console and TAXII 2.1",
        description="Exit code 0 after a graceful stop; 3 when the graph or the port is "
        "unavailable.",
    )
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default 8080)")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="the service's folder: configuration, principals, key, reports (default "
        "<home>/service)",
    )
    parser.set_defaults(func=run)


def _logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("attribution.service", "attribution.service.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _server(app: Any, host: str, port: int) -> Any:
    """A uvicorn server that stops gracefully on SIGINT or SIGTERM and then returns (uvicorn
    on its own raises the signal again after stopping, which would end the process with it
    instead of the command's exit code)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=15,
            server_header=False,
        )
    )


def run(args: argparse.Namespace) -> int:
    from attribution.service.app import build_context, create_app
    from attribution.service.config import load_service_config, state_dir_for

    settings = load_settings()
    config = load_service_config(
        state_dir_for(settings, args.state_dir), host=args.host, port=args.port
    )
    _logging()
    with connect():
        pass  # one clear line and exit 3 when the graph does not answer
    ctx = build_context(settings, config)
    app = create_app(ctx, close_graph=True)
    print(
        f"serving on http://{config.host}:{config.port}/ (docs at /docs, console at "
        f"/console/); report key {ctx.key_fingerprint}; state in {config.state_dir}",
        file=sys.stderr,
        flush=True,
    )
    server = _server(app, config.host, config.port)
    server.run()
    if not server.started:
        raise CommandError(f"cannot listen on {config.host}:{config.port}")
    return EXIT_OK
