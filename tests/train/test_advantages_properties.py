"""Property-based tests (hypothesis) of the advantage estimators: zero group mean, exact zeros
outside the mask, independence from padding length and from batch order."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardkit.train import advantages as A

T64 = torch.float64
SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def batches(draw, max_groups=4, max_g=5, max_t=12):
    n_groups = draw(st.integers(1, max_groups))
    G = draw(st.integers(2, max_g))
    B = n_groups * G
    T = draw(st.integers(1, max_t))
    floats = st.floats(-5, 5, allow_nan=False, width=32)
    scores = torch.tensor(draw(st.lists(floats, min_size=B, max_size=B)), dtype=T64)
    lengths = torch.tensor(draw(st.lists(st.integers(1, T), min_size=B, max_size=B)))
    tok = torch.tensor(draw(st.lists(floats, min_size=B * T, max_size=B * T)), dtype=T64).reshape(B, T)
    step = torch.tensor(draw(st.lists(st.booleans(), min_size=B * T, max_size=B * T))).reshape(B, T)
    valid = torch.tensor(draw(st.lists(st.booleans(), min_size=B, max_size=B)))
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return dict(G=G, scores=scores, mask=mask, tok=tok, step=step & mask, valid=valid)


def run_all(d, ids=None, pad=0):
    """Every estimator on batch ``d`` (optionally with extra padding columns filled with junk)."""
    mask, tok, step = d["mask"], d["tok"], d["step"]
    if pad:
        junk = torch.full((mask.shape[0], pad), 123.0, dtype=T64)
        mask = torch.cat([mask, torch.zeros(mask.shape[0], pad, dtype=torch.bool)], 1)
        tok = torch.cat([tok, junk], 1)
        step = torch.cat([step, torch.ones_like(junk, dtype=torch.bool)], 1)
    g = dict(group_ids=ids) if ids is not None else dict(group_size=d["G"])
    s, v = d["scores"], d["valid"]
    return {
        "gae": A.gae_advantages(tok, tok * 0.5, mask, gamma=0.99, lam=0.9, valid=v)[0],
        "returns": A.discounted_returns(tok, mask, 0.9),
        "grpo": A.grpo_outcome_advantages(s, mask, valid=v, **g),
        "rloo": A.rloo_advantages(s, mask, valid=v, **g),
        "dr_grpo": A.dr_grpo_advantages(s, mask, valid=v, **g),
        "process": A.grpo_process_advantages(tok, step, mask, valid=v, **g),
        "reinforce_pp": A.reinforce_pp_advantages(s, mask, kl=tok, kl_coef=0.1, valid=v)[0],
        "reinforce_pp_b": A.reinforce_pp_advantages(s, mask, kl=tok, kl_coef=0.1, baseline="group_mean",
                                                    valid=v, **g)[0],
        "prime": A.prime_advantages(tok * 0.01, s, mask, valid=v, **g),
        "whiten": A.masked_whiten(tok, mask, v),
    }


@SETTINGS
@given(batches())
def test_masked_positions_are_exactly_zero(d):
    for name, out in run_all(d).items():
        assert out[~d["mask"]].eq(0).all(), name
        assert torch.isfinite(out).all(), name


@SETTINGS
@given(batches())
def test_group_normalised_advantages_have_zero_mean_per_group(d):
    G, v = d["G"], d["valid"]
    for fn in (lambda **k: A.group_normalize(d["scores"], group_size=G, valid=v, **k),):
        for kw in ({"ddof": 1}, {"ddof": 0}, {"scale": "none"}, {"scale": "batch"}):
            a = fn(**kw)
            for gi in range(len(a) // G):
                sel = v[gi * G:(gi + 1) * G]
                if sel.any():
                    assert abs(a[gi * G:(gi + 1) * G][sel].mean().item()) < 1e-9
    r = A.rloo_advantages(d["scores"], d["mask"], group_size=G, valid=v)[:, 0]
    for gi in range(len(r) // G):
        sel = v[gi * G:(gi + 1) * G]
        if sel.any():
            assert abs(r[gi * G:(gi + 1) * G][sel].mean().item()) < 1e-9


@SETTINGS
@given(batches(), st.integers(1, 70))
def test_results_do_not_depend_on_padding_length(d, pad):
    base = run_all(d)
    padded = run_all(d, pad=pad)
    T = d["mask"].shape[1]
    for name in base:
        torch.testing.assert_close(padded[name][:, :T], base[name], atol=1e-9, rtol=1e-9, msg=name)
        assert padded[name][:, T:].eq(0).all(), name


@SETTINGS
@given(batches(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_batch_order(d, rnd):
    B = d["scores"].shape[0]
    ids = torch.arange(B) // d["G"]
    perm = list(range(B))
    rnd.shuffle(perm)
    perm = torch.tensor(perm)
    base = run_all(d, ids=ids)
    shuffled = {k: (v[perm] if torch.is_tensor(v) and v.dim() and v.shape[0] == B else v) for k, v in d.items()}
    out = run_all(shuffled, ids=ids[perm])
    for name in base:
        torch.testing.assert_close(out[name], base[name][perm], atol=1e-9, rtol=1e-9, msg=name)
