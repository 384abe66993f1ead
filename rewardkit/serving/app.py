"""The reward server: any reward source (usually a `Pipeline`) over HTTP.

Endpoints
---------
``POST /score``        native batch endpoint. Request ``{"samples": [{"prompt", "completion",
                       "reference", "id", "group_id", "steps", "metadata"}, ...], "request_id"?,
                       "include_info"?}``; response ``{"request_id", "results": [{"id", "score",
                       "status", "components", "steps"?, "token_scores"?, "token_spans"?, "info"?}],
                       "counts": {status: n}}``. One result per sample, in order; a sample that fails
                       has its own status, the request still succeeds (200).
``POST /get_reward``   OpenRLHF's remote reward protocol (see `rewardkit.integrations.openrlhf`):
                       ``{"query": [...], "prompts"?: [...], "labels"?: [...]}`` ->
                       ``{"rewards": [...], "scores": [...], "extra_logs": {...}}``.
``GET /health``        readiness (503 while draining at shutdown; ``HEAD`` too). Never needs the API key.
``GET /metrics``       Prometheus text format (names in `rewardkit.serving.metrics`).

Errors are JSON ``{"detail": message}`` (plus ``"field"`` for 422): 400 malformed JSON, 401 missing
or wrong bearer token, 404/405 unknown endpoint or method, 413 body over ``max_body_bytes``
(refused from ``Content-Length`` before reading, and by a streaming cap for chunked bodies) or a
request bigger than the queue, 422 schema violations naming the field (``samples[3].completion``),
429 queue full with ``Retry-After``, 503 shutting down or over ``limit_concurrency`` connections,
408 a body not received within ``body_timeout`` (headers get ``header_timeout``, after which the
connection is closed). Requests carry an id (``X-Request-ID`` header or ``request_id`` field of
printable ASCII; generated when absent) echoed in the response header.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rewardkit.integrations._common import policy_for
from rewardkit.integrations.openrlhf import openrlhf_response, samples_from_openrlhf
from rewardkit.serving.batching import Closed, MicroBatcher, QueueFull, TooLarge
from rewardkit.serving.metrics import CONTENT_TYPE_LATEST, ServerMetrics
from rewardkit.status_policy import status_before_fill
from rewardkit.types import Sample, Status

__all__ = ["ServerSettings", "create_app", "load_source"]

_ENDPOINTS = {"/score": "score", "/get_reward": "get_reward", "/health": "health", "/metrics": "metrics"}
_ENDPOINT_LIST = "POST /score, POST /get_reward, GET|HEAD /health, GET /metrics"
log = logging.getLogger("rewardkit.serving")


@dataclass
class ServerSettings:
    """Server limits and behaviour; every field has a ``rewardkit serve`` flag of the same name."""

    api_key: str | None = field(default=None, repr=False)  # bearer token; None = no auth
    max_body_bytes: int = 16 * 1024 * 1024
    max_queue: int = 4096  # items held (queued + being scored) before 429
    max_batch: int = 64  # items per micro-batch
    max_wait_ms: float = 5.0  # how long the oldest queued item may wait for company
    workers: int | None = None  # process-pool size for cpu_heavy sources (default: CPU count)
    concurrency: int = 4  # concurrent micro-batches for other sources
    item_timeout: float = 60.0  # seconds a micro-batch may take before its items time out
    fill: float = 0.0  # /get_reward only: reward sent for non-ok items (the protocol has no null)
    shutdown_timeout: float = 30.0
    # hostile or broken clients: every connection is bounded in time, and their number is capped
    header_timeout: float = 10.0  # seconds from a request's first byte to its last header line
    body_timeout: float = 60.0  # seconds to receive a whole request body, else 408
    keep_alive_timeout: float = 5.0  # idle seconds before a kept-alive connection is closed
    limit_concurrency: int = 512  # open connections; a request beyond it gets 503

    def __post_init__(self) -> None:
        if self.api_key is not None and not self.api_key.strip():
            raise ValueError("api_key is empty (an unset variable?): give a key, or None for no auth")
        for name in ("header_timeout", "body_timeout", "keep_alive_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.limit_concurrency < 1:
            raise ValueError(f"limit_concurrency must be >= 1, got {self.limit_concurrency}")

    def resolved_workers(self) -> int:
        return self.workers if self.workers is not None else max(1, os.cpu_count() or 1)


class HTTPError(Exception):
    def __init__(self, status: int, detail: str, field: str | None = None,
                 headers: dict[str, str] | None = None, reason: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.field, self.headers, self.reason = status, detail, field, headers, reason


# -- request schemas --------------------------------------------------------------------------
class SampleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt: str | list[dict[str, Any]] = ""
    completion: str | list[dict[str, Any]]
    reference: Any = None
    id: str | int | None = None
    group_id: str | int | None = None
    steps: list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    samples: list[SampleIn]
    # echoed in the X-Request-ID header: printable ASCII only (no CR/LF/NUL header injection)
    request_id: str | None = Field(default=None, max_length=200, pattern=r"^[\x21-\x7e]+$")
    include_info: bool = True


class GetRewardRequest(BaseModel):
    """OpenRLHF's body. Unknown keys are ignored (its clients add fields over time)."""

    model_config = ConfigDict(extra="ignore")

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "list", "dict"}


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's union-branch tags (``str``, ``list[dict[str,any]]``) from an error location."""
    return tuple(p for p in loc if not (isinstance(p, str) and (p in _TYPE_TAGS or "[" in p)))


