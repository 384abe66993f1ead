"""PAR and the RM-shaping baselines (REWARD_METHODS.md §3), running statistics, reference cache."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardkit.shaping import par as P
from rewardkit.shaping.normalize import RunningStats
from rewardkit.types import RewardResult, Status


def test_par_worked_example():
    assert P.par_reward(2.0, [1.0, 2.5]) == pytest.approx(0.5543, abs=1e-4)
    assert P.par_reward(2.0, [1.0]) == pytest.approx(0.731059, abs=1e-6)
    np.testing.assert_allclose(P.par_reward([2.0, 2.0], [[1.0, 2.5], [1.0, np.nan]]), [0.554300, 0.731059], atol=1e-6)
    assert P.par_reward(2.0, [1.0, 2.5], max_refs=1) == pytest.approx(0.731059, abs=1e-6)


def test_lsc_and_centered_worked_example():
    assert P.lsc_reward(2.0, [1.0, 2.5]) == pytest.approx(-1.205385, abs=1e-6)
    assert P.centered_reward(2.0, [1.0, 2.5]) == pytest.approx(0.25)


def test_running_baselines_worked_example():
    np.testing.assert_allclose(P.meanstd_reward([1, 2, 3, 6], RunningStats()),
                               [-1.069045, -0.534522, 0, 1.603567], atol=1e-6)
    np.testing.assert_allclose(P.running_clip_reward([1, 2, 3, 6], RunningStats()),
                               [1.129171, 2, 3, 4.870829], atol=1e-6)
    np.testing.assert_allclose(P.minmax_reward([1, 2, 3, 6], RunningStats()), [0, 0.2, 0.4, 1], atol=1e-6)


def test_running_stats_merge_is_exact_and_state_round_trips():
    x = np.random.default_rng(0).normal(3, 2, 1000)
    s = RunningStats()
    for chunk in np.array_split(x, 7):
        s.update(chunk)
    assert s.count == 1000
    assert s.mean == pytest.approx(x.mean(), rel=1e-12)
    assert s.std == pytest.approx(x.std(), rel=1e-10)
    assert (s.min, s.max) == (x.min(), x.max())
    t = RunningStats()
    t.load_state_dict(s.state_dict())
    assert t.state_dict() == s.state_dict()
    s.update([np.nan, np.inf])  # missing rewards are ignored
    assert s.count == 1000


@settings(max_examples=100, deadline=None)
@given(st.floats(-20, 20), st.floats(0.01, 5), st.lists(st.floats(-20, 20), min_size=1, max_size=10))
def test_par_in_open_unit_interval_and_monotone(r, dr, refs):
    a = P.par_reward(r, refs)
    b = P.par_reward(r + dr, refs)
    assert 0.0 < a < 1.0 or (len(refs) and abs(r - max(refs)) > 30)
    assert b >= a
    if max(abs(r - x) for x in refs) < 15:
        assert 0.0 < a < 1.0 and b > a


class CountingRM:
    """A stand-in reward model: score = length of the completion; counts calls; fails on 'bad'."""

    def __init__(self):
        self.calls = 0
        self.scored = 0

    def score(self, samples):
        self.calls += 1
        self.scored += len(samples)
        return [RewardResult.fail(Status.ERROR, "boom") if s.completion == "bad" else RewardResult.ok(len(s.completion))
                for s in samples]


def test_reference_rewards_computed_once_and_cached(tmp_path):
    rm = CountingRM()
    refs = P.ReferenceRewards(rm, {"p1": ["a", "abc", "bad"], "p2": ["xy"]})
    refs.prefetch(["p1", "p2", "p1"])
    assert rm.calls == 1 and rm.scored == 4
    assert refs.get("p1") == [1.0, 3.0] and refs.failures["p1"] == 1
    assert refs.get("p2") == [2.0]
    assert rm.calls == 1
    path = tmp_path / "refs.json"
    refs.save(path)
    again = P.ReferenceRewards.load(path)
    assert again.get("p1") == [1.0, 3.0]
    with pytest.raises(KeyError):
        again.get("unknown prompt")
