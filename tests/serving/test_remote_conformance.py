"""The conformance checks of ``tests/test_conformance.py`` for the ``remote`` source: it needs a
running server, so it lives here and runs against a real one serving the ``numeric`` source."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from rewardkit.registry import build_source
from rewardkit.types import RewardResult, Status
from tests.serving.conftest import NUMERIC
from tests.test_conformance import CASES


@pytest.fixture(scope="module")
def url(server_factory):
    return server_factory(NUMERIC).url


def test_remote_conformance(url):
    _, cases = CASES["numeric"]
    src = build_source("remote", url=url, max_batch=3)  # several requests per batch
    samples = [s for s, _ in cases]
    order = list(range(len(samples))) * 3
    order = order[1:] + order[:1]
    batch = [samples[i] for i in order]
    results = src.score(batch)
    assert len(results) == len(batch)
    for i, r in zip(order, results, strict=True):
        assert isinstance(r, RewardResult) and isinstance(r.status, Status)
        expected = cases[i][1]
        if isinstance(expected, Status):
            assert r.status is expected and r.score is None
        else:
            assert r.status is Status.OK and r.score == pytest.approx(expected)
    assert src.score([]) == []
    clone = pickle.loads(pickle.dumps(src))
    assert [r.score for r in clone.score(batch)] == [r.score for r in results]
    assert [r.status for r in asyncio.run(src.ascore(batch))] == [r.status for r in results]
    assert cases[0][1] == 1.0
