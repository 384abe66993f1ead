"""Clip / Delta / Clip-Delta (REWARD_METHODS.md §2) and Math-Shepherd labels (§5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardkit.shaping import process as P

R = [0.9, 0.3, 0.6, 0.8]
probs = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=20)


def test_clip():
    np.testing.assert_allclose(P.clip_rewards(R, 0.7), [0, -0.4, -0.1, 0], atol=1e-12)


def test_delta_keep_and_zero():
    d = P.delta_rewards(R, last="keep")
    np.testing.assert_allclose(d, [0.6, -0.3, -0.2, 0.8], atol=1e-12)
    np.testing.assert_allclose(P.reward_to_go(d), [0.9, 0.3, 0.6, 0.8], atol=1e-12)
    z = P.delta_rewards(R, last="zero")
    np.testing.assert_allclose(z, [0.6, -0.3, -0.2, 0], atol=1e-12)
    np.testing.assert_allclose(P.reward_to_go(z), [0.1, -0.5, -0.2, 0], atol=1e-12)


def test_clip_delta():
    cd = P.clip_delta_rewards(R, 0.7)
    np.testing.assert_allclose(cd, [0.4, -0.3, -0.1, 0], atol=1e-12)
    np.testing.assert_allclose(P.reward_to_go(cd), [0, -0.4, -0.1, 0], atol=1e-12)


def test_clip_delta_token_rewards():
    ends = np.cumsum([3, 2, 4, 2]) - 1
    assert ends.tolist() == [2, 4, 8, 10]
    tok = P.process_token_rewards(P.shape_process_rewards(R, "clip_delta", eta=0.7, alpha=1.0), ends, 11,
                                  outcome=1.0)
    np.testing.assert_allclose(tok, [0, 0, 0.4, 0, -0.3, 0, 0, 0, -0.1, 0, 1.0], atol=1e-12)


def test_alpha_scales_and_bad_args():
    np.testing.assert_allclose(P.shape_process_rewards(R, "clip", eta=0.7, alpha=2.0), [0, -0.8, -0.2, 0], atol=1e-12)
    with pytest.raises(ValueError, match="last"):
        P.delta_rewards(R, last="drop")
    with pytest.raises(ValueError, match="method"):
        P.shape_process_rewards(R, "clamp")
    with pytest.raises(ValueError, match="out of range"):
        P.process_token_rewards([1.0], [5], 3)
    assert P.delta_rewards([]).size == 0


@settings(max_examples=100, deadline=None)
@given(probs)
def test_delta_reward_to_go_telescopes(r):
    rtg = P.reward_to_go(P.delta_rewards(r, "keep"))
    np.testing.assert_allclose(rtg, r, atol=1e-9)
    rtg0 = P.reward_to_go(P.delta_rewards(r, "zero"))
    np.testing.assert_allclose(rtg0, np.asarray(r) - r[-1], atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(probs, st.floats(0, 1))
def test_clip_is_non_positive_and_clip_delta_return_bounded(r, eta):
    c = P.clip_rewards(r, eta)
    assert (c <= 0).all()
    # process return of Clip-Delta is c_1 in [-eta, 0] whatever the number of steps
    total = P.clip_delta_rewards(r, eta).sum()
    assert -eta - 1e-9 <= total <= 1e-9
    assert total == pytest.approx(c[0], abs=1e-9)


@pytest.mark.parametrize("outcomes,he,se", [([1, 1, 0, 1], 1, 0.75), ([0, 0, 0, 0], 0, 0), ([0, 1, 0, 0], 1, 0.25)])
def test_math_shepherd_labels(outcomes, he, se):
    assert P.math_shepherd_labels(outcomes) == (he, se)
