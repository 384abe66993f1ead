"""Advantage estimators: the worked numbers of REWARD_METHODS.md §1, §4, §6, plus equivalence with
plain per-sample loops and the status / mask conventions."""

from __future__ import annotations

import math

import pytest
import torch

from rewardkit.train import advantages as A

T64 = torch.float64


def t(x, dtype=T64):
    return torch.tensor(x, dtype=dtype)


def close(a, b, tol=1e-6):
    torch.testing.assert_close(torch.as_tensor(a, dtype=T64), torch.as_tensor(b, dtype=T64), atol=tol, rtol=0)


def ones_mask(B, T):
    return torch.ones(B, T, dtype=torch.bool)


# ----------------------------------------------------------------------------- §1.1 PPO / GAE
def test_gae_worked_example():
    r = t([[-0.02, 0.0, 1.05]])
    V = t([[0.5, 0.6, 0.8]])
    adv, ret = A.gae_advantages(r, V, ones_mask(1, 3), gamma=1.0, lam=0.95)
    close(adv, [[0.495625, 0.4375, 0.25]])
    close(ret, [[0.995625, 1.0375, 1.05]])


def naive_gae(r, V, lengths, gamma, lam):
    """Per-sample Python loop (the reference the vectorised version must equal)."""
    adv = [[0.0] * len(row) for row in r]
    for b, n in enumerate(lengths):
        last = 0.0
        for i in reversed(range(n)):
            nv = V[b][i + 1] if i + 1 < n else 0.0
            delta = r[b][i] + gamma * nv - V[b][i]
            last = delta + gamma * lam * last
            adv[b][i] = last
    return adv


@pytest.mark.parametrize("T,gamma,lam", [(1, 1.0, 0.95), (7, 0.99, 0.95), (200, 1.0, 0.9), (130, 0.9, 1.0),
                                         (300, 1.0, 1.0), (64, 0.5, 0.5)])