def _loc(loc: tuple[Any, ...]) -> str:
    out = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return out or "<body>"


def _parse(model: type[BaseModel], body: bytes) -> Any:
    if not body.strip():
        raise HTTPError(400, "empty request body; expected a JSON object", reason="invalid")
    try:
        return model.model_validate_json(body)
    except ValidationError as e:
        errs = e.errors(include_url=False, include_input=False)
        first = errs[0]
        if first["type"] == "json_invalid":
            raise HTTPError(400, f"malformed JSON: {first['msg']}", reason="invalid") from None
        where = _loc(_clean_loc(first["loc"]))
        by_field: dict[str, list[str]] = {}
        for x in errs[:8]:  # a union field gives one error per alternative: join them
            by_field.setdefault(_loc(_clean_loc(x["loc"])), []).append(x["msg"])
        msg = "; ".join(f"{k}: {', or '.join(dict.fromkeys(v))}" for k, v in by_field.items())
        raise HTTPError(422, msg, field=where, reason="invalid") from None


def load_source(source: Any) -> Any:
    """A reward source from a pipeline config (path, dict, `PipelineConfig`) or a source object."""
    from rewardkit.config import PipelineConfig

    if isinstance(source, (str, Path, dict, PipelineConfig)):
        from rewardkit.pipeline import Pipeline

        return Pipeline(source)
    if not (hasattr(source, "score") and hasattr(source, "ascore")):
        raise TypeError(f"expected a reward source or a pipeline config, got {type(source).__name__}")
    return source


def _json_bytes(data: Any) -> bytes:
    try:
        return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # e.g. an integer id beyond 64 bits: exact, just slower
        return json.dumps(data, default=str, ensure_ascii=False, separators=(",", ":")).encode()


def _safe_request_id(raw: bytes | str) -> str:
    """A client-given id fit to echo in a header: printable ASCII, at most 200 characters."""
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    return "".join(c for c in text if "!" <= c <= "~")[:200]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_json_bytes(data), status_code=status, headers=headers, media_type="application/json")


