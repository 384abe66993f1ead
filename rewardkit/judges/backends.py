"""Where judge completions come from: an OpenAI-compatible endpoint, or a local transformers model.

Both implement one coroutine, ``complete(messages, n=..., ...) -> Completion``. The HTTP backend
owns everything that makes a hosted or self-hosted judge usable at RL scale:

- a concurrency limit (``max_concurrency`` requests in flight per event loop);
- requests-per-minute and tokens-per-minute limits (token buckets; tokens are estimated before a
  call from the prompt length and corrected from the reported usage after it);
- retries with exponential backoff and full jitter on 429, 5xx, timeouts and connection errors,
  honouring ``Retry-After``; other 4xx are not retried;
- a request timeout; usage (prompt/completion tokens) and cost for every call.

A backend failure raises `BackendError`; the judge source turns it into an ``error`` status whose
fault is the infrastructure's, never a score.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Completion", "Usage", "BackendError", "JudgeBackend", "OpenAIBackend", "TransformersBackend",
           "RateLimiter"]

_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    retries: int = 0
    cost: float = 0.0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls
        self.retries += other.retries
        self.cost += other.cost

    def to_dict(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "calls": self.calls, "retries": self.retries, "cost": round(self.cost, 8)}


@dataclass
class Completion:
    """The judge's replies (``n`` of them) to one request, with what the request cost."""

    texts: list[str]
    usage: Usage = field(default_factory=Usage)