def test_gae_equals_plain_loop(T, gamma, lam):
    g = torch.Generator().manual_seed(T)
    B = 5
    r, V = torch.randn(B, T, generator=g, dtype=T64), torch.randn(B, T, generator=g, dtype=T64)
    lengths = [T, max(T // 2, 1), 1, max(T - 3, 1), T]
    mask = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]
    r_pad = torch.where(mask, r, torch.full_like(r, float("nan")))  # garbage outside the mask
    adv, ret = A.gae_advantages(r_pad, V, mask, gamma=gamma, lam=lam)
    ref = naive_gae(r.tolist(), V.tolist(), lengths, gamma, lam)
    close(adv, ref, 1e-9)
    close(ret, torch.where(mask, torch.tensor(ref, dtype=T64) + V, 0.0), 1e-9)


def test_gae_float32_default_and_float64_kept():
    r = torch.randn(3, 100)
    adv, _ = A.gae_advantages(r, torch.zeros(3, 100), ones_mask(3, 100))
    assert adv.dtype == torch.float32
    adv64, _ = A.gae_advantages(r.double(), torch.zeros(3, 100, dtype=T64), ones_mask(3, 100))
    assert adv64.dtype == T64
    close(adv, adv64, 1e-4)


@pytest.mark.parametrize("c", [0.0, 0.3, 0.95, 0.999, 1.0])
@pytest.mark.parametrize("T", [1, 5, 63, 64, 65, 1000])
def test_discounted_cumsum_equals_loop(c, T):
    x = torch.randn(3, T, dtype=T64, generator=torch.Generator().manual_seed(T))
    ref = torch.zeros_like(x)
    acc = torch.zeros(3, dtype=T64)
    for i in reversed(range(T)):
        acc = x[:, i] + c * acc
        ref[:, i] = acc
    close(A.discounted_cumsum(x, c, block=16), ref, 1e-9)
    close(A.discounted_cumsum(x, c), ref, 1e-9)


# ----------------------------------------------------------------------------- §1.2 GRPO outcome
def test_grpo_outcome_worked_example():
    r = t([1, 0, 0, 1])
    close(A.group_normalize(r, ddof=1, eps=0.0), [0.866025, -0.866025, -0.866025, 0.866025])
    close(A.group_normalize(r, ddof=0, eps=0.0), [1, -1, -1, 1])
    close(A.group_normalize(r, ddof=0, eps=1e-6), [1, -1, -1, 1], 1e-5)
    adv = A.grpo_outcome_advantages(r, ones_mask(4, 3), ddof=1, eps=0.0)
    close(adv, torch.tensor([0.866025, -0.866025, -0.866025, 0.866025])[:, None].expand(4, 3))


def test_grpo_groups_and_degenerate_group():
    r = t([1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5])
    a = A.group_normalize(r, group_size=4, ddof=1, eps=0.0)
    close(a[:4], [0.866025, -0.866025, -0.866025, 0.866025])
    close(a[4:], [0, 0, 0, 0])  # all-equal group -> 0, not NaN
    ids = torch.tensor([7, 3, 3, 7, 9, 9, 9, 9])
    b = A.group_normalize(r, group_ids=ids, ddof=0, eps=0.0)
    # group 7 = rows 0,3 -> r = [1, 1] -> 0;  group 3 = rows 1,2 -> [0, 0] -> 0
    close(b, [0, 0, 0, 0, 0, 0, 0, 0])


def test_grpo_batch_and_none_scale():
    r = t([1, 0, 0, 1, 1, 1, 1, 0])
    a = A.group_normalize(r, group_size=4, scale="batch", ddof=1, eps=0.0)
    mean_g = torch.tensor([0.5] * 4 + [0.75] * 4, dtype=T64)
    close(a, (r - mean_g) / r.std())
    close(A.group_normalize(r, group_size=4, scale="none"), r - mean_g)


def test_singleton_group_gets_zero_not_raw_score():
    a = A.group_normalize(t([3.0, 1.0, 2.0]), group_ids=torch.tensor([0, 1, 1]), ddof=1)
    assert a[0].item() == 0.0  # no baseline for a lone response: 0, not its raw score, not NaN
    close(a[1:], [-0.707107, 0.707107], 1e-5)


# ----------------------------------------------------------------------------- §1.3 GRPO process
def _process_example():
    sr = torch.zeros(2, 6, dtype=T64)
    sm = torch.zeros(2, 6, dtype=torch.bool)
    mask = torch.zeros(2, 6, dtype=torch.bool)
    sr[0, 2], sr[0, 5], sr[1, 3] = 0.8, 0.6, 0.2
    sm[0, 2] = sm[0, 5] = sm[1, 3] = True
    mask[0, :6] = True
    mask[1, :4] = True
    return sr, sm, mask


@pytest.mark.parametrize("ddof,rt,a1,a2", [
    (0, [1.069045, 0.267261, -1.336306], [1.336306] * 3 + [0.267261] * 3, [-1.336306] * 4),
    (1, [0.872872, 0.218218, -1.091089], [1.091089] * 3 + [0.218218] * 3, [-1.091089] * 4),
])
def test_grpo_process_worked_example(ddof, rt, a1, a2):
    sr, sm, mask = _process_example()
    adv = A.grpo_process_advantages(sr, sm, mask, ddof=ddof, eps=0.0)
    close(adv[0], a1)
    close(adv[1, :4], a2)
    assert adv[1, 4:].eq(0).all()
    # the normalised step rewards are the differences of the reward-to-go at step ends
    close([adv[0, 2] - adv[0, 3], adv[0, 5], adv[1, 3]], rt)


def test_grpo_process_equals_plain_loop():
    g = torch.Generator().manual_seed(1)
    B, T, G = 6, 20, 3
    lengths = [20, 13, 5, 17, 20, 9]
    mask = torch.arange(T)[None] < torch.tensor(lengths)[:, None]
    sm = (torch.rand(B, T, generator=g) < 0.3) & mask
    sr = torch.where(sm, torch.rand(B, T, generator=g, dtype=T64), 0.0)
    adv = A.grpo_process_advantages(sr, sm, mask, group_size=G, ddof=1, eps=0.0)
    for gi in range(B // G):
        rows = range(gi * G, gi * G + G)
        pool = [sr[b, i].item() for b in rows for i in range(T) if sm[b, i]]
        mu = sum(pool) / len(pool)
        sd = math.sqrt(sum((x - mu) ** 2 for x in pool) / (len(pool) - 1))
        for b in rows:
            for i in range(lengths[b]):
                want = sum((sr[b, k].item() - mu) / sd for k in range(i, lengths[b]) if sm[b, k])
                assert adv[b, i].item() == pytest.approx(want, abs=1e-9)


# ----------------------------------------------------------------------------- §1.4 / §1.5
def test_dr_grpo_worked_example():
    close(A.dr_grpo_advantages(t([1, 0, 0, 1]), ones_mask(4, 1))[:, 0], [0.5, -0.5, -0.5, 0.5])


def test_rloo_worked_example():
    close(A.rloo_advantages(t([1, 0, 0, 1]), ones_mask(4, 1))[:, 0], [0.666667, -0.666667, -0.666667, 0.666667])


def test_rloo_equals_leave_one_out_loop():
    r = torch.rand(12, dtype=T64, generator=torch.Generator().manual_seed(0))
    a = A.rloo_advantages(r, ones_mask(12, 1), group_size=4)[:, 0]
    for i in range(12):
        g = range(i // 4 * 4, i // 4 * 4 + 4)
        base = sum(r[j].item() for j in g if j != i) / 3
        assert a[i].item() == pytest.approx(r[i].item() - base, abs=1e-12)


# ----------------------------------------------------------------------------- §1.6 REINFORCE++
def test_reinforce_pp_worked_example():
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    kl = t([[0.1, -0.1, 0.0], [0.2, 0.0, 0.1]])
    adv, ret = A.reinforce_pp_advantages(t([1.0, 0.0]), mask, kl=kl, kl_coef=0.1)
    close(ret[0, :2], [1.0, 1.01])
    close(ret[1], [-0.03, -0.01, -0.01])
    close(adv[0, :2], [1.214602, 1.234579])
    close(adv[1], [-0.843029, -0.803075, -0.803075])
    assert adv[0, 2] == 0 and ret[0, 2] == 0


def test_reinforce_pp_baseline_centres_per_group_and_forces_gamma_one():
    mask = ones_mask(4, 3)
    s = t([1.0, 0.0, 3.0, 1.0])
    _, ret = A.reinforce_pp_advantages(s, mask, baseline="group_mean", group_size=2, gamma=0.5, whiten=False)
    close(ret[:, 0], [0.5, -0.5, 1.0, -1.0])  # gamma forced to 1: every token carries R - mean
    close(ret[:, 2], [0.5, -0.5, 1.0, -1.0])


# ----------------------------------------------------------------------------- §4 PRIME
def test_prime_worked_example():
    pr = t([[0.02, -0.01, 0.03], [0.0, -0.04, 0.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    adv = A.prime_advantages(pr, t([1.0, 0.0]), mask)
    close(adv[0], [1.1, 1.06, 1.05])
    close(adv[1, :2], [-1.066667, -1.053333])
    assert adv[1, 2] == 0


# ----------------------------------------------------------------------------- §6 PAV
def test_pav_worked_example():
    prog = A.progress_from_q(t([0.5, 0.75, 0.25, 0.25]))
    close(prog, [0.25, -0.5, 0.0])
    # three steps of 2, 1 and 3 tokens; outcome advantage R - b = 0 - 0.5
    step_vals = torch.zeros(1, 6, dtype=T64)
    sm = torch.zeros(1, 6, dtype=torch.bool)
    for end, v in zip([1, 2, 5], prog.tolist(), strict=True):
        step_vals[0, end] = v
        sm[0, end] = True
    filled = A.fill_steps(step_vals, sm, ones_mask(1, 6))
    close(filled[0], [0.25, 0.25, -0.5, 0.0, 0.0, 0.0])
    adv = A.pav_advantages(t([0.0 - 0.5]), filled, ones_mask(1, 6), alpha=1.0)
    close(adv[0], [-0.25, -0.25, -1.0, -0.5, -0.5, -0.5])
    assert A.best_of_k_value(0.25, 4).item() == pytest.approx(0.68359375)


# ----------------------------------------------------------------------------- whitening
def test_whiten_pop_vs_unbiased_and_eps_modes():
    x = t([[1.0, 2.0, 3.0, 0.0]])
    m = torch.tensor([[1, 1, 1, 0]], dtype=torch.bool)
    w0 = A.masked_whiten(x, m, ddof=0, var_eps=0.0)
    close(w0[0, :3], [-1.224745, 0.0, 1.224745])
    assert w0[0, 3] == 0
    w1 = A.masked_whiten(x, m, ddof=1, var_eps=1e-8, var_eps_mode="add")
    close(w1[0, :3], [-1.0, 0.0, 1.0])
    ws = A.masked_whiten(x, m, shift_mean=False, ddof=0, var_eps=0.0)
    close(ws[0, :3], (x[0, :3] - 2) / math.sqrt(2 / 3) + 2)
    const = A.masked_whiten(torch.ones(2, 3), ones_mask(2, 3))
    assert torch.isfinite(const).all() and const.abs().max() == 0  # var clamped, no NaN


# ----------------------------------------------------------------------------- status / masks
ESTIMATORS = {
    "grpo": lambda s, m, v: A.grpo_outcome_advantages(s, m, group_size=4, valid=v),
    "dr_grpo": lambda s, m, v: A.dr_grpo_advantages(s, m, group_size=4, valid=v),
    "rloo": lambda s, m, v: A.rloo_advantages(s, m, group_size=4, valid=v),
    "reinforce_pp": lambda s, m, v: A.reinforce_pp_advantages(s, m, valid=v)[0],
    "reinforce_pp_baseline": lambda s, m, v: A.reinforce_pp_advantages(
        s, m, baseline="group_mean", group_size=4, valid=v)[0],
    "prime": lambda s, m, v: A.prime_advantages(m.double() * 0.01, s, m, group_size=4, valid=v),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_invalid_rows_are_excluded_and_get_zero(name):
    fn = ESTIMATORS[name]
    s = t([1.0, 0.0, 0.0, 1.0, 0.5, 1.0, 0.0, 0.2])
    mask = torch.arange(5)[None] < torch.tensor([5, 3, 4, 2, 5, 1, 4, 3])[:, None]
    valid = torch.tensor([True, True, False, True, True, True, True, False])
    s_nan = s.clone()
    s_nan[~valid] = float("nan")  # a failed reward has no value at all
    adv = fn(s_nan, mask, valid)
    assert torch.isfinite(adv).all()
    assert adv[~valid].eq(0).all()
    assert adv[~mask].eq(0).all()
    # the invalid rows do not influence the others: same as dropping them
    keep = valid.nonzero().squeeze(1)
    if name in ("grpo", "dr_grpo", "rloo", "reinforce_pp_baseline", "prime"):
        ids = torch.arange(8) // 4
        alt = {
            "grpo": lambda: A.grpo_outcome_advantages(s[keep], mask[keep], group_ids=ids[keep]),
            "dr_grpo": lambda: A.dr_grpo_advantages(s[keep], mask[keep], group_ids=ids[keep]),
            "rloo": lambda: A.rloo_advantages(s[keep], mask[keep], group_ids=ids[keep]),
            "reinforce_pp_baseline": lambda: A.reinforce_pp_advantages(
                s[keep], mask[keep], baseline="group_mean", group_ids=ids[keep])[0],
            "prime": lambda: A.prime_advantages(mask[keep].double() * 0.01, s[keep], mask[keep], group_ids=ids[keep]),
        }[name]()
    else:
        alt = A.reinforce_pp_advantages(s[keep], mask[keep])[0]
    close(adv[keep], alt, 1e-9)


def test_invalid_value_is_configurable():
    s = t([1.0, float("nan"), 0.0])
    adv = A.grpo_outcome_advantages(s, ones_mask(3, 2), valid=torch.tensor([True, False, True]),
                                    invalid_value=float("nan"))
    assert torch.isnan(adv[1]).all() and torch.isfinite(adv[[0, 2]]).all()


def test_gae_invalid_rows():
    r = torch.randn(3, 4, dtype=T64)
    V = torch.randn(3, 4, dtype=T64)
    adv, ret = A.gae_advantages(r, V, ones_mask(3, 4), valid=torch.tensor([True, False, True]))
    assert adv[1].eq(0).all()
    close(ret[1], V[1])


def test_place_on_last_token_and_last_index():
    m = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0]], dtype=torch.bool)
    assert A.last_token_index(m).tolist() == [1, 3, -1]
    r = A.place_on_last_token(t([2.0, float("nan"), 5.0]), m, valid=torch.tensor([True, False, True]))
    close(r, [[0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="multiple of group_size"):
        A.group_normalize(t([1, 2, 3]), group_size=2)
    with pytest.raises(ValueError, match="mask must have shape"):
        A.gae_advantages(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="discount"):
        A.discounted_cumsum(torch.zeros(2, 3), 1.5)


def test_left_padding_gives_the_same_advantages_as_right_padding():
    g = torch.Generator().manual_seed(3)
    n, T = 5, 9
    r, V, k = (torch.randn(2, n, generator=g, dtype=T64) for _ in range(3))
    s = t([1.0, 0.0])

    def padded(x, left):
        z = torch.full((2, T), float("nan"), dtype=T64)
        if left:
            z[:, T - n:] = x
        else:
            z[:, :n] = x
        return z

    right_m = torch.arange(T)[None].expand(2, T) < n
    left_m = torch.arange(T)[None].expand(2, T) >= T - n
    for left, m in ((False, right_m), (True, left_m)):
        adv, ret = A.gae_advantages(padded(r, left), padded(V, left), m, gamma=0.9, lam=0.8)
        rpp, _ = A.reinforce_pp_advantages(s, m, kl=padded(k, left), kl_coef=0.1)
        sl = slice(T - n, T) if left else slice(0, n)
        if not left:
            base = (adv[:, sl], ret[:, sl], rpp[:, sl])
        else:
            for got, want in zip((adv[:, sl], ret[:, sl], rpp[:, sl]), base, strict=True):
                close(got, want, 1e-12)
        assert adv[~m].eq(0).all() and ret[~m].eq(0).all() and rpp[~m].eq(0).all()
