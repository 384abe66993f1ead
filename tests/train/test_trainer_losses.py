"""Every loss against hand-computed numbers (worked examples in the comments)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from rewardkit.train.losses import aggregate, entropy_loss, kl_loss, policy_loss, value_loss  # noqa: E402

# ratios ρ = [1.5, 0.5, 1.1, 4.0], advantages A = [1, −1, −2, −1]
RATIOS = [1.5, 0.5, 1.1, 4.0]
ADV = [[1.0, -1.0, -2.0, -1.0]]


def _ppo_inputs(dtype=torch.float64):
    old = torch.tensor([[-1.0, -2.0, -0.5, -3.0]], dtype=dtype)
    logp = old + torch.log(torch.tensor([RATIOS], dtype=dtype))
    return logp.requires_grad_(), old, torch.tensor(ADV, dtype=dtype), torch.ones(1, 4, dtype=torch.bool)


def test_ppo_clip_symmetric():
    # ℓ = max(−ρA, −clip(ρ,0.8,1.2)A): t0 max(−1.5,−1.2)=−1.2 (clipped), t1 max(0.5,0.8)=0.8 (clipped),
    # t2 max(2.2,2.2)=2.2, t3 max(4.0,1.2)=4.0  -> mean 5.8/4 = 1.45, clip_frac 2/4
    logp, old, adv, m = _ppo_inputs()
    loss, st = policy_loss(logp, old, adv, m, clip_low=0.2)
    assert loss.item() == pytest.approx(1.45)
    assert st["policy/clip_frac"].item() == pytest.approx(0.5)
    assert st["policy/ratio_mean"].item() == pytest.approx(sum(RATIOS) / 4)
    loss.backward()
    # clipped tokens carry no gradient; unclipped: d(−ρA)/dlogp = −ρA / 4
    assert logp.grad.tolist()[0] == pytest.approx([0.0, 0.0, 2.2 / 4, 4.0 / 4])


def test_ppo_dual_clip_caps_negative_advantages():
    # c = 3: t3 (A=−1) capped at −cA = 3.0; t2 cap 6 > 2.2 unchanged -> (−1.2+0.8+2.2+3)/4 = 1.2
    logp, old, adv, m = _ppo_inputs()
    loss, st = policy_loss(logp, old, adv, m, clip_low=0.2, dual_clip=3.0)
    assert loss.item() == pytest.approx(1.2)
    assert st["policy/dual_clip_frac"].item() == pytest.approx(0.25)
    loss.backward()
    assert logp.grad[0, 3].item() == 0.0  # the cap is a constant


def test_ppo_clip_higher():
    # ε_low 0.2, ε_high 0.28: t0 max(−1.5, −1.28) = −1.28; others as in the symmetric case
    logp, old, adv, m = _ppo_inputs()
    loss, _ = policy_loss(logp, old, adv, m, clip_low=0.2, clip_high=0.28)
    assert loss.item() == pytest.approx((-1.28 + 0.8 + 2.2 + 4.0) / 4)


def test_ppo_on_policy_loss_is_minus_mean_advantage():
    # ρ = 1: loss = −mean(A); the gradient is −A (REINFORCE), the quantity every recipe relies on
    old = torch.tensor([[-1.0, -2.0, -0.5]])
    logp = old.clone().requires_grad_()
    adv = torch.tensor([[0.5, -1.0, 2.0]])
    loss, st = policy_loss(logp, old, adv, torch.ones(1, 3, dtype=torch.bool))
    assert loss.item() == pytest.approx(-1.5 / 3)
    assert st["policy/clip_frac"].item() == 0.0
    loss.backward()
    assert logp.grad.tolist()[0] == pytest.approx([-0.5 / 3, 1.0 / 3, -2.0 / 3])


def test_ppo_ignores_padding_even_nan():
    logp, old, adv, _ = _ppo_inputs()
    logp2 = torch.cat([logp.detach(), torch.tensor([[float("nan")]], dtype=logp.dtype)], 1)
    old2 = torch.cat([old, torch.tensor([[0.0]], dtype=old.dtype)], 1)
    adv2 = torch.cat([adv, torch.tensor([[float("nan")]], dtype=adv.dtype)], 1)
    m = torch.tensor([[True] * 4 + [False]])
    loss, _ = policy_loss(logp2, old2, adv2, m)
    assert loss.item() == pytest.approx(1.45)


def test_dual_clip_must_exceed_one():
    logp, old, adv, m = _ppo_inputs()
    with pytest.raises(ValueError, match="dual_clip"):
        policy_loss(logp, old, adv, m, dual_clip=1.0)


# x = [[1,2,3,·],[4,·,·,·]] (· = masked, filled with 100 to prove it is ignored)
X = [[1.0, 2.0, 3.0, 100.0], [4.0, 100.0, 100.0, 100.0]]
M = [[True, True, True, False], [True, False, False, False]]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_aggregations(dtype):
    x, m = torch.tensor(X, dtype=dtype), torch.tensor(M)
    assert aggregate(x, m, "token_mean").item() == pytest.approx(10 / 4)  # (1+2+3+4)/4
    assert aggregate(x, m, "seq_mean_token_mean").item() == pytest.approx(3.0)  # (6/3 + 4/1)/2
    assert aggregate(x, m, "seq_mean_token_sum_norm", constant=4).item() == pytest.approx(1.25)  # (6/4+4/4)/2
    assert aggregate(x, m, "token_mean").dtype == dtype


def test_aggregation_micro_batches_add_up_to_the_whole():
    # split the batch in two micro-batches; with the global counts the parts sum to the whole
    x, m = torch.tensor(X), torch.tensor(M)
    for mode in ("token_mean", "seq_mean_token_mean", "seq_mean_token_sum_norm"):
        whole = aggregate(x, m, mode, constant=4)
        parts = sum(aggregate(x[i:i + 1], m[i:i + 1], mode, constant=4, num_seqs=2, num_tokens=4) for i in range(2))
        assert parts.item() == pytest.approx(whole.item()), mode


def test_aggregation_errors_name_the_problem():
    x, m = torch.tensor(X), torch.tensor(M)
    with pytest.raises(ValueError, match="constant"):
        aggregate(x, m, "seq_mean_token_sum_norm")
    with pytest.raises(ValueError, match="aggregation must be one of"):
        aggregate(x, m, "sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(2, 3\)"):
        aggregate(x, m[:, :3])


# REWARD_METHODS §1.1: logπ = [−1, −0.5, −2], logπ_ref = [−1.2, −0.5, −1.5]
# k1 = [0.2, 0, −0.5]; k2 = [0.02, 0, 0.125]; k3 = [0.018731, 0, 0.148721]
@pytest.mark.parametrize("est,per_token", [
    ("k1", [0.2, 0.0, -0.5]),
    ("k2", [0.02, 0.0, 0.125]),
    ("k3", [math.exp(-0.2) - 1 + 0.2, 0.0, math.exp(0.5) - 1 - 0.5]),
])
def test_kl_loss_estimators(est, per_token):
    logp = torch.tensor([[-1.0, -0.5, -2.0]], dtype=torch.float64, requires_grad=True)
    ref = torch.tensor([[-1.2, -0.5, -1.5]], dtype=torch.float64)
    loss, st = kl_loss(logp, ref, torch.ones(1, 3, dtype=torch.bool), coef=0.1, estimator=est)
    assert st[f"kl/{est}"].item() == pytest.approx(sum(per_token) / 3, abs=1e-6)
    assert loss.item() == pytest.approx(0.1 * sum(per_token) / 3, abs=1e-7)
    loss.backward()
    # k3' = 1 − exp(−d): the gradient pulls log π towards log π_ref
    if est == "k3":
        d = torch.tensor([0.2, 0.0, -0.5], dtype=torch.float64)
        assert logp.grad[0].tolist() == pytest.approx((0.1 / 3 * (1 - torch.exp(-d))).tolist())


def test_entropy_bonus_lowers_loss():
    h = torch.tensor([[1.0, 2.0, 3.0]])
    loss, st = entropy_loss(h, torch.ones(1, 3, dtype=torch.bool), coef=0.01)
    assert loss.item() == pytest.approx(-0.02)
    assert st["policy/entropy"].item() == pytest.approx(2.0)


def test_value_loss_clipped():
    # t0: V=1.5, V_old=0.8, R=0: (V−R)²=2.25, V_clip=1.0 -> 1; ½·2.25 = 1.125
    # t1: V=0.9, V_old=0,   R=1: (V−R)²=0.01, V_clip=0.2 -> 0.64 (clip active); ½·0.64 = 0.32
    v = torch.tensor([[1.5, 0.9]], requires_grad=True)
    loss, st = value_loss(v, torch.tensor([[0.8, 0.0]]), torch.tensor([[0.0, 1.0]]),
                          torch.ones(1, 2, dtype=torch.bool), clip=0.2)
    assert loss.item() == pytest.approx((1.125 + 0.32) / 2)
    assert st["value/clip_frac"].item() == pytest.approx(0.5)
    loss.backward()
    assert v.grad.tolist()[0] == pytest.approx([1.5 / 2, 0.0])  # the clipped token has no gradient
    unclipped, _ = value_loss(v, torch.tensor([[0.8, 0.0]]), torch.tensor([[0.0, 1.0]]),
                              torch.ones(1, 2, dtype=torch.bool), clip=None)
    assert unclipped.item() == pytest.approx((1.125 + 0.005) / 2)