class BackendError(RuntimeError):
    """The judge backend could not answer (after retries). ``timeout`` marks a time-out.

    ``usage`` holds what the failed request cost (its retries), so a sample's costs stay honest.
    """

    def __init__(self, message: str, *, timeout: bool = False, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.usage = usage


class JudgeBackend(Protocol):
    model: str

    async def complete(self, messages: list[dict[str, str]], *, n: int = 1, temperature: float = 0.0,
                       max_tokens: int = 512, json_mode: bool = True) -> Completion: ...


def estimate_tokens(messages: Sequence[dict[str, str]]) -> int:
    """A cheap upper-ish estimate (4 characters a token) used by the tokens-per-minute limiter."""
    return sum(len(m.get("content", "")) for m in messages) // 4 + 8 * len(messages)


class RateLimiter:
    """Token buckets for requests and tokens per minute; ``None`` disables a limit.

    Each bucket holds at most one minute's allowance and refills continuously. ``acquire`` waits
    until both buckets can pay; ``settle`` charges the difference between the estimated and the
    reported tokens once a call returns (the balance may go negative: later calls then wait).
    """

    def __init__(self, rpm: float | None, tpm: float | None) -> None:
        self.rpm, self.tpm = rpm, tpm
        now = time.monotonic()
        self._req = float(rpm or 0)
        self._tok = float(tpm or 0)
        self._t = now
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        dt = now - self._t
        self._t = now
        if self.rpm:
            self._req = min(self.rpm, self._req + dt * self.rpm / 60.0)
        if self.tpm:
            self._tok = min(self.tpm, self._tok + dt * self.tpm / 60.0)

    async def acquire(self, tokens: int) -> None:
        if not self.rpm and not self.tpm:
            return
        if self.tpm:
            tokens = min(tokens, int(self.tpm))  # a request larger than a minute's budget still runs
        async with self._lock:
            while True:
                self._refill()
                need_r = 0.0 if not self.rpm else max(0.0, 1.0 - self._req) * 60.0 / self.rpm
                need_t = 0.0 if not self.tpm else max(0.0, tokens - self._tok) * 60.0 / self.tpm
                wait = max(need_r, need_t)
                if wait <= 0:
                    if self.rpm:
                        self._req -= 1.0
                    if self.tpm:
                        self._tok -= tokens
                    return
                await asyncio.sleep(wait)

    def settle(self, estimated: int, actual: int) -> None:
        if self.tpm:
            self._tok -= actual - estimated


class OpenAIBackend:
    """Any OpenAI-compatible ``/chat/completions`` endpoint (vLLM, SGLang, llama.cpp, hosted APIs)."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, api_key_env: str | None = None,
                 max_concurrency: int = 16, rpm: float | None = None, tpm: float | None = None,
                 timeout: float = 60.0, connect_timeout: float = 5.0, retries: int = 4, backoff: float = 0.5,
                 max_backoff: float = 30.0, price_prompt: float = 0.0, price_completion: float = 0.0,
                 json_schema: dict[str, Any] | None = None, structured: str = "json_object",
                 extra_body: dict[str, Any] | None = None) -> None:
        base = base_url.rstrip("/")
        self.endpoint = base if base.endswith("/chat/completions") else base + "/chat/completions"
        self.model = model
        self._api_key = api_key if api_key is not None else (os.environ.get(api_key_env) if api_key_env else None)
        self.max_concurrency = max_concurrency
        self.rpm, self.tpm = rpm, tpm
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.price_prompt, self.price_completion = price_prompt, price_completion  # per 1M tokens
        self.structured = structured  # "json_object" | "json_schema" | "none"
        self.json_schema = json_schema
        self.extra_body = dict(extra_body or {})
        self._per_loop: dict[int, tuple[Any, Any, asyncio.Semaphore, RateLimiter]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIBackend(endpoint={self.endpoint!r}, model={self.model!r})"

    def _state(self) -> tuple[Any, asyncio.Semaphore, RateLimiter]:
        """Client, semaphore and limiter bound to the running event loop (httpx clients are)."""
        import httpx

        loop = asyncio.get_running_loop()
        with self._lock:
            st = self._per_loop.get(id(loop))
            if st is None or st[0] is not loop:
                headers = {"Content-Type": "application/json"}
                if self._api_key:
                    headers["Authorization"] = f"Bearer {self._api_key}"
                client = httpx.AsyncClient(
                    timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                    limits=httpx.Limits(max_connections=self.max_concurrency,
                                        max_keepalive_connections=self.max_concurrency),
                    headers=headers)
                st = (loop, client, asyncio.Semaphore(self.max_concurrency), RateLimiter(self.rpm, self.tpm))
                self._per_loop[id(loop)] = st
        return st[1], st[2], st[3]

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            st = self._per_loop.pop(id(loop), None)
        if st is not None:
            await st[1].aclose()

    def _body(self, messages: list[dict[str, str]], n: int, temperature: float, max_tokens: int,
              json_mode: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                "max_tokens": max_tokens}
        if n != 1:
            body["n"] = n
        if json_mode and self.structured == "json_object":
            body["response_format"] = {"type": "json_object"}
        elif json_mode and self.structured == "json_schema" and self.json_schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "verdict", "schema": self.json_schema}}
        body.update(self.extra_body)
        return body

    def _delay(self, attempt: int, hint: float | None) -> float:
        # full jitter: uniform in [0, min(cap, base * 2^attempt)]; a server's Retry-After is a floor
        d = random.uniform(0, min(self.max_backoff, self.backoff * (2 ** attempt)))
        return max(d, min(hint, self.max_backoff)) if hint is not None else d

    async def complete(self, messages: list[dict[str, str]], *, n: int = 1, temperature: float = 0.0,
                       max_tokens: int = 512, json_mode: bool = True) -> Completion:
        import httpx

        client, sem, limiter = self._state()
        body = self._body(messages, n, temperature, max_tokens, json_mode)
        est = estimate_tokens(messages) + max_tokens * n
        usage = Usage()
        last: BackendError = BackendError("no attempt made")
        for attempt in range(self.retries + 1):
            await limiter.acquire(est)
            hint: float | None = None
            async with sem:
                try:
                    resp = await client.post(self.endpoint, json=body)
                except httpx.TimeoutException as e:
                    last, retry = BackendError(f"judge request timed out: {type(e).__name__}", timeout=True), True
                except httpx.HTTPError as e:
                    last, retry = BackendError(f"cannot reach judge at {self.endpoint}: {type(e).__name__}: {e}"), True
                else:
                    if resp.status_code == 200:
                        try:
                            return self._completion(resp.json(), usage, limiter, est)
                        except (ValueError, KeyError, TypeError, IndexError) as e:
                            last, retry = BackendError(f"malformed response from {self.endpoint}: {e}"), True
                    else:
                        retry = resp.status_code in _RETRY_STATUS
                        last = BackendError(f"HTTP {resp.status_code} from {self.endpoint}: {resp.text[:300]}")
                        ra = resp.headers.get("retry-after")
                        if ra is not None:
                            try:
                                hint = float(ra)
                            except ValueError:
                                hint = None
            if not retry or attempt == self.retries:
                break
            usage.retries += 1
            await asyncio.sleep(self._delay(attempt, hint))
        last.usage = usage
        raise last

    def _completion(self, data: dict[str, Any], usage: Usage, limiter: RateLimiter, est: int) -> Completion:
        texts = [c["message"]["content"] or "" for c in data["choices"]]
        if not texts:
            raise ValueError("no choices")
        u = data.get("usage") or {}
        usage.prompt_tokens += int(u.get("prompt_tokens", 0) or 0)
        usage.completion_tokens += int(u.get("completion_tokens", 0) or 0)
        usage.calls += 1
        usage.cost = (usage.prompt_tokens * self.price_prompt + usage.completion_tokens * self.price_completion) / 1e6
        if usage.prompt_tokens or usage.completion_tokens:
            limiter.settle(est, usage.prompt_tokens + usage.completion_tokens)
        return Completion(texts, usage)


class TransformersBackend:
    """A local causal LM as the judge: chat template, batched ``generate`` (left padding).

    The judge source hands a whole batch's prompts to one `generate` call (chunks of
    ``batch_size``); ``complete`` runs single requests in a worker thread so the event loop stays
    free. Uses the GPU in bf16 when there is one.
    """

    def __init__(self, model: str, *, device: str | None = None, dtype: str | None = None,
                 batch_size: int = 8, max_concurrency: int = 64) -> None:
        self.model = model
        self.device, self.dtype = device, dtype
        self.batch_size = batch_size
        self.max_concurrency = max_concurrency
        self._lm: Any = None
        self._tok: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TransformersBackend(model={self.model!r})"

    def _load(self) -> None:
        with self._lock:
            if self._lm is not None:
                return
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            dtype = getattr(torch, self.dtype) if self.dtype else (torch.bfloat16 if device.startswith("cuda")
                                                                   else torch.float32)
            from rewardkit.models.loading import require_local_folder

            require_local_folder(self.model)
            tok = AutoTokenizer.from_pretrained(self.model)
            tok.padding_side = "left"
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            lm = AutoModelForCausalLM.from_pretrained(self.model, torch_dtype=dtype).to(device).eval()
            self._tok, self._lm = tok, lm

    def _render(self, messages: list[dict[str, str]]) -> str:
        if getattr(self._tok, "chat_template", None):
            return self._tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"

    def generate(self, prompts: list[list[dict[str, str]]], *, n: int = 1, temperature: float = 0.0,
                 max_tokens: int = 512) -> list[Completion]:
        """Synchronous batched generation: one `Completion` per prompt."""
        import torch

        self._load()
        texts = [self._render(m) for m in prompts]
        out: list[Completion] = []
        for i in range(0, len(texts), self.batch_size):
            chunk = texts[i:i + self.batch_size]
            enc = self._tok(chunk, return_tensors="pt", padding=True).to(self._lm.device)
            kw: dict[str, Any] = {"max_new_tokens": max_tokens, "num_return_sequences": n,
                                  "pad_token_id": self._tok.pad_token_id}
            kw.update({"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False})
            with torch.no_grad():
                gen = self._lm.generate(**enc, **kw)
            new = gen[:, enc["input_ids"].shape[1]:]
            decoded = self._tok.batch_decode(new, skip_special_tokens=True)
            for j in range(len(chunk)):
                rows = decoded[j * n:(j + 1) * n]
                n_prompt = int(enc["attention_mask"][j].sum())
                n_new = int((new[j * n:(j + 1) * n] != self._tok.pad_token_id).sum())
                out.append(Completion(rows, Usage(prompt_tokens=n_prompt, completion_tokens=n_new, calls=1)))
        return out

    async def complete(self, messages: list[dict[str, str]], *, n: int = 1, temperature: float = 0.0,
                       max_tokens: int = 512, json_mode: bool = True) -> Completion:
        try:
            return (await asyncio.to_thread(self.generate, [messages], n=n, temperature=temperature,
                                            max_tokens=max_tokens))[0]
        except Exception as e:  # noqa: BLE001 - a local model failure is the backend's, not the sample's
            raise BackendError(f"local judge model {self.model!r} failed: {type(e).__name__}: {e}") from e
