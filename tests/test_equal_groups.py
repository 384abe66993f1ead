"""Issue 9 §2: a group whose rewards are all equal has advantage exactly 0 -- in every estimator
that normalises in groups, with any eps, dtype, group size and padding side.

The regression cases are the ones the issue reports: seven rewards of 0.7 in float32 gave 0.056
each; three of 0.1 in float64 with eps=0 gave -0.8165 each (the mean is off by one rounding unit,
the std is a tiny leftover and leftover / (leftover + eps) is large).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardkit.shaping import normalize as N
from rewardkit.shaping.multi import gdpo, sum_then_normalize
from rewardkit.shaping.transforms import BatchNormalize, GroupNormalize, LeaveOneOut, RunningNormalize
from rewardkit.train import advantages as A
from rewardkit.types import RewardResult, Sample

# (value, group size, dtype, eps): each of these gave non-zero advantages before the fix
REGRESSIONS = [(0.7, 7, torch.float32, 1e-6), (0.1, 3, torch.float64, 0.0), (0.1, 3, torch.float64, 1e-12),
               (0.3, 5, torch.float32, 0.0), (1 / 3, 6, torch.float64, 1e-8)]


def _left_mask(lengths, T):
    return torch.arange(T)[None, :] >= (T - lengths)[:, None]


@pytest.mark.parametrize("value,G,dtype,eps", REGRESSIONS)
def test_torch_estimators_give_exact_zero_for_equal_group(value, G, dtype, eps):
    scores = torch.full((G,), value, dtype=dtype)
    T = 5
    for mask in (torch.ones(G, T, dtype=torch.bool), _left_mask(torch.arange(G) % T + 1, T)):
        assert torch.equal(A.group_normalize(scores, group_size=G, eps=eps), torch.zeros(G, dtype=dtype))
        for scale in ("group", "batch"):
            out = A.grpo_outcome_advantages(scores, mask, group_size=G, eps=eps, scale=scale)
            assert torch.count_nonzero(out) == 0, (scale, out)
        assert torch.count_nonzero(A.dr_grpo_advantages(scores, mask, group_size=G)) == 0
        assert torch.count_nonzero(A.rloo_advantages(scores, mask, group_size=G)) == 0
        step_rewards = torch.full((G, T), value, dtype=dtype)
        out = A.grpo_process_advantages(step_rewards, mask, mask, group_size=G, eps=eps)
        assert torch.count_nonzero(out) == 0, out
        out = A.reinforce_pp_advantages(scores, mask, baseline="group_mean", group_size=G)[0]
        assert torch.count_nonzero(out) == 0


@pytest.mark.parametrize("value,G,dtype,eps", REGRESSIONS)
def test_numpy_normalisers_give_exact_zero_for_equal_group(value, G, dtype, eps):
    x = np.full(G, value, dtype=np.float32 if dtype == torch.float32 else np.float64)
    for scale in ("group", "batch"):
        assert np.count_nonzero(N.group_normalize(x, [0] * G, eps=eps, scale=scale)) == 0
    assert np.count_nonzero(N.batch_normalize(x, eps=eps)) == 0
    assert np.count_nonzero(N.leave_one_out(x, [0] * G)) == 0
    assert np.count_nonzero(sum_then_normalize(x[:, None], None, [0] * G, eps=eps)) == 0
    assert np.count_nonzero(gdpo(np.stack([x, x], 1), None, [0] * G, eps=eps)) == 0
    rs = N.RunningStats().update(x).update(x[: G // 2 + 1])
    assert np.count_nonzero(rs.normalize(x, eps=eps)) == 0


@pytest.mark.parametrize("value,G,dtype,eps", REGRESSIONS)
def test_whitening_and_ensembles_give_exact_zero_for_equal_values(value, G, dtype, eps):
    x = torch.full((G, 5), value, dtype=dtype)
    for mask in (torch.ones(G, 5, dtype=torch.bool), _left_mask(torch.arange(G) % 5 + 1, 5)):
        for mode in ("clamp", "add"):
            for shift in (True, False):
                out = A.masked_whiten(x, mask, var_eps=0.0, var_eps_mode=mode, shift_mean=shift)
                want = torch.zeros_like(x) if shift else torch.where(mask, x, torch.zeros_like(x))
                assert torch.equal(out, want), (mode, shift, out)
        adv, _ = A.reinforce_pp_advantages(torch.full((G,), value, dtype=dtype), mask, var_eps=0.0)
        assert torch.count_nonzero(adv) == 0
    from rewardkit.shaping.ensemble import ensemble

    members = np.stack([np.full(G, value), np.linspace(0, 1, G)], 1)
    z = ensemble(members, "mean", standardize=True, eps=eps)
    np.testing.assert_allclose(z, ensemble(members[:, 1:], "mean", standardize=True, eps=eps) / 2)


@pytest.mark.parametrize("value,G,dtype,eps", REGRESSIONS)
def test_transforms_give_exact_zero_for_equal_group(value, G, dtype, eps):
    samples = [Sample(prompt="p", completion=str(i), group_id="g") for i in range(G)]
    results = [RewardResult.ok(value) for _ in range(G)]
    for t in (GroupNormalize(eps=eps), BatchNormalize(eps=eps), LeaveOneOut(), RunningNormalize(eps=eps)):
        out = t(samples, results)
        assert [r.score for r in out] == [0.0] * G, (t, [r.score for r in out])


# ------------------------------------------------------------------------------------------------
# properties
# ------------------------------------------------------------------------------------------------
SETTINGS = settings(max_examples=80, deadline=None)
values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@SETTINGS
@given(st.lists(st.tuples(values, st.integers(1, 9)), min_size=1, max_size=5),
       st.sampled_from([torch.float32, torch.float64]), st.sampled_from([0.0, 1e-12, 1e-6, 1e-4]),
       st.booleans(), st.integers(0, 2**31 - 1))
def test_all_equal_groups_are_exactly_zero(groups, dtype, eps, left_pad, seed):
    """Any number of all-equal groups of any size, shuffled, padded on either side: exactly 0."""
    ids = torch.tensor([g for g, (_, n) in enumerate(groups) for _ in range(n)])
    scores = torch.tensor([v for v, n in groups for _ in range(n)], dtype=dtype)
    perm = torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed))
    ids, scores = ids[perm], scores[perm]
    B, T = len(ids), 4
    lengths = torch.arange(B) % T + 1
    mask = _left_mask(lengths, T) if left_pad else torch.arange(T)[None, :] < lengths[:, None]
    assert torch.count_nonzero(A.group_normalize(scores, group_ids=ids, eps=eps)) == 0
    assert torch.count_nonzero(A.grpo_outcome_advantages(scores, mask, group_ids=ids, eps=eps)) == 0
    assert torch.count_nonzero(A.rloo_advantages(scores, mask, group_ids=ids)) == 0
    steps = scores[:, None].expand(B, T).clone()
    assert torch.count_nonzero(A.grpo_process_advantages(steps, mask, mask, group_ids=ids, eps=eps)) == 0
    x = scores.numpy()
    assert np.count_nonzero(N.group_normalize(x, ids.tolist(), eps=eps)) == 0
    assert np.count_nonzero(N.leave_one_out(x, ids.tolist())) == 0


@SETTINGS
@given(st.lists(values, min_size=1, max_size=12), st.integers(0, 2**31 - 1),
       st.sampled_from([torch.float32, torch.float64]))
def test_permuting_members_permutes_advantages(xs, seed, dtype):
    """Group members in any order: the same advantages, permuted; numpy and torch agree."""
    s = torch.tensor(xs, dtype=dtype)
    ids = torch.arange(len(xs)) % 3
    perm = torch.randperm(len(xs), generator=torch.Generator().manual_seed(seed))
    a = A.group_normalize(s, group_ids=ids, eps=1e-6)
    b = A.group_normalize(s[perm], group_ids=ids[perm], eps=1e-6)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(a[perm], b, **tol)
    n = N.group_normalize(s.numpy(), ids.tolist(), eps=1e-6)
    np.testing.assert_allclose(n, a.double().numpy(), **tol)


@SETTINGS
@given(values, st.sampled_from([torch.float32, torch.float64]))
def test_one_member_groups_are_zero(v, dtype):
    s = torch.tensor([v, v + 1.0, -v], dtype=dtype)
    ids = torch.tensor([0, 1, 2])
    assert torch.count_nonzero(A.group_normalize(s, group_ids=ids)) == 0
    assert torch.count_nonzero(A.rloo_advantages(s, torch.ones(3, 2, dtype=torch.bool), group_ids=ids)) == 0
    assert np.count_nonzero(N.group_normalize(s.numpy(), [0, 1, 2])) == 0
