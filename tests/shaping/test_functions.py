"""Normalisation, multi-reward (GDPO §9.1), ensembles (§7), gates (§9.3), length (§8, §9.9), KL
estimators (§1.1), RTO (§9.7), implicit PRM (§4), PROF (§9.4)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewardkit.shaping import ensemble as E
from rewardkit.shaping import filters as FL
from rewardkit.shaping import gates as GT
from rewardkit.shaping import implicit as IM
from rewardkit.shaping import kl as K
from rewardkit.shaping import length as L
from rewardkit.shaping import multi as M
from rewardkit.shaping import normalize as N
from rewardkit.train import advantages as A

nan = float("nan")


# ----------------------------------------------------------------------------- normalisation
def test_numpy_group_normalize_matches_torch_estimator():
    rng = np.random.default_rng(0)
    x = rng.normal(size=24)
    ids = rng.integers(0, 5, size=24)
    x[[3, 7]] = nan
    valid = np.isfinite(x)
    for kw in ({"ddof": 1, "eps": 1e-6}, {"ddof": 0, "eps": 0.0}, {"scale": "none"}, {"scale": "batch"}):
        got = N.group_normalize(x, list(ids), **kw)
        want = A.group_normalize(torch.tensor(x), group_ids=torch.tensor(ids), valid=torch.tensor(valid), **kw)
        np.testing.assert_allclose(got[valid], want.numpy()[valid], atol=1e-12)
        assert np.isnan(got[~valid]).all()  # missing stays missing (NaN), never 0
    loo = N.leave_one_out(x, list(ids))
    want = A.rloo_advantages(torch.tensor(x), torch.ones(24, 1, dtype=torch.bool), group_ids=torch.tensor(ids),
                             valid=torch.tensor(valid))[:, 0]
    np.testing.assert_allclose(loo[valid], want.numpy()[valid], atol=1e-12)


def test_grpo_worked_example_numpy():
    np.testing.assert_allclose(N.group_normalize([1, 0, 0, 1], eps=0), [0.866025, -0.866025, -0.866025, 0.866025],
                               atol=1e-6)
    np.testing.assert_allclose(N.group_normalize([1, 0, 0, 1], ddof=0, eps=0), [1, -1, -1, 1], atol=1e-12)
    np.testing.assert_allclose(N.group_normalize([1, 0, 0, 1], scale="none"), [0.5, -0.5, -0.5, 0.5])
    np.testing.assert_allclose(N.leave_one_out([1, 0, 0, 1]), [2 / 3, -2 / 3, -2 / 3, 2 / 3])
    np.testing.assert_allclose(N.group_normalize([2, 2, 2], eps=0), [0, 0, 0])  # degenerate: 0, not NaN


# ----------------------------------------------------------------------------- GDPO
def test_gdpo_worked_example():
    comp = np.array([[1, 0], [0, 1], [1, 0], [0, 0]], dtype=float)  # format, correctness
    np.testing.assert_allclose(M.sum_then_normalize(comp, eps=0), [0.5, 0.5, 0.5, -1.5], atol=1e-12)
    got = M.gdpo(comp, eps=0, batch_norm=False)
    np.testing.assert_allclose(got, [0.366025, 0.633975, 0.366025, -1.366025], atol=1e-6)
    after = M.gdpo(comp, eps=1e-4)
    assert abs(after.mean()) < 1e-12 and after.std(ddof=1) == pytest.approx(1, abs=1e-3)
    assert np.argsort(after).tolist() == np.argsort(got).tolist()


def test_weighted_sum_missing_components():
    c = np.array([[1.0, 2.0], [nan, 2.0], [nan, nan]])
    np.testing.assert_allclose(M.weighted_sum(c, [0.5, 2.0])[:2], [4.5, 4.0])
    assert np.isnan(M.weighted_sum(c, [0.5, 2.0])[2])


# ----------------------------------------------------------------------------- ensembles
def test_ensemble_worked_example():
    s = [[1.0, 0.6, 0.2]]
    assert E.ensemble_mean(s)[0] == pytest.approx(0.6)
    assert E.ensemble_min(s)[0] == pytest.approx(0.2)
    assert np.var(s) == pytest.approx(0.106667, abs=1e-6)
    assert E.ensemble_uwo(s, lam=0.5)[0] == pytest.approx(0.546667, abs=1e-6)
    assert E.ensemble_uwo(s, lam=0.5, ddof=1)[0] == pytest.approx(0.6 - 0.5 * 0.16)  # do not mix
    z = E.ensemble([[1.0, 10.0], [3.0, 30.0]], "min", standardize=True)
    np.testing.assert_allclose(z, [-1, 1], atol=1e-6)


# ----------------------------------------------------------------------------- gates
def test_gates():
    np.testing.assert_allclose(GT.gate([0.7, 0.9], [1.0, 0.0], 1.0, fail_score=-1.0), [0.7, -1.0])
    assert np.isnan(GT.gate([0.7], [nan])[0])
    assert GT.gate([0.7], [nan], on_missing="fail")[0] == 0.0
    np.testing.assert_allclose(GT.gated_bonus([1.0, -0.5], [0.5, 0.5], [1, 0]), [1.5, -0.5])
    np.testing.assert_allclose(GT.gated_accumulation([1.0, 0.2], [[0.1, 0.2], [0.3, 0.3]], tau=0.5), [1.3, 0.2])


# ----------------------------------------------------------------------------- length
def test_laser_worked_example():
    assert L.laser_reward(True, 3000, 4096) == 1.5
    assert L.laser_reward(True, 5000, 4096) == 1.0
    assert L.laser_reward(False, 2000, 4096) == -0.5
    assert L.laser_reward(True, 100, 4096, formatted=False) == -1.0
    np.testing.assert_allclose(L.laser_reward([True, False], [3000, 2000], 4096), [1.5, -0.5])
    assert L.laser_difficulty(6, 8) == "easy"
    assert L.laser_difficulty(3, 8) == "medium" and L.laser_difficulty(2, 8) == "hard"


def test_dapo_overlong_worked_example():
    assert L.dapo_overlong_penalty(16384) == 0.0
    assert L.dapo_overlong_penalty(18432) == -0.5
    assert L.dapo_overlong_penalty(20480) == -1.0
    assert L.dapo_overlong_penalty(30000) == -1.0


# ----------------------------------------------------------------------------- KL, RTO
def test_kl_estimators_and_kl_in_reward():
    lp = torch.tensor([[-1.0, -0.5, -2.0]], dtype=torch.float64)
    ref = torch.tensor([[-1.2, -0.5, -1.5]], dtype=torch.float64)
    torch.testing.assert_close(K.approx_kl(lp, ref, "k1"), torch.tensor([[0.2, 0.0, -0.5]], dtype=torch.float64))
    torch.testing.assert_close(K.approx_kl(lp, ref, "k2"), torch.tensor([[0.02, 0.0, 0.125]], dtype=torch.float64))
    torch.testing.assert_close(K.approx_kl(lp, ref, "k3"), torch.tensor([[0.018731, 0.0, 0.148721]], dtype=torch.float64),
                               atol=1e-6, rtol=0)
    r = K.kl_penalized_rewards(torch.tensor([1.0], dtype=torch.float64), lp, ref, torch.ones(1, 3, dtype=torch.bool),
                               kl_coef=0.1)
    torch.testing.assert_close(r, torch.tensor([[-0.02, 0.0, 1.05]], dtype=torch.float64))
    # the whole §1.1 chain: KL-in-reward -> GAE
    adv, _ = A.gae_advantages(r, torch.tensor([[0.5, 0.6, 0.8]], dtype=torch.float64), torch.ones(1, 3, dtype=torch.bool))
    torch.testing.assert_close(adv, torch.tensor([[0.495625, 0.4375, 0.25]], dtype=torch.float64))
    big = K.approx_kl(torch.tensor([-50.0]), torch.tensor([0.0]), "k3")
    assert big.item() == 10.0  # clamped like OpenRLHF, no overflow
    with pytest.raises(ValueError, match="estimator"):
        K.approx_kl(lp, ref, "k4")


def test_rto_worked_example():
    d = torch.tensor([0.5, -2.0, 0.1], dtype=torch.float64)
    dense = K.rto_token_rewards(d, torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(dense, torch.tensor([0.025, -0.05, 0.005], dtype=torch.float64))
    total = dense - 0.01 * torch.tensor([0.1, 0.0, -0.2], dtype=torch.float64) + torch.tensor([0, 0, 0.8], dtype=torch.float64)
    torch.testing.assert_close(total, torch.tensor([0.024, -0.05, 0.807], dtype=torch.float64))


# ----------------------------------------------------------------------------- implicit PRM
def test_implicit_prm_worked_example():
    lp = torch.tensor([-0.5, -1.0, -0.2, -2.0, -0.1], dtype=torch.float64)
    ref = torch.tensor([-0.7, -1.0, -0.6, -1.5, -0.3], dtype=torch.float64)
    r = IM.implicit_token_rewards(lp, ref, beta=0.05)
    close = lambda a, b: torch.testing.assert_close(a, torch.tensor(b, dtype=torch.float64), atol=1e-9, rtol=0)  # noqa: E731
    close(r, [0.01, 0.0, 0.02, -0.025, 0.01])
    close(IM.implicit_q_values(r), [0.01, 0.01, 0.03, 0.005, 0.015])
    close(IM.implicit_step_rewards(r, [2, 4]), [0.03, -0.015])
    assert IM.implicit_score(r, [2, 4], "min_step_reward").item() == pytest.approx(-0.015)
    assert IM.implicit_score(r, [2, 4], "min_q").item() == pytest.approx(0.015)
    assert IM.implicit_score(r, [2, 4], "sum").item() == pytest.approx(0.015)
    seq = torch.tensor(0.015, dtype=torch.float64)
    assert IM.implicit_prm_ce_loss(seq, 1.0).item() == pytest.approx(0.685675, abs=1e-6)
    assert IM.implicit_prm_ce_loss(seq, 0.0).item() == pytest.approx(0.700675, abs=1e-6)


# ----------------------------------------------------------------------------- PROF
def test_prof_filter_worked_example():
    o = [1, 1, 1, 1, 0, 0]
    s = [[.9, .8], [.3, .4], [.7, .9], [.6, .5], [.9, .8], [.2, .1]]
    keep, c = FL.prof_filter(o, s, m=2)
    np.testing.assert_allclose(c, [0.7, -0.3, 0.6, 0.1, -0.7, 0.7], atol=1e-12)
    assert keep == [0, 2, 4, 5]
    assert FL.prof_consistency(1, [0.9]) == pytest.approx(0.8 - 10)  # too few steps