def render_openrlhf(payload: dict[str, Any]) -> bytes:
    """The bytes starlette's JSONResponse (OpenRLHF's server) produces for ``payload``."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


if sys.version_info >= (3, 11):
    async def _receive_by(receive: Any, deadline: float) -> Any:
        async with asyncio.timeout_at(deadline):
            return await receive()
else:  # pragma: no cover
    async def _receive_by(receive: Any, deadline: float) -> Any:
        try:
            return await asyncio.wait_for(receive(), max(0.0, deadline - asyncio.get_running_loop().time()))
        except asyncio.TimeoutError:
            raise TimeoutError from None


class _Reply:
    __slots__ = ("status", "body", "headers")

    def __init__(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}


class _ScoringLayer:
    """Pure ASGI layer in front of FastAPI: serves ``POST /score`` and ``POST /get_reward`` directly
    and counts every request (by endpoint and status code) for ``/metrics``.

    The two scoring endpoints are the hot path (thousands of small requests per second); answering
    them here, without FastAPI's routing, dependency and exception layers, halves the server's CPU
    per request. Everything else (``/health``, ``/metrics``, 404/405) goes to the FastAPI app.
    """

    def __init__(self, app: Any, handlers: dict[str, Any], metrics: ServerMetrics,
                 on_error: Any) -> None:
        self.app, self.handlers, self.metrics, self.on_error = app, handlers, metrics, on_error
        self._children: dict[tuple[str, int], Any] = {}
        self._latency = {e: metrics.latency.labels(e) for e in (*_ENDPOINTS.values(), "other")}

    def _count(self, endpoint: str, status: int, dt: float) -> None:
        child = self._children.get((endpoint, status))
        if child is None:
            child = self._children[(endpoint, status)] = self.metrics.requests.labels(endpoint, str(status))
        child.inc()
        self._latency[endpoint].observe(dt)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        path = scope["path"]
        endpoint = _ENDPOINTS.get(path, "other")
        handler = self.handlers.get(path)
        if handler is None:
            status = 500

            async def send_wrapper(message: dict[str, Any]) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                self._count(endpoint, status, time.perf_counter() - t0)
            return
        headers = {k: v for k, v in scope["headers"] if k in (b"authorization", b"content-length",
                                                              b"x-request-id", b"transfer-encoding")}
        try:
            if scope["method"] != "POST":
                raise HTTPError(405, f"method {scope['method']} not allowed on {path}; endpoints: {_ENDPOINT_LIST}",
                                headers={"Allow": "POST"})
            reply = await handler(headers, receive)
        except HTTPError as e:
            reply = self.on_error(e, headers)
        except Exception:  # noqa: BLE001 - a bug must not kill the connection silently
            log.exception("error while serving %s", path)
            reply = _Reply(500, _json_bytes({"detail": "internal server error (see the server log)"}))
        out_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(reply.body)).encode())]
        out_headers += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
        await send({"type": "http.response.start", "status": reply.status, "headers": out_headers})
        await send({"type": "http.response.body", "body": reply.body})
        self._count(endpoint, reply.status, time.perf_counter() - t0)


def create_app(pipeline_or_config: Any, settings: ServerSettings | None = None) -> FastAPI:
    """A FastAPI app serving ``pipeline_or_config`` (a source, or a config path/dict)."""
    settings = settings or ServerSettings()
    source = load_source(pipeline_or_config)
    metrics = ServerMetrics()
    batcher = MicroBatcher(
        source, max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms, max_queue=settings.max_queue,
        item_timeout=settings.item_timeout, workers=settings.resolved_workers(),
        concurrency=settings.concurrency, metrics=metrics,
    )
    components = list(getattr(source, "component_names", None) or [getattr(source, "name", "reward")])
    pipeline_components = list(getattr(source, "component_names", None) or [])
    status_policy = policy_for(source)  # the pipeline's status_policy: for /get_reward
    api_key = settings.api_key.encode() if settings.api_key else None
    item_counters = {st: metrics.items.labels(st.value) for st in Status}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            # uvicorn has already finished the in-flight requests; drain whatever is left.
            await batcher.close(timeout=settings.shutdown_timeout)
            close = getattr(source, "close", None)
            if close is not None:
                close()

    app = FastAPI(title="rewardkit reward server", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.source = source
    app.state.batcher = batcher
    app.state.metrics = metrics
    app.state.settings = settings

    # -- helpers ---------------------------------------------------------------------------------
    def check_auth(authorization: bytes | None) -> None:
        if api_key is None:
            return
        scheme, _, token = (authorization or b"").partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), api_key):
            raise HTTPError(401, "missing or wrong API key: send 'Authorization: Bearer <key>'",
                            headers={"WWW-Authenticate": "Bearer"}, reason="auth")

    async def read_body(headers: dict[bytes, bytes], receive: Any) -> bytes:
        cap = settings.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise HTTPError(400, f"invalid Content-Length header {declared.decode('latin-1')!r}",
                                reason="invalid") from None
            if size > cap:  # refuse before reading a byte of it
                raise HTTPError(413, f"request body of {size} bytes exceeds the limit of {cap} bytes "
                                     "(max_body_bytes)", reason="too_large")
        chunks: list[bytes] = []
        total = 0
        deadline = asyncio.get_running_loop().time() + settings.body_timeout
        while True:
            try:  # a body trickled, or shorter than its Content-Length, must not hold the connection
                message = await _receive_by(receive, deadline)
            except TimeoutError:
                raise HTTPError(408, f"request body not received within {settings.body_timeout:g} s "
                                     "(body_timeout)", headers={"Connection": "close"},
                                reason="timeout") from None
            if message["type"] == "http.disconnect":
                raise HTTPError(499, "client disconnected", reason="disconnected")
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > cap:  # chunked bodies: a streaming cap
                raise HTTPError(413, f"request body exceeds the limit of {cap} bytes (max_body_bytes)",
                                reason="too_large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def run(samples: list[Sample]) -> list[Any]:
        try:
            results = await batcher.submit(samples)
        except QueueFull as e:
            raise HTTPError(429, str(e), headers={"Retry-After": str(e.retry_after)}, reason="queue_full") from None
        except TooLarge as e:
            raise HTTPError(413, str(e), reason="too_large") from None
        except Closed as e:
            raise HTTPError(503, str(e), headers={"Retry-After": "5"}, reason="closing") from None
        for r in results:  # counted before any pipeline fill: a fill changes the reward, not what happened
            item_counters[Status(status_before_fill(r))].inc()
        return results

    def request_id(headers: dict[bytes, bytes], given: str | None = None) -> str:
        rid = given or _safe_request_id(headers.get(b"x-request-id", b""))
        return rid or uuid.uuid4().hex

    def on_error(exc: HTTPError, headers: dict[bytes, bytes]) -> _Reply:
        if exc.reason is not None:
            metrics.rejected.labels(exc.reason).inc()
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.field is not None:
            body["field"] = exc.field
        out = dict(exc.headers or {})
        rid = _safe_request_id(headers.get(b"x-request-id", b""))
        if rid:
            out["X-Request-ID"] = rid
        return _Reply(exc.status, _json_bytes(body), out)

    # -- scoring endpoints (served by _ScoringLayer) ----------------------------------------------
    async def score(headers: dict[bytes, bytes], receive: Any) -> _Reply:
        check_auth(headers.get(b"authorization"))
        req: ScoreRequest = _parse(ScoreRequest, await read_body(headers, receive))
        rid = request_id(headers, req.request_id)
        samples = [Sample(prompt=s.prompt, completion=s.completion, reference=s.reference, id=s.id,  # type: ignore[arg-type]
                          group_id=s.group_id, steps=s.steps, metadata=s.metadata) for s in req.samples]
        results = await run(samples)
        out = []
        counts: dict[str, int] = {}
        for i, (s, r) in enumerate(zip(samples, results, strict=True)):
            d = r.to_dict()
            if not req.include_info:
                d.pop("info", None)
            d["index"] = i
            d["id"] = s.id
            counts[d["status"]] = counts.get(d["status"], 0) + 1
            out.append(d)
        return _Reply(200, _json_bytes({"request_id": rid, "results": out, "counts": counts}),
                      {"X-Request-ID": rid})

    async def get_reward(headers: dict[bytes, bytes], receive: Any) -> _Reply:
        check_auth(headers.get(b"authorization"))
        req: GetRewardRequest = _parse(GetRewardRequest, await read_body(headers, receive))
        n = len(req.query)
        for name in ("prompts", "labels"):
            v = getattr(req, name)
            if v is not None and len(v) != n:
                raise HTTPError(422, f"{name} has {len(v)} items but query has {n}; they must match",
                                field=name, reason="invalid")
        results = await run(samples_from_openrlhf(req.query, req.prompts, req.labels))
        payload = openrlhf_response(results, pipeline_components, fill=settings.fill, policy=status_policy)
        # rendered exactly as OpenRLHF's own reward server renders it (starlette JSONResponse)
        return _Reply(200, render_openrlhf(payload), {"X-Request-ID": request_id(headers)})

    # -- FastAPI routes ----------------------------------------------------------------------------
    @app.exception_handler(StarletteHTTPException)
    async def _not_found(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            detail = f"no endpoint {request.method} {request.url.path}; endpoints: {_ENDPOINT_LIST}"
        elif exc.status_code == 405:
            detail = f"method {request.method} not allowed on {request.url.path}; endpoints: {_ENDPOINT_LIST}"
        else:
            detail = str(exc.detail)
        return _json({"detail": detail}, exc.status_code, dict(exc.headers or {}))

    @app.api_route("/health", methods=["GET", "HEAD"])
    async def health() -> Response:
        body = {
            "status": "draining" if batcher.closing else "ok",
            "source": repr(source),
            "components": components,
            "cpu_heavy": batcher.use_pool,
            "slots": batcher.slots_n,
            "queue_items": batcher.admitted,
            "max_queue": settings.max_queue,
        }
        return _json(body, 503 if batcher.closing else 200)

    @app.get("/metrics")
    async def metrics_endpoint(request: Request) -> Response:
        try:
            check_auth(request.headers.get("authorization", "").encode("latin-1"))
        except HTTPError as e:
            r = on_error(e, {})
            return Response(r.body, status_code=r.status, headers=r.headers, media_type="application/json")
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(_ScoringLayer, handlers={"/score": score, "/get_reward": get_reward}, metrics=metrics,
                       on_error=on_error)
    return app
