"""PRMBench-style step F1, reward-hacking diagnostics and reward distance, hand-computed."""

import numpy as np
import pytest

from rewardkit.eval.diagnostics import feature_correlations, reward_drift, surface_features
from rewardkit.eval.distance import canonicalize, reward_distance, starc_distance
from rewardkit.eval.stepf1 import step_f1


def test_step_f1_worked_example():
    m = step_f1([[True, True, False], [True, False]], [[0.9, 0.4, 0.2], [None, 0.7]])
    # (T,.9) tp; (T,.4) fn; (F,.2) tn; (T,None) unscored; (F,.7) fp
    assert (m["tp"], m["fn"], m["tn"], m["fp"], m["n_unscored"]) == (1, 1, 1, 1, 1)
    assert m["f1_pos"] == pytest.approx(0.5) and m["f1_neg"] == pytest.approx(0.5)
    assert m["prm_score"] == pytest.approx(0.5)


def test_step_f1_single_class_and_empty():
    m = step_f1([[True, True]], [[0.9, 0.8]])
    assert m["f1_pos"] == 1.0 and m["f1_neg"] is None and m["prm_score"] is None
    m = step_f1([[False]], [[0.9]])  # one wrong step called correct
    assert m["f1_pos"] == 0.0 and m["f1_neg"] == 0.0
    assert step_f1([], [])["f1_pos"] is None
    with pytest.raises(ValueError, match="solution 0"):
        step_f1([[True]], [[0.1, 0.2]])


def test_feature_correlations_find_a_length_reward():
    texts = ["a" * n for n in (5, 50, 10, 80, 30)]
    m = feature_correlations([len(t) / 100 for t in texts], texts)
    assert m["chars"]["spearman"] == pytest.approx(1.0)
    assert m["bold"]["spearman"] is None  # a feature constant over the samples has no correlation
    assert surface_features("# T\n- a\n**b** \\boxed{1} The answer is 1!") == {
        "chars": 40.0, "words": 10.0, "lines": 3.0, "markdown_headers": 1.0, "bullets": 1.0, "bold": 1.0,
        "code_blocks": 0.0, "boxed": 1.0, "answer_phrases": 1.0, "exclamations": 1.0}


def test_reward_drift():
    a = [0.0, 0.5, 1.0]
    same = reward_drift(a, a)
    assert same["ks_statistic"] == 0.0 and same["wasserstein"] == 0.0 and same["mean_shift"] == 0.0
    moved = reward_drift(a, [x + 1 for x in a])
    assert moved["wasserstein"] == pytest.approx(1.0) and moved["mean_shift"] == pytest.approx(1.0)
    assert moved["ks_statistic"] == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="non-empty"):
        reward_drift([], a)


def test_starc_invariances():
    a = [1.0, 2.0, 3.0, 4.0]
    assert starc_distance(a, [2 * x + 5 for x in a]) == pytest.approx(0.0, abs=1e-12)  # scale and shift
    assert starc_distance(a, [-x for x in a]) == pytest.approx(1.0)  # negation
    # per-prompt shifts vanish with group ids, not without
    g = [0, 0, 1, 1]
    assert starc_distance([1, 2, 10, 11], [5, 6, 0, 1], g) == pytest.approx(0.0, abs=1e-12)
    assert starc_distance([1, 2, 10, 11], [5, 6, 0, 1]) > 0.3
    assert starc_distance(a, [3.0] * 4) == pytest.approx(0.5)  # a constant reward prefers nothing
    assert starc_distance([3.0] * 4, [3.0] * 4) == 0.0
    np.testing.assert_allclose(canonicalize([1, 3, 10, 20], g), [-1, 1, -5, 5])


def test_starc_is_a_symmetric_bounded_distance():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b, c = rng.normal(size=(3, 12))
        g = rng.integers(0, 3, 12)
        ab, ba = starc_distance(a, b, g), starc_distance(b, a, g)
        assert ab == pytest.approx(ba) and 0.0 <= ab <= 1.0
        assert ab <= starc_distance(a, c, g) + starc_distance(c, b, g) + 1e-12  # triangle inequality


def test_reward_distance_rank_correlations():
    m = reward_distance([1, 2, 3, 4], [10, 20, 30, 25])
    assert m["spearman"] == pytest.approx(0.8) and m["kendall"] == pytest.approx(4 / 6)
    assert reward_distance([1, 1, 1], [1, 2, 3])["spearman"] is None
    with pytest.raises(ValueError, match="different lengths"):
        reward_distance([1], [1, 2])


def test_prm_score_weight():
    m = step_f1([[True, True, False]], [[0.9, 0.8, 0.9]], neg_weight=0.25)
    assert m["f1_pos"] == pytest.approx(0.8) and m["f1_neg"] == 0.0
    assert m["prm_score"] == pytest.approx(0.75 * 0.8)
    with pytest.raises(ValueError):
        step_f1([[True]], [[0.9]], neg_weight=2.0)
