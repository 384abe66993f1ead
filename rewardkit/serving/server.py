"""``rewardkit serve``: run the reward server on uvicorn.

The CLI wires ``rewardkit serve`` to `add_serve_arguments` / `run_from_args`; the same functions
back ``python -m rewardkit.serving.server``. Binds to 127.0.0.1 unless told otherwise; on any
other address without an API key it warns, because the server then scores for anyone.

Hostile or broken clients are bounded: ``--header-timeout`` (uvicorn has none: a silent or
trickling client is disconnected), ``--body-timeout`` (408), ``--keep-alive-timeout`` and
``--limit-concurrency`` (503 beyond that many connections). An empty ``--api-key`` is refused.

Shutdown (SIGINT/SIGTERM) is graceful: uvicorn stops accepting connections and finishes the
requests in flight (up to ``--shutdown-timeout`` s), then the worker processes are stopped.
"""

from __future__ import annotations

import argparse
import asyncio
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
    parser.add_argument("--header-timeout", type=float, default=d.header_timeout,
                        help="seconds from a request's first byte to its last header, else the connection "
                             "is closed (default: %(default)s)")
    parser.add_argument("--body-timeout", type=float, default=d.body_timeout,
                        help="seconds to receive a whole request body, else 408 (default: %(default)s)")
    parser.add_argument("--keep-alive-timeout", type=float, default=d.keep_alive_timeout,
                        help="idle seconds before a kept-alive connection is closed (default: %(default)s)")
    parser.add_argument("--limit-concurrency", type=int, default=d.limit_concurrency,
                        help="open connections at most; requests beyond get 503 (default: %(default)s)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                        help="server log level (default: %(default)s)")
    parser.add_argument("--access-log", action="store_true",
                        help="log every request (costs throughput; default: off)")
    return parser


def _api_key(given: str | None) -> str | None:
    """The key from ``--api-key``, else ``$REWARDKIT_API_KEY``; an empty one is an error, never
    "no auth" (``--api-key "$KEY"`` with ``KEY`` unset would silently open the server)."""
    if given is not None:
        if not given.strip():
            raise ValueError("--api-key is empty (an unset variable?): give a key, or leave the flag out "
                             "for no authentication")
        return given
    env = os.environ.get(ENV_API_KEY)
    if env is not None and not env.strip():
        raise ValueError(f"${ENV_API_KEY} is set but empty: give a key, or unset it for no authentication")
    return env


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    """`ServerSettings` from parsed ``serve`` flags; raises ValueError for an empty API key."""
    return ServerSettings(
        api_key=_api_key(args.api_key),
        max_body_bytes=args.max_body_bytes,
        max_queue=args.max_queue,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        workers=args.workers,
        concurrency=args.concurrency,
        item_timeout=args.item_timeout,
        fill=args.fill,
        shutdown_timeout=args.shutdown_timeout,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        limit_concurrency=args.limit_concurrency,
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
                            timeout_keep_alive=settings.keep_alive_timeout,  # type: ignore[arg-type]
                            limit_concurrency=settings.limit_concurrency,
                            http=_with_header_timeout(settings.header_timeout), lifespan="on")
    uvicorn.Server(config).run()


def _with_header_timeout(seconds: float) -> type:
    """uvicorn's HTTP protocol plus a deadline on request headers, which uvicorn lacks: a client
    that connects and stays silent, or trickles its headers a byte at a time, is disconnected
    ``seconds`` after its first byte (or after connecting). Bodies have ``body_timeout`` (app)."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class HeaderDeadlineProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _rk_timer: asyncio.TimerHandle | None = None
        _rk_cycle: Any = None

        def _rk_idle(self) -> bool:  # between requests: the next bytes start new headers
            return self.cycle is None or self.cycle.response_complete

        def _rk_arm(self) -> None:
            self._rk_cycle = self.cycle
            self._rk_timer = self.loop.call_later(seconds, self._rk_expire)

        def _rk_disarm(self) -> None:
            if self._rk_timer is not None:
                self._rk_timer.cancel()
                self._rk_timer = None

        def _rk_expire(self) -> None:
            self._rk_timer = None
            if self.cycle is self._rk_cycle and self._rk_idle() and not self.transport.is_closing():
                log.info("closing a connection from %s: no complete request headers within %g s "
                         "(header_timeout)", self.client, seconds)
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._rk_arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._rk_timer is not None and self.cycle is not self._rk_cycle:
                self._rk_disarm()  # headers complete: the body has its own deadline
            if self._rk_timer is None and self._rk_idle() and not self.transport.is_closing():
                self._rk_arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._rk_disarm()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``rewardkit serve`` with parsed arguments; returns the process exit code."""
    from rewardkit.config import ConfigError

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from_args(args)
    except ValueError as e:
        print(f"rewardkit serve: error: {e}", file=sys.stderr)
        return 2
    try:
        serve(args.config, settings, host=args.host, port=args.port,
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
