"""Step rewards onto tokens (end / spread / fill) and the bridge to the process estimators."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewardkit.shaping import placement as PL
from rewardkit.shaping.transforms import ProcessShaping
from rewardkit.train import advantages as A
from rewardkit.types import RewardResult, Sample, Status, StepScore


def char_offsets(text):
    return [(i, i + 1) for i in range(len(text))]  # one token per character


def test_steps_to_tokens_modes():
    np.testing.assert_allclose(PL.steps_to_tokens([1.0, 2.0], [1, 4], 6), [0, 1, 0, 0, 2, 0])
    np.testing.assert_allclose(PL.steps_to_tokens([1.0, 3.0], [1, 4], 6, mode="spread"), [0.5, 0.5, 1, 1, 1, 0])
    np.testing.assert_allclose(PL.steps_to_tokens([1.0, 3.0], [1, 4], 6, mode="fill"), [1, 1, 3, 3, 3, 0])
    with pytest.raises(ValueError):
        PL.steps_to_tokens([1.0], [6], 6)


def test_clip_delta_transform_then_placement_worked_example():
    text = "abcdefghijk"  # 11 tokens; steps of 3, 2, 4, 2 tokens -> ends 2, 4, 8, 10
    spans = [(0, 3), (3, 5), (5, 9), (9, 11)]
    res = RewardResult.ok(1.0, steps=[StepScore(a, b, s) for (a, b), s in zip(spans, [0.9, 0.3, 0.6, 0.8], strict=True)])
    shaped = ProcessShaping(method="clip_delta", eta=0.7, alpha=1.0)([Sample("q", text)], [res])[0]
    assert shaped.info["process_shaping"]["last"] == "keep"
    assert res.steps[0].score == 0.9  # input not mutated
    dense = PL.place_steps([shaped], [char_offsets(text)], mode="end", backend="numpy")
    np.testing.assert_allclose(dense.rewards[0], [0, 0, 0.4, 0, -0.3, 0, 0, 0, -0.1, 0, 1.0], atol=1e-6)
    spread = PL.place_steps([shaped], [char_offsets(text)], mode="spread", backend="numpy")
    assert spread.rewards[0].sum() == pytest.approx(dense.rewards[0].sum(), abs=1e-6)


def test_step_tensors_feed_grpo_process_worked_example():
    r1 = RewardResult.ok(0.0, steps=[StepScore(0, 3, 0.8), StepScore(3, 6, 0.6)])
    r2 = RewardResult.ok(0.0, steps=[StepScore(0, 4, 0.2)])
    r3 = RewardResult.fail(Status.TIMEOUT, "slow PRM")
    sr, sm, mask, valid = PL.step_tensors([r1, r2, r3], [char_offsets("abcdef"), char_offsets("abcd"),
                                                         char_offsets("abcde")])
    assert valid.tolist() == [True, True, False]
    assert sm[0].nonzero().squeeze(1).tolist() == [2, 5] and sm[1].nonzero().squeeze(1).tolist() == [3]
    adv = A.grpo_process_advantages(sr.double(), sm, mask, valid=valid, ddof=0, eps=0.0)
    torch.testing.assert_close(adv[0], torch.tensor([1.336306] * 3 + [0.267261] * 3, dtype=torch.float64),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(adv[1, :4], torch.tensor([-1.336306] * 4, dtype=torch.float64), atol=1e-6, rtol=0)
    assert adv[2].eq(0).all()  # the timed-out row: zero advantage, not part of the pool


def test_step_tensors_skip_unscored_steps():
    r = RewardResult.ok(1.0, steps=[StepScore(0, 2, None), StepScore(2, 4, 0.5)])
    sr, sm, _, _ = PL.step_tensors([r], [char_offsets("abcd")], backend="numpy")
    assert sm[0].tolist() == [False, False, False, True] and sr[0, 3] == 0.5
