"""`RemoteReward`: a reward server used as a reward source like any other (sync and async).

```python
rk = rewardkit.RemoteReward("http://127.0.0.1:8000")
results = rk.score(samples)            # or: await rk.ascore(samples)
```
or in a pipeline config: ``- {type: remote, url: "http://127.0.0.1:8000", weight: 1.0}``.

- Batches go to ``POST /score`` in requests of at most ``max_batch`` samples (concurrently in
  ``ascore``) over pooled keep-alive connections (``max_connections``).
- Failures are retried with exponential backoff and jitter (``retries``, ``backoff``): connection
  errors, timeouts, 429 (honouring ``Retry-After``), 502/503/504. Other 4xx are not retried.
- When a request finally fails its samples get a status -- ``timeout`` for timeouts, ``error``
  otherwise, with the server's message in ``info['error']`` -- never an exception and never a 0.
- The API key comes from ``api_key`` or the environment variable ``api_key_env`` (default
  ``REWARDKIT_API_KEY``); it is never shown by ``repr``.
- Several replicas: ``url`` may list servers (a list, or comma-separated as in OpenRLHF's
  ``--remote_rm_url``). Requests are spread round-robin over them, and a request that fails in a
  retryable way is retried on the next replica (failover), so a replica that dies costs a retry,
  not a result. Replicas are stateless: any of them may score any batch.
- A failure on the client side (unreachable, time-out, HTTP error) is the infrastructure's fault
  (``info["fault"]``), so the status policy masks it instead of penalising the sample.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import threading
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import orjson
from pydantic import Field, SecretStr, field_validator

from rewardkit.registry import register_source
from rewardkit.sources import BaseRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status

__all__ = ["RemoteReward", "RemoteParams"]

_RETRY_STATUS = {429, 502, 503, 504}


class RemoteParams(SourceParams):
    url: str | list[str]  # one server, or replicas (a list or comma-separated)
    api_key: SecretStr | None = None
    api_key_env: str = "REWARDKIT_API_KEY"
    timeout: float = Field(default=60.0, gt=0)  # seconds for one request (read/write/pool)
    connect_timeout: float = Field(default=5.0, gt=0)
    retries: int = Field(default=3, ge=0)
    backoff: float = Field(default=0.5, ge=0)  # first retry delay; doubles each time (+ jitter)
    max_backoff: float = Field(default=10.0, ge=0)
    max_batch: int = Field(default=256, ge=1)
    max_connections: int = Field(default=32, ge=1)
    include_info: bool = True

    @field_validator("url")
    @classmethod
    def _urls(cls, v: str | list[str]) -> str | list[str]:
        urls = [u.strip() for u in (v.split(",") if isinstance(v, str) else v) if u.strip()]
        if not urls:
            raise ValueError("at least one server URL is needed")
        return urls[0] if len(urls) == 1 else urls


class _Failure(Exception):
    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status


_NO_FAILURE = _Failure(Status.ERROR, "no attempt made")


def _sample_json(s: Sample) -> dict[str, Any]:
    d: dict[str, Any] = {"prompt": s.prompt, "completion": s.completion}
    if s.reference is not None:
        d["reference"] = s.reference
    if s.id is not None and isinstance(s.id, (str, int)):
        d["id"] = s.id
    if s.group_id is not None and isinstance(s.group_id, (str, int)):
        d["group_id"] = s.group_id
    if s.steps is not None:
        d["steps"] = s.steps
    if s.metadata:
        d["metadata"] = s.metadata
    return d


@register_source("remote")
class RemoteReward(BaseRewardSource):
    """Scores by calling a rewardkit server's ``/score`` endpoint."""

    Params = RemoteParams
    #: I/O-bound: adapters (e.g. the TRL one) prefer its async form.
    prefers_async: ClassVar[bool] = True

    def __init__(self, url: str | None = None, name: str | None = None, **params: Any) -> None:
        if url is not None:
            params["url"] = url
        super().__init__(name=name, **params)
        p: RemoteParams = self.params  # type: ignore[assignment]
        urls = [p.url] if isinstance(p.url, str) else list(p.url)
        self.endpoints = [u.rstrip("/") if u.rstrip("/").endswith("/score") else u.rstrip("/") + "/score"
                          for u in urls]
        self.endpoint = self.endpoints[0]
        self._next = itertools.count()  # round-robin position (thread-safe enough: next() is atomic in CPython)
        self._client: Any = None
        self._aclients: dict[int, Any] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        p: RemoteParams = self.params  # type: ignore[assignment]
        h = {"Content-Type": "application/json"}
        key = p.api_key.get_secret_value() if p.api_key is not None else os.environ.get(p.api_key_env)
        if key:
            h["Authorization"] = f"Bearer {key}"
        return h

    def _client_kwargs(self) -> dict[str, Any]:
        import httpx

        p: RemoteParams = self.params  # type: ignore[assignment]
        return {
            "timeout": httpx.Timeout(p.timeout, connect=p.connect_timeout),
            "limits": httpx.Limits(max_connections=p.max_connections,
                                   max_keepalive_connections=p.max_connections),
            "headers": self._headers(),
        }

    def setup(self) -> None:
        import httpx

        self._client = httpx.Client(**self._client_kwargs())

    def _aclient(self) -> Any:
        """One pooled async client per event loop (an httpx.AsyncClient is bound to its loop)."""
        import httpx

        loop = asyncio.get_running_loop()
        key = id(loop)
        client = self._aclients.get(key)
        if client is None or getattr(client, "_rk_loop", None) is not loop:
            client = httpx.AsyncClient(**self._client_kwargs())
            client._rk_loop = loop  # type: ignore[attr-defined]
            self._aclients[key] = client
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._aclients.clear()  # async clients are closed by `aclose` or with their loop
        self._is_setup = False

    async def aclose(self) -> None:
        clients, self._aclients = list(self._aclients.values()), {}
        for c in clients:
            await c.aclose()
        self.close()

    # -- request/response ------------------------------------------------------------------------
    def _body(self, samples: Sequence[Sample]) -> bytes:
        p: RemoteParams = self.params  # type: ignore[assignment]
        return orjson.dumps({"samples": [_sample_json(s) for s in samples], "include_info": p.include_info},
                            default=str)

    def _parse(self, resp: Any, n: int, endpoint: str) -> list[RewardResult]:
        try:
            data = orjson.loads(resp.content)
            rows = data["results"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as e:
            raise _Failure(Status.ERROR, f"invalid response from {endpoint}: {e}") from None
        if len(rows) != n:
            raise _Failure(Status.ERROR, f"{endpoint} returned {len(rows)} results for {n} samples")
        return [RewardResult.from_dict(r) for r in rows]

    def _classify(self, resp: Any, endpoint: str) -> tuple[bool, float | None, str]:
        """(retryable, server-suggested delay, message) for a non-200 response."""
        try:
            detail = orjson.loads(resp.content).get("detail", resp.text)
        except Exception:  # noqa: BLE001 - any non-JSON body
            detail = resp.text[:300]
        msg = f"HTTP {resp.status_code} from {endpoint}: {detail}"
        delay = None
        ra = resp.headers.get("retry-after")
        if ra is not None:
            try:
                delay = float(ra)
            except ValueError:
                delay = None
        return resp.status_code in _RETRY_STATUS, delay, msg

    def _delay(self, attempt: int, hint: float | None) -> float:
        p: RemoteParams = self.params  # type: ignore[assignment]
        d = min(p.max_backoff, p.backoff * (2 ** attempt)) * (0.5 + random.random())
        return max(d, min(hint, p.max_backoff)) if hint is not None else d

    def _fail(self, n: int, exc: _Failure, endpoint: str) -> list[RewardResult]:
        # the request failed (unreachable, timed out, bad reply): the server's fault, never the sample's
        info = {"endpoint": endpoint, "fault": "infrastructure"}
        return [RewardResult.fail(exc.status, str(exc), info=dict(info)) for _ in range(n)]

    def _route(self) -> list[str]:
        """Replicas in the order one request tries them: round-robin start, then failover."""
        k = next(self._next) % len(self.endpoints)
        return self.endpoints[k:] + self.endpoints[:k]

    def _chunks(self, samples: Sequence[Sample]) -> list[Sequence[Sample]]:
        m = self.params.max_batch  # type: ignore[attr-defined]
        return [samples[i:i + m] for i in range(0, len(samples), m)]

    def _outcome(self, resp: Any, exc: BaseException | None, n: int, endpoint: str
                 ) -> tuple[list[RewardResult] | None, _Failure, bool, float | None]:
        """One attempt, sync or async alike: (results, _, _, _) on success, else
        (None, failure, retry?, server-suggested delay)."""
        import httpx

        if exc is not None:
            if isinstance(exc, httpx.TimeoutException):
                return None, _Failure(Status.TIMEOUT, f"timed out calling {endpoint}: {type(exc).__name__}"), \
                    True, None
            return None, _Failure(Status.ERROR, f"cannot reach {endpoint}: {type(exc).__name__}: {exc}"), \
                True, None
        if resp.status_code == 200:
            try:
                return self._parse(resp, n, endpoint), _NO_FAILURE, False, None
            except _Failure as e:
                return None, e, False, None
        retryable, hint, msg = self._classify(resp, endpoint)
        return None, _Failure(Status.ERROR, msg), retryable, hint

    # -- sync ------------------------------------------------------------------------------------
    def _post(self, chunk: Sequence[Sample]) -> list[RewardResult]:
        import httpx

        p: RemoteParams = self.params  # type: ignore[assignment]
        body = self._body(chunk)
        last, route = _NO_FAILURE, self._route()
        for attempt in range(p.retries + 1):
            endpoint = route[attempt % len(route)]
            resp, exc = None, None
            try:
                resp = self._client.post(endpoint, content=body)
            except httpx.HTTPError as e:
                exc = e
            results, last, retry, hint = self._outcome(resp, exc, len(chunk), endpoint)
            if results is not None:
                return results
            if not retry or attempt == p.retries:
                break
            if (attempt + 1) % len(route) == 0 or hint is not None:  # every replica tried once: back off
                time.sleep(self._delay(attempt // len(route), hint))
        return self._fail(len(chunk), last, endpoint)

    def score_batch(self, samples: Sequence[Sample]) -> list[RewardResult]:
        with self._lock:
            if self._client is None:
                self.setup()
        out: list[RewardResult] = []
        for chunk in self._chunks(samples):
            out.extend(self._post(chunk))
        return out

    # -- async -----------------------------------------------------------------------------------
    async def _apost(self, client: Any, chunk: Sequence[Sample]) -> list[RewardResult]:
        import httpx

        p: RemoteParams = self.params  # type: ignore[assignment]
        body = self._body(chunk)
        last, route = _NO_FAILURE, self._route()
        for attempt in range(p.retries + 1):
            endpoint = route[attempt % len(route)]
            resp, exc = None, None
            try:
                resp = await client.post(endpoint, content=body)
            except httpx.HTTPError as e:
                exc = e
            results, last, retry, hint = self._outcome(resp, exc, len(chunk), endpoint)
            if results is not None:
                return results
            if not retry or attempt == p.retries:
                break
            if (attempt + 1) % len(route) == 0 or hint is not None:
                await asyncio.sleep(self._delay(attempt // len(route), hint))
        return self._fail(len(chunk), last, endpoint)

    async def ascore(self, samples: Sequence[Sample]) -> list[RewardResult]:
        if not samples:
            return []
        client = self._aclient()
        parts = await asyncio.gather(*(self._apost(client, c) for c in self._chunks(samples)))
        return [r for part in parts for r in part]
