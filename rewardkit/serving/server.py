"""``rewardkit serve``: run the reward server on uvicorn.

The CLI wires ``rewardkit serve`` to `add_serve_arguments` / `run_from_args`; the same functions
back ``python -m rewardkit.serving.server``. Binds to 127.0.0.1 unless told otherwise; on any
other address without an API key it warns, because the server then scores for anyone.

Shutdown (SIGINT/SIGTERM) is graceful: uvicorn stops accepting connections and finishes the
requests in flight (up to ``--shutdown-timeout`` s), then the worker processes are stopped.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from rewardkit.serving.app import ServerSettings, create_app

__all__ = ["serve", "add_serve_arguments", "run_from_args", "settings_from_args", "ENV_API_KEY"]

ENV_API_KEY = "REWARDKIT_API_KEY"
log = logging.getLogger("rewardkit.serving")


def add_serve_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``serve`` flags to ``parser`` (defaults are `ServerSettings`')."""
    d = ServerSettings()
    parser.add_argument("--config", default=None,
                        help="pipeline YAML/TOML to serve (default: $REWARDKIT_CONFIG, else the math "
                             "verifier, or numeric when it is not installed)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--api-key", default=None,
                        help=f"require 'Authorization: Bearer <key>' (default: ${ENV_API_KEY}; unset = no auth)")
    parser.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes,
                        help="largest request body accepted, else 413 (default: %(default)s)")
    parser.add_argument("--max-queue", type=int, default=d.max_queue,
                        help="items held (queued + scoring) before answering 429 (default: %(default)s)")
    parser.add_argument("--max-batch", type=int, default=d.max_batch,
                        help="items per micro-batch sent to the reward source (default: %(default)s)")
    parser.add_argument("--max-wait-ms", type=float, default=d.max_wait_ms,
                        help="how long a queued item may wait for others to batch with (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=None,
                        help="process-pool size for CPU-heavy sources (default: CPU count)")
    parser.add_argument("--concurrency", type=int, default=d.concurrency,
                        help="concurrent micro-batches for other sources (default: %(default)s)")
    parser.add_argument("--item-timeout", type=float, default=d.item_timeout,
                        help="seconds before an item's micro-batch times out (default: %(default)s)")
    parser.add_argument("--fill", type=float, default=d.fill,
                        help="/get_reward: reward sent for items without a score (default: %(default)s)")
    parser.add_argument("--shutdown-timeout", type=float, default=d.shutdown_timeout,
                        help="seconds to finish in-flight requests at shutdown (default: %(default)s)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--access-log", action="store_true", help="log every request (costs throughput)")
    return parser


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    return ServerSettings(
        api_key=args.api_key or os.environ.get(ENV_API_KEY) or None,
        max_body_bytes=args.max_body_bytes,
        max_queue=args.max_queue,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        workers=args.workers,
        concurrency=args.concurrency,
        item_timeout=args.item_timeout,
        fill=args.fill,
        shutdown_timeout=args.shutdown_timeout,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(pipeline_or_config: Any = None, settings: ServerSettings | None = None, *, host: str = "127.0.0.1",
          port: int = 8000, log_level: str = "info", access_log: bool = False) -> None:
    """Serve a reward source or pipeline config (default: see `rewardkit.integrations._common`)."""
    import uvicorn

    from rewardkit.integrations._common import ENV_CONFIG, default_config

    settings = settings or ServerSettings()
    if pipeline_or_config is None:
        pipeline_or_config = os.environ.get(ENV_CONFIG) or default_config()
    if not _is_loopback(host) and not settings.api_key:
        log.warning("serving on %s without an API key: anyone who can reach it can use it "
                    "(set --api-key or $%s)", host, ENV_API_KEY)
    app = create_app(pipeline_or_config, settings)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=access_log,
                            timeout_graceful_shutdown=int(settings.shutdown_timeout) or None,
                            lifespan="on")
    uvicorn.Server(config).run()


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``rewardkit serve`` with parsed arguments; returns the process exit code."""
    from rewardkit.config import ConfigError

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        serve(args.config, settings_from_args(args), host=args.host, port=args.port,
              log_level=args.log_level, access_log=args.access_log)
    except ConfigError as e:
        print(f"rewardkit serve: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rewardkit.serving.server",
                                     description="Serve a reward pipeline over HTTP.")
    add_serve_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
