"""Composition semantics: weights, fills, statuses, gates -- never a silent 0."""

import asyncio
import pickle

import pytest

from rewardkit.pipeline import Pipeline
from rewardkit.registry import register_source
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status, StepScore


class FixedParams(SourceParams):
    key: str


@register_source("test_fixed")
class Fixed(SampleRewardSource):
    """Returns the result stored in sample.metadata[key] (a tuple (score, status))."""

    Params = FixedParams

    def score_one(self, sample):
        score, status = sample.metadata[self.params.key]
        if status == "raise":
            raise RuntimeError("source exploded")
        steps = sample.metadata.get(self.params.key + "_steps")
        return RewardResult(score, Status(status), steps=steps)


def run(cfg, **meta):
    p = Pipeline(cfg)
    return p.score([Sample(prompt="p", completion="c", metadata=meta)])[0]


A = {"type": "test_fixed", "name": "a", "key": "a"}
B = {"type": "test_fixed", "name": "b", "key": "b"}


def test_weighted_sum_and_components():
    r = run({"rewards": [{**A, "weight": 2.0}, {**B, "weight": 0.5}]}, a=(1.0, "ok"), b=(0.4, "ok"))
    assert r.status is Status.OK and r.score == pytest.approx(2.2)
    assert r.components == {"a": 1.0, "b": 0.4}


def test_failed_component_makes_total_non_ok_not_zero():
    r = run({"rewards": [A, B]}, a=(1.0, "ok"), b=(None, "timeout"))
    assert r.status is Status.TIMEOUT and r.score is None
    assert r.components == {"a": 1.0, "b": None}
    assert r.info["failed_components"] == ["b"]


def test_worst_status_wins():
    r = run({"rewards": [A, B]}, a=(None, "unparseable"), b=(None, "error"))
    assert r.status is Status.ERROR


def test_explicit_fill_is_the_only_way_to_get_a_number():
    cfg = {"rewards": [A, {**B, "fill": {"unparseable": 0.0}}]}
    r = run(cfg, a=(1.0, "ok"), b=(None, "unparseable"))
    assert r.status is Status.OK and r.score == 1.0 and r.components["b"] == 0.0


def test_not_applicable_component_is_left_out():
    r = run({"rewards": [A, B]}, a=(0.7, "ok"), b=(None, "not_applicable"))
    assert r.status is Status.OK and r.score == pytest.approx(0.7)
    r = run({"rewards": [A, B]}, a=(None, "not_applicable"), b=(None, "not_applicable"))
    assert r.status is Status.NOT_APPLICABLE and r.score is None


def test_weight_zero_is_metric_only():
    r = run({"rewards": [A, {**B, "weight": 0}]}, a=(1.0, "ok"), b=(None, "error"))
    assert r.status is Status.OK and r.score == 1.0 and r.components["b"] is None


def test_exception_in_source_becomes_error_status():
    r = run({"rewards": [A, B]}, a=(1.0, "ok"), b=(None, "raise"))
    assert r.status is Status.ERROR
    assert "source exploded" in r.info["b"]["error"]


def test_gate_and_gated_by():
    cfg = {"rewards": [A, {**B, "weight": 0.0}], "gate": {"component": "b", "min": 1.0, "fail_score": -1.0}}
    r = run(cfg, a=(1.0, "ok"), b=(0.0, "ok"))
    assert r.status is Status.OK and r.score == -1.0 and "gate" in r.info
    r = run(cfg, a=(1.0, "ok"), b=(1.0, "ok"))
    assert r.score == 1.0
    # length bonus counted only when correct
    cfg = {"rewards": [{**A, "name": "correct"}, {**B, "name": "bonus", "gated_by": "correct", "weight": 0.5}]}
    assert run(cfg, a=(0.0, "ok"), b=(1.0, "ok")).score == 0.0
    assert run(cfg, a=(1.0, "ok"), b=(1.0, "ok")).score == 1.5


def test_steps_scaled_by_process_weight_and_steps_from():
    steps = [StepScore(0, 1, 1.0), StepScore(2, 3, 0.0)]
    cfg = {"rewards": [{**A, "weight": 0.0, "process_weight": 0.5}]}
    r = run(cfg, a=(1.0, "ok"), a_steps=steps)
    assert [s.score for s in r.steps] == [0.5, 0.0]
    cfg = {"rewards": [A, {**B, "process_weight": 2.0}], "steps_from": "a"}
    r = run(cfg, a=(1.0, "ok"), a_steps=steps, b=(1.0, "ok"), b_steps=[StepScore(0, 1, 1.0)])
    assert [s.score for s in r.steps] == [1.0, 0.0]


def test_order_preserved_batch_async_and_pickle():
    p = Pipeline({"rewards": [{"type": "numeric"}]})
    samples = [Sample(prompt="q", completion=f"The answer is {i}", reference=str(i % 3)) for i in range(10)]
    sync = p.score(samples)
    assert [r.score for r in sync] == [1.0 if i == i % 3 else 0.0 for i in range(10)]
    assert asyncio.run(p.ascore(samples)) == sync
    p2 = pickle.loads(pickle.dumps(p))
    assert p2.score(samples) == sync
    assert p.score([]) == []


@pytest.mark.parametrize("part", [(0.25, "ok"), (None, "not_applicable"), (None, "unparseable"),
                                  (None, "timeout"), (None, "error"), (None, "raise")])
def test_single_component_fast_path_follows_the_general_rules(part):
    steps = [StepScore(0, 1, 1.0)]
    p = Pipeline({"rewards": [A]})
    assert p._passthrough
    samples = [Sample(prompt="p", completion="c", metadata={"a": part, "a_steps": steps})]
    fast = p.score(samples)
    p._passthrough = False
    general = p.score(samples)
    assert fast == general
