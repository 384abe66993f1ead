"""Config-registered shaping transforms: inside a Pipeline, status rules, state persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardkit.config import ConfigError
from rewardkit.pipeline import Pipeline
from rewardkit.registry import build_transform, get_transform_class, list_transforms
from rewardkit.shaping.par import ReferenceRewards
from rewardkit.shaping.transforms import BaseTransform
from rewardkit.sources import SampleRewardSource, SourceParams
from rewardkit.types import RewardResult, Sample, Status

SRC = "tests.shaping.test_transforms:FromMeta"


class MetaParams(SourceParams):
    key: str


class FromMeta(SampleRewardSource):
    """Score = ``sample.metadata[key]``; a string value is taken as a failure status."""

    Params = MetaParams

    def score_one(self, sample):
        v = sample.metadata.get(self.params.key)
        if v is None:
            return RewardResult.fail(Status.NOT_APPLICABLE)
        if isinstance(v, str):
            return RewardResult.fail(Status(v), "scripted failure")
        return RewardResult.ok(v)


def samples(scores, group_size=4, key="a", **meta):
    out = []
    for i, s in enumerate(scores):
        md = {key: s}
        for k, vals in meta.items():
            md[k] = vals[i]
        out.append(Sample(prompt=f"p{i // group_size}", completion=f"c{i}", group_id=i // group_size, metadata=md))
    return out


def test_all_transforms_registered_and_buildable():
    names = {"group_normalize", "batch_normalize", "leave_one_out", "running_normalize", "process_shaping", "par",
             "rm_shaping", "multi_reward", "ensemble", "gate", "dapo_overlong", "laser_bonus"}
    assert names <= set(list_transforms())
    for n in names:
        assert issubclass(get_transform_class(n), BaseTransform)
    with pytest.raises(ValueError, match="ddf"):
        build_transform("group_normalize", ddf=1)


def test_group_normalize_in_pipeline_excludes_masked_results():
    cfg = {"rewards": [{"type": SRC, "name": "a", "key": "a"}],
           "shaping": [{"type": "group_normalize", "ddof": 1, "eps": 0.0}]}
    pipe = Pipeline(cfg)
    out = pipe.score(samples([1.0, 0.0, "error", 1.0, 0.0, 0.0, 0.0, 1.0]))
    assert out[2].status is Status.ERROR and out[2].score is None  # infrastructure: left out of the group
    np.testing.assert_allclose([r.score for r in out[:2]] + [out[3].score], np.array([1, -2, 1]) / np.sqrt(3), atol=1e-9)
    np.testing.assert_allclose([r.score for r in out[4:]], [-0.5, -0.5, -0.5, 1.5], atol=1e-9)
    assert out[0].info["raw_score"] == 1.0 and out[0].info["shaping"] == ["group_normalize"]
    # a sample-caused failure (timeout) counts as the failing score 0.0 in its group (status policy)
    out = pipe.score(samples([1.0, 0.0, "timeout", 1.0]))
    np.testing.assert_allclose([r.score for r in out], np.array([1, -1, -1, 1]) * np.sqrt(3) / 2, atol=1e-9)
    assert out[2].info["status_before_fill"] == "timeout"


def test_bad_transform_params_name_the_key():
    with pytest.raises(ConfigError, match="shaping"):
        Pipeline({"rewards": [{"type": SRC, "key": "a"}], "shaping": [{"type": "group_normalize", "ddof": "x"}]})


def test_leave_one_out_and_batch_normalize():
    t = get_transform_class("leave_one_out")()
    res = [RewardResult.ok(x) for x in [1.0, 0.0, 0.0, 1.0]]
    np.testing.assert_allclose([r.score for r in t(samples([0] * 4), res)], [2 / 3, -2 / 3, -2 / 3, 2 / 3])
    b = get_transform_class("batch_normalize")()
    res = [RewardResult.ok(1.0), RewardResult.fail(Status.ERROR, "x"), RewardResult.ok(3.0)]
    out = b(samples([0] * 3), res)
    assert out[0].score == pytest.approx(-1.0) and out[2].score == pytest.approx(1.0) and not out[1].is_ok


def test_running_normalize_persists_state():
    t = build_transform("running_normalize")
    t(samples([0] * 4), [RewardResult.ok(x) for x in [1, 2, 3, 6]])
    state = json.loads(json.dumps(t.state_dict()))  # JSON-serialisable checkpoint state
    t2 = build_transform("running_normalize")
    t2.load_state_dict(state)
    a = t(samples([0]), [RewardResult.ok(4.0)])[0].score
    b = t2(samples([0]), [RewardResult.ok(4.0)])[0].score
    assert a == b
    ref = np.array([1, 2, 3, 6, 4.0])
    assert a == pytest.approx((4 - ref.mean()) / ref.std(), rel=1e-6)


def test_par_transform_reference_sources_and_missing_refs():
    t = build_transform("par", k=1.0)
    ss = samples([2.0, 2.0, 2.0], ref_rewards=[[1.0, 2.5], [1.0], []])
    out = t(ss, [RewardResult.ok(2.0), RewardResult.ok(2.0), RewardResult.ok(2.0)])
    assert out[0].score == pytest.approx(0.5543, abs=1e-4) and out[1].score == pytest.approx(0.731059, abs=1e-6)
    assert out[2].status is Status.ERROR and "reference" in out[2].info["error"]
    cache = ReferenceRewards(cache={"p0": [1.0]})
    t2 = get_transform_class("par")(references=cache)
    out2 = t2([Sample("p0", "x"), Sample("p9", "y")], [RewardResult.ok(2.0), RewardResult.ok(2.0)])
    assert out2[0].score == pytest.approx(0.731059, abs=1e-6) and out2[1].status is Status.ERROR


def test_par_transform_refs_file(tmp_path):
    path = tmp_path / "refs.json"
    path.write_text(json.dumps({"p0": [1.0, 2.5]}))
    t = build_transform("par", refs_file=str(path))
    assert t([Sample("p0", "x")], [RewardResult.ok(2.0)])[0].score == pytest.approx(0.5543, abs=1e-4)


def test_rm_shaping_methods():
    ss = samples([0] * 4, ref_rewards=[[1.0, 2.5]] * 4)
    res = [RewardResult.ok(x) for x in [1, 2, 3, 6]]
    got = {m: [r.score for r in build_transform("rm_shaping", method=m)(ss, res)]
           for m in ("meanstd", "clip", "minmax", "lsc", "centered")}
    np.testing.assert_allclose(got["meanstd"], [-1.069045, -0.534522, 0, 1.603567], atol=1e-6)
    np.testing.assert_allclose(got["clip"], [1.129171, 2, 3, 4.870829], atol=1e-6)
    np.testing.assert_allclose(got["minmax"], [0, 0.2, 0.4, 1], atol=1e-6)
    assert got["centered"][1] == pytest.approx(0.25)
    assert got["lsc"][1] == pytest.approx(-1.205385, abs=1e-6)


def test_multi_reward_gdpo_in_pipeline():
    cfg = {"rewards": [{"type": SRC, "name": "format", "key": "f", "weight": 0.0},
                       {"type": SRC, "name": "correct", "key": "c", "weight": 1.0}],
           "shaping": [{"type": "multi_reward", "method": "gdpo", "weights": {"format": 1.0, "correct": 1.0},
                        "eps": 0.0, "batch_norm": False}]}
    ss = [Sample("p", f"c{i}", group_id=0, metadata={"f": f, "c": c})
          for i, (f, c) in enumerate(zip([1, 0, 1, 0], [0, 1, 0, 0], strict=True))]
    out = Pipeline(cfg).score(ss)
    np.testing.assert_allclose([r.score for r in out], [0.366025, 0.633975, 0.366025, -1.366025], atol=1e-6)
    cfg["shaping"][0]["method"] = "sum_then_normalize"
    out = Pipeline(cfg).score(ss)
    np.testing.assert_allclose([r.score for r in out], [0.5, 0.5, 0.5, -1.5], atol=1e-6)


def test_ensemble_and_missing_member():
    t = build_transform("ensemble", components=["rm1", "rm2", "rm3"], method="uwo", lam=0.5)
    res = [RewardResult.ok(0.0, components={"rm1": 1.0, "rm2": 0.6, "rm3": 0.2}),
           RewardResult.ok(0.0, components={"rm1": 1.0, "rm2": None, "rm3": 0.2}),
           RewardResult.fail(Status.ERROR, "x")]
    out = t(samples([0] * 3), res)
    assert out[0].score == pytest.approx(0.546667, abs=1e-6)
    assert out[1].status is Status.ERROR and "rm2" in out[1].info["error"]
    assert out[2] is res[2]


def test_gate_transform():
    t = build_transform("gate", component="format", min=1.0, fail_score=-1.0)
    res = [RewardResult.ok(0.8, components={"format": 1.0}), RewardResult.ok(0.8, components={"format": 0.0}),
           RewardResult.ok(0.8, components={"format": None})]
    out = t(samples([0] * 3), res)
    assert [o.score for o in out[:2]] == [0.8, -1.0]
    assert out[2].status is Status.ERROR
    t2 = build_transform("gate", component="format", on_missing="fail")
    assert t2(samples([0]), [res[2]])[0].score == 0.0


def test_process_shaping_leaves_failed_and_stepless_results():
    t = build_transform("process_shaping", method="clip", eta=0.5, alpha=1.0)
    fail = RewardResult.fail(Status.UNPARSEABLE, "no steps")
    plain = RewardResult.ok(1.0)
    out = t(samples([0, 0]), [fail, plain])
    assert out[0] is fail and out[1] is plain


def test_length_transforms():
    ss = [Sample("p", "x", metadata={"num_tokens": n}) for n in (16384, 18432, 30000)] + [Sample("p", "y")]
    out = build_transform("dapo_overlong")(ss, [RewardResult.ok(1.0)] * 4)
    assert [o.score for o in out[:3]] == [1.0, 0.5, 0.0]
    assert out[3].status is Status.ERROR
    lb = build_transform("laser_bonus", gate="correct", target=4096)
    ss = [Sample("p", "x", metadata={"num_tokens": n}) for n in (3000, 5000, 2000)]
    res = [RewardResult.ok(1.0, components={"correct": 1.0}), RewardResult.ok(1.0, components={"correct": 1.0}),
           RewardResult.ok(-0.5, components={"correct": 0.0})]
    assert [o.score for o in lb(ss, res)] == [1.5, 1.0, -0.5]  # the LASER worked example


def test_process_shaping_requires_unreported_hyperparameters():
    with pytest.raises(ValueError, match="eta"):
        build_transform("process_shaping", method="clip_delta", alpha=1.0)
    with pytest.raises(ValueError, match="alpha"):
        build_transform("process_shaping", method="delta")
    t = build_transform("process_shaping", method="delta", alpha=0.5, last="zero")
    from rewardkit.types import StepScore

    res = RewardResult.ok(1.0, steps=[StepScore(0, 1, 0.9), StepScore(1, 2, 0.3)])
    out = t(samples([0]), [res])[0]
    assert [s.score for s in out.steps] == pytest.approx([0.3, 0.0])
    assert out.info["process_shaping"]["last"] == "zero" and out.score == 1.0


def test_par_hidden_length_penalty_is_opt_in():
    ss = [Sample("p", "x", metadata={"ref_rewards": [1.0], "num_tokens": 400}),
          Sample("p", "y", metadata={"ref_rewards": [1.0]})]
    res = [RewardResult.ok(2.0), RewardResult.ok(2.0)]
    plain = build_transform("par")(ss, res)
    assert plain[0].score == pytest.approx(0.731059, abs=1e-6)
    pen = build_transform("par", penalize_length=True)(ss, res)
    assert pen[0].score == pytest.approx(1 / (1 + np.exp(-(2.0 - 1.0 - 1.0))), abs=1e-9)  # 2 - 0.01*100
    assert pen[1].status is Status.ERROR and "num_tokens" in pen[1].info["error"]
