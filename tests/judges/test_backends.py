"""Rate limits with a fake clock, and the local transformers backend on a tiny random model."""

from __future__ import annotations

import asyncio

import pytest

from rewardkit.judges import backends
from rewardkit.judges.backends import Completion, RateLimiter, TransformersBackend, Usage
from rewardkit.judges.source import JudgeReward
from rewardkit.types import Sample, Status


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, dt: float) -> None:
        self.t += dt


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(backends.time, "monotonic", c.monotonic)
    monkeypatch.setattr(backends.asyncio, "sleep", c.sleep)
    return c


def test_requests_per_minute(clock):
    lim = RateLimiter(rpm=120, tpm=None)

    async def run():
        for _ in range(120):  # a full bucket: one minute's allowance at once
            await lim.acquire(10)
        t0 = clock.t
        await lim.acquire(10)  # the 121st waits for one refill: 60/120 s
        return clock.t - t0

    assert asyncio.run(run()) == pytest.approx(0.5)


def test_tokens_per_minute_and_settling(clock):
    lim = RateLimiter(rpm=None, tpm=6000)

    async def run():
        await lim.acquire(6000)
        t0 = clock.t
        await lim.acquire(600)  # 600 tokens at 100 tokens/s
        waited = clock.t - t0
        lim.settle(estimated=600, actual=1200)  # the call used more than estimated: pay it back
        t1 = clock.t
        await lim.acquire(100)
        return waited, clock.t - t1

    waited, after = asyncio.run(run())
    assert waited == pytest.approx(6.0) and after == pytest.approx(7.0)


def test_no_limits_never_wait(clock):
    lim = RateLimiter(None, None)
    asyncio.run(lim.acquire(10**9))
    assert clock.t == 1000.0


class CannedBackend(TransformersBackend):
    """The local backend with `generate` replaced by canned replies (counts batches)."""

    def __init__(self, replies):
        super().__init__("canned")
        self.replies = list(replies)
        self.batches: list[int] = []

    def generate(self, prompts, *, n=1, temperature=0.0, max_tokens=512):
        self.batches.append(len(prompts))
        return [Completion([self.replies.pop(0)], Usage(prompt_tokens=5, completion_tokens=2, calls=1))
                for _ in prompts]


def test_local_backend_batches_one_generate_and_reasks_only_failures():
    src = JudgeReward(backend="transformers", model="unused")
    src._ensure_setup()
    src.backend = CannedBackend(['{"score": 10}', "no json here", '{"score": 1}', '{"score": 4}'])
    res = src.score([Sample("q", "a"), Sample("q", "b"), Sample("q", "c")])
    assert src.backend.batches == [3, 1]  # one batch for all, then one re-ask batch for the failure
    assert [r.score for r in res] == [1.0, pytest.approx(3 / 9), 0.0]
    assert res[1].info["judge_usage"]["calls"] == 2


@pytest.mark.slow
def test_local_backend_on_a_tiny_random_model(tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tests._tokenizers import bpe_tokenizer

    tok = bpe_tokenizer()
    cfg = transformers.LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                   num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                                   pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    src = JudgeReward(backend="transformers", model=str(tmp_path), max_tokens=6, batch_size=2)
    res = src.score([Sample("q", "helpful"), Sample("q", "other"), Sample("q", "third")])
    # a random model writes no JSON: an infrastructure failure, never a made-up number
    assert all(r.status is Status.ERROR and r.score is None and r.info["fault"] == "infrastructure" for r in res)
    assert all(r.info["judge_usage"]["calls"] == 2 and r.info["judge_usage"]["prompt_tokens"] > 0 for r in res)
