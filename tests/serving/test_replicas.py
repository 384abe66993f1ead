"""Several stateless server replicas behind one client: spread, failover, same results."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from rewardkit.serving.client import RemoteReward
from rewardkit.types import Sample, Status
from tests.serving.conftest import NUMERIC
from tests.serving.test_server import metric


def _samples(n: int) -> list[Sample]:
    return [Sample(f"q{i}", f"The answer is {i % 7}", reference=str(i % 5)) for i in range(n)]


def _served(url: str) -> float:
    return metric(httpx.get(url + "/metrics").text, "rewardkit_requests_total", endpoint="score", code="200")


def test_url_list_forms():
    assert RemoteReward(url="http://a:1, http://b:2/").endpoints == ["http://a:1/score", "http://b:2/score"]
    assert RemoteReward(url=["http://a:1/score"]).endpoints == ["http://a:1/score"]
    with pytest.raises(ValueError, match="at least one"):
        RemoteReward(url=" , ")


def test_requests_spread_over_replicas_and_survive_one_dying(server_factory):
    a, b = server_factory(NUMERIC), server_factory(NUMERIC)
    samples = _samples(120)
    want = [1.0 if i % 7 == i % 5 else 0.0 for i in range(120)]
    src = RemoteReward(url=f"{a.url},{b.url}", max_batch=10, backoff=0.01)
    before = (_served(a.url), _served(b.url))
    got = src.score(samples)
    assert [r.score for r in got] == want
    spread = (_served(a.url) - before[0], _served(b.url) - before[1])
    assert spread == (6, 6)  # 12 requests, round-robin
    assert [r.score for r in asyncio.run(src.ascore(samples))] == want

    b.stop(signal.SIGKILL)  # a replica dies: its requests fail over to the other one
    again = src.score(samples)
    assert [r.status for r in again] == [Status.OK] * 120 and [r.score for r in again] == want
    assert [r.score for r in asyncio.run(src.ascore(samples))] == want


def test_all_replicas_down_is_infrastructure_not_a_penalty():
    src = RemoteReward(url="http://127.0.0.1:9,http://127.0.0.1:10", retries=3, backoff=0.0)
    r = src.score(_samples(3))
    assert all(x.status is Status.ERROR and x.score is None and x.info["fault"] == "infrastructure" for x in r)
