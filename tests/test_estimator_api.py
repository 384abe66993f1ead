"""Issue 9 §7: estimator API without silent broadcasting, truncation or hidden defaults.

- every estimator raises on mismatched shapes, naming both shapes (a ``[1, T]`` mask with 4 scores
  used to be broadcast by ``grpo_outcome_advantages`` / ``dr_grpo_advantages``);
- PAR / centered / LSC use every reference unless told otherwise (they dropped refs past 10);
- ``shape_process_rewards(r, "clip")`` needs ``eta`` (it defaulted to 0: all zeros for PRM scores);
- one convention for invalid rows, ``eps`` and groups, shared by the numpy and torch twins.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardkit.shaping import normalize as N
from rewardkit.shaping import par as P
from rewardkit.shaping.process import shape_process_rewards
from rewardkit.shaping.transforms import PAR
from rewardkit.train import advantages as A
from rewardkit.types import RewardResult, Sample

S4 = torch.tensor([1.0, 0.0, 0.5, 0.25])
M4 = torch.ones(4, 3, dtype=torch.bool)
BAD_MASK = torch.ones(1, 3, dtype=torch.bool)


ESTIMATORS = {
    "grpo_outcome": lambda s, m: A.grpo_outcome_advantages(s, m, group_size=2),
    "dr_grpo": lambda s, m: A.dr_grpo_advantages(s, m, group_size=2),
    "rloo": lambda s, m: A.rloo_advantages(s, m, group_size=2),
    "reinforce_pp": lambda s, m: A.reinforce_pp_advantages(s, m),
    "place_on_last_token": lambda s, m: A.place_on_last_token(s, m),
    "prime": lambda s, m: A.prime_advantages(torch.zeros(m.shape), s, m, group_size=2),
    "pav": lambda s, m: A.pav_advantages(s, torch.zeros(m.shape), m),
}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_mask_with_the_wrong_batch_size_raises_naming_both_shapes(name):
    with pytest.raises(ValueError) as e:
        ESTIMATORS[name](S4, BAD_MASK)
    assert "(4,)" in str(e.value) or "[4]" in str(e.value), str(e.value)
    assert "(1, 3)" in str(e.value) or "[1, 3]" in str(e.value), str(e.value)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_two_dimensional_scores_raise(name):
    with pytest.raises(ValueError):
        ESTIMATORS[name](S4[:, None], M4)


def test_token_tensors_with_the_wrong_shape_raise():
    r = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(1, 3\)|\(1, 3\).*\(4, 3\)"):
        A.gae_advantages(r, torch.zeros(1, 3), M4)
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        A.reinforce_pp_advantages(S4, M4, kl=torch.zeros(1, 3), kl_coef=0.1)
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        A.pav_advantages(torch.zeros(1, 3), r, M4)
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        A.prime_advantages(torch.zeros(4, 3), torch.zeros(3), M4)


def test_kl_estimators_do_not_broadcast():
    from rewardkit.shaping.kl import approx_kl, kl_penalized_rewards, rto_token_rewards

    logp = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(1, 3\)"):
        approx_kl(logp, torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(1, 3\)"):
        approx_kl(logp, logp, mask=BAD_MASK)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(1, 3\)"):
        rto_token_rewards(logp, torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"\(4,\).*\(1, 3\)"):
        kl_penalized_rewards(S4, torch.zeros(1, 3), torch.zeros(1, 3), BAD_MASK, kl_coef=0.1)


def test_numpy_shapes_raise_naming_both():
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)|\(3,\).*\(4,\)"):
        N.group_normalize(np.zeros(4), valid=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="3.*4|4.*3"):
        N.group_normalize(np.zeros(4), [0, 0, 1])


# ------------------------------------------------------------------------------------------------
def test_par_family_uses_every_reference_by_default():
    refs = np.linspace(-1.0, 1.0, 12)  # 12 references: the last two used to be dropped silently
    r = 0.3
    assert P.par_reward(r, refs) == pytest.approx(float(np.mean(1 / (1 + np.exp(-(r - refs))))))
    assert P.centered_reward(r, refs) == pytest.approx(r - refs.mean())
    z = 1.0364333894937898
    pct = refs.mean() + z * (refs.std(ddof=1) + 1e-5)
    assert P.lsc_reward(r, refs) == pytest.approx(-np.log1p(np.exp(-(r - pct))))
    # an explicit cap is honoured (the caller asked for it)
    assert P.centered_reward(r, refs, max_refs=10) == pytest.approx(r - refs[:10].mean())


def test_par_transform_reports_dropped_references():
    refs = list(np.linspace(-1.0, 1.0, 12))
    t = PAR(max_refs=10)
    (out,) = t([Sample(prompt="p", completion="c", metadata={"ref_rewards": refs})], [RewardResult.ok(0.3)])
    assert out.info["n_refs"] == 10 and out.info["refs_dropped"] == 2
    (out,) = PAR()([Sample(prompt="p", completion="c", metadata={"ref_rewards": refs})], [RewardResult.ok(0.3)])
    assert out.info["n_refs"] == 12 and "refs_dropped" not in out.info


def test_clip_needs_eta():
    with pytest.raises(TypeError, match="eta"):
        shape_process_rewards([0.9, 0.8], "clip")
    with pytest.raises(TypeError, match="eta"):
        shape_process_rewards([0.9, 0.8], "clip_delta")
    np.testing.assert_allclose(shape_process_rewards([0.9, 0.5], "clip", eta=0.6), [0.0, -0.1])
    np.testing.assert_allclose(shape_process_rewards([0.9, 0.5], "delta"), [0.4, 0.5])


# ------------------------------------------------------------------------------------------------
def test_invalid_rows_one_convention_in_both_twins():
    """Sequence-level ``[N] -> [N]`` functions: NaN for invalid rows by default (missing stays missing),
    ``invalid_value`` to choose; a non-finite score is an invalid row in numpy and torch alike."""
    x = np.array([1.0, np.nan, 0.0, 3.0, 2.0, 2.0])
    ids = [0, 0, 0, 1, 1, 1]
    a = N.group_normalize(x, ids)
    b = A.group_normalize(torch.tensor(x), group_ids=torch.tensor(ids))
    np.testing.assert_allclose(a, b.numpy(), equal_nan=True)
    assert np.isnan(a[1]) and torch.isnan(b[1])
    a0 = N.group_normalize(x, ids, invalid_value=0.0)
    b0 = A.group_normalize(torch.tensor(x), group_ids=torch.tensor(ids), invalid_value=0.0)
    np.testing.assert_allclose(a0, b0.numpy())
    assert a0[1] == 0.0
    # token-level estimators keep the loss finite: invalid rows get invalid_value (default 0)
    out = A.grpo_outcome_advantages(torch.tensor(x), torch.ones(6, 2, dtype=torch.bool), group_ids=torch.tensor(ids))
    assert torch.isfinite(out).all() and out[1].eq(0).all()
    np.testing.assert_allclose(N.leave_one_out(x, ids), A.rloo_advantages(
        torch.tensor(x), torch.ones(6, 1, dtype=torch.bool), group_ids=torch.tensor(ids), invalid_value=float("nan"))[:, 0],
        equal_nan=True)


def test_groups_are_passed_the_same_way():
    x = np.array([1.0, 0.0, 0.0, 1.0, 3.0, 1.0])
    by_size = N.group_normalize(x, group_size=3)
    by_ids = N.group_normalize(x, group_ids=[0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(by_size, by_ids)
    np.testing.assert_allclose(by_size, A.group_normalize(torch.tensor(x), group_size=3).numpy())
    np.testing.assert_allclose(N.leave_one_out(x, group_size=3), N.leave_one_out(x, [0, 0, 0, 1, 1, 1]))
    with pytest.raises(ValueError, match="group_size.*group_ids|group_ids.*group_size"):
        A.group_normalize(torch.tensor(x), group_size=3, group_ids=torch.zeros(6))
    with pytest.raises(ValueError, match="group_size.*group_ids|group_ids.*group_size"):
        N.group_normalize(x, [0] * 6, group_size=3)


def test_eps_means_one_thing():
    """``eps`` is always added to the std: ``(x − mean)/(std + eps)``. Variance floors and ranges
    have their own names (``var_eps``, ``range_eps``)."""
    import inspect

    for fn in (A.masked_whiten, A.reinforce_pp_advantages):
        params = inspect.signature(fn).parameters
        assert "eps" not in params and "var_eps" in params, fn.__name__
    assert "eps" not in inspect.signature(P.minmax_reward).parameters
    x = torch.tensor([[1.0, 3.0]])
    m = torch.ones(1, 2, dtype=torch.bool)
    torch.testing.assert_close(A.masked_whiten(x, m, var_eps=4.0, var_eps_mode="clamp"), torch.tensor([[-0.5, 0.5]]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-100, 100), st.just(float("nan"))), min_size=1, max_size=16),
       st.integers(1, 4), st.sampled_from(["group", "batch", "none"]), st.sampled_from([0, 1]))
def test_numpy_and_torch_twins_agree_on_invalid_rows_and_groups(xs, n_groups, scale, ddof):
    x = np.array(xs, dtype=np.float64)
    ids = [i % n_groups for i in range(len(xs))]
    a = N.group_normalize(x, ids, scale=scale, ddof=ddof)
    b = A.group_normalize(torch.tensor(x), group_ids=torch.tensor(ids), scale=scale, ddof=ddof).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert np.array_equal(np.isnan(a), np.isnan(x))  # invalid rows, and only they, are NaN
    loo = N.leave_one_out(x, ids)
    r = A.rloo_advantages(torch.tensor(x), torch.ones(len(xs), 1, dtype=torch.bool), group_ids=torch.tensor(ids),
                          invalid_value=float("nan"))[:, 0].numpy()
    np.testing.assert_allclose(loo, r, rtol=1e-9, atol=1e-9, equal_nan=True)
