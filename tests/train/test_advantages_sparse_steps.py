"""GRPO process supervision from sparse steps (``grpo_process_advantages_from_steps``): equality with
the dense entry point, ``-1`` padding, invalid rows, left padding / holes, a plain per-sample loop,
input validation, and the helpers behind the fast path."""

from __future__ import annotations

import math

import pytest
import torch

from rewardkit.train import advantages as A

T64 = torch.float64


def to_sparse(sr: torch.Tensor, sm: torch.Tensor, junk: float = float("nan"), extra: int = 0):
    """Dense [B, T] step mask + rewards -> [B, K] ends (-1 padded) and rewards (``junk`` in padding)."""
    rows = [row.nonzero().squeeze(1) for row in sm]
    K = max([len(e) for e in rows] + [0]) + extra
    ends = torch.full((sm.shape[0], K), -1, dtype=torch.long)
    vals = torch.full((sm.shape[0], K), junk, dtype=sr.dtype)
    for b, e in enumerate(rows):
        ends[b, : len(e)] = e
        vals[b, : len(e)] = sr[b, e]
    return vals, ends


def random_batch(seed, B=8, T=23, G=4, density=0.3, left=False, holes=False):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    ar = torch.arange(T)[None]
    mask = ar >= T - lengths[:, None] if left else ar < lengths[:, None]
    if holes:
        mask &= torch.rand(B, T, generator=g) > 0.2
    sm = torch.rand(B, T, generator=g) < density
    sr = torch.rand(B, T, generator=g, dtype=T64)
    return sr, sm, mask, G


def naive(vals, ends, mask, G, valid=None, ddof=1, eps=1e-6, invalid_value=0.0):
    """Per-sample Python loop over the sparse lists (any order, duplicates allowed)."""
    B, T = mask.shape
    m = mask.tolist()
    ok = [True] * B if valid is None else [bool(x) for x in valid]
    steps = [[(e, v) for e, v in zip(ends[b].tolist(), vals[b].tolist(), strict=True)
              if e >= 0 and m[b][e] and ok[b]] for b in range(B)]
    out = [[0.0] * T for _ in range(B)]
    for g0 in range(0, B, G):
        pool = [v for b in range(g0, g0 + G) for _, v in steps[b]]
        if len(pool) > 1:
            mu = sum(pool) / len(pool)
            sd = math.sqrt(sum((x - mu) ** 2 for x in pool) / max(len(pool) - ddof, 1))
        for b in range(g0, g0 + G):
            for t in range(T):
                if not m[b][t]:
                    continue
                if not ok[b]:
                    out[b][t] = invalid_value
                elif len(pool) > 1:
                    out[b][t] = sum((v - mu) / (sd + eps) for e, v in steps[b] if e >= t)
    return torch.tensor(out, dtype=T64)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("left,holes", [(False, False), (True, False), (False, True)])
def test_equals_dense_entry_point(seed, left, holes):
    sr, sm, mask, G = random_batch(seed, left=left, holes=holes)
    valid = torch.rand(sr.shape[0], generator=torch.Generator().manual_seed(seed)) > 0.25
    vals, ends = to_sparse(sr, sm, extra=seed % 3)  # extra all-padding columns do not matter
    for kw in ({"group_size": G}, {"group_ids": torch.arange(sr.shape[0]) % 3}, {}):
        for v, iv in ((None, 0.0), (valid, 0.0), (valid, -2.5)):
            want = A.grpo_process_advantages(sr, sm, mask, valid=v, invalid_value=iv, ddof=1, **kw)
            got = A.grpo_process_advantages_from_steps(vals, ends, mask, valid=v, invalid_value=iv, ddof=1, **kw)
            torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
            assert got[~mask].eq(0).all()


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("left,holes", [(False, False), (True, False), (False, True)])
def test_equals_plain_loop_with_unsorted_steps(seed, left, holes):
    sr, sm, mask, G = random_batch(seed, left=left, holes=holes)
    vals, ends = to_sparse(sr, sm, junk=float("nan"), extra=1)
    perm = torch.randperm(ends.shape[1], generator=torch.Generator().manual_seed(seed))
    vals, ends = vals[:, perm], ends[:, perm]  # step order within a row does not matter
    valid = torch.arange(sr.shape[0]) % 5 != 1
    for ddof, eps in ((1, 1e-6), (0, 0.0)):
        got = A.grpo_process_advantages_from_steps(vals, ends, mask, group_size=G, valid=valid, ddof=ddof, eps=eps,
                                                   invalid_value=7.0)
        want = naive(vals, ends, mask, G, valid=valid, ddof=ddof, eps=eps, invalid_value=7.0)
        torch.testing.assert_close(got, want, atol=1e-9, rtol=0)


def test_worked_example_from_step_ends():
    # REWARD_METHODS.md §1.3: response 1 has steps ending at tokens 2 and 5 (rewards 0.8, 0.6),
    # response 2 one step ending at token 3 (0.2), of 4 tokens
    vals = torch.tensor([[0.8, 0.6], [0.2, float("nan")]], dtype=T64)
    ends = torch.tensor([[2, 5], [3, -1]])
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2], dtype=torch.bool)
    adv = A.grpo_process_advantages_from_steps(vals, ends, mask, ddof=1, eps=0.0)
    torch.testing.assert_close(adv[0], torch.tensor([1.091089] * 3 + [0.218218] * 3, dtype=T64), atol=1e-6, rtol=0)
    torch.testing.assert_close(adv[1], torch.tensor([-1.091089] * 4 + [0.0] * 2, dtype=T64), atol=1e-6, rtol=0)
    assert adv[1, 4:].eq(0).all()


def test_padding_steps_outside_mask_and_invalid_rows_are_ignored():
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], dtype=torch.bool)
    base_v = torch.tensor([[1.0, 3.0], [2.0, -1.0], [5.0, 0.0]], dtype=T64)
    base_e = torch.tensor([[1, 3], [5, -1], [2, -1]])
    valid = torch.tensor([True, True, False])
    ref = A.grpo_process_advantages_from_steps(base_v, base_e, mask, valid=valid)
    # junk: NaN rewards on -1 slots, a step end outside the mask, NaN rewards of the invalid row
    v = torch.tensor([[1.0, 3.0, 9.0], [2.0, float("nan"), float("nan")], [float("nan"), 4.0, float("inf")]],
                     dtype=T64)
    e = torch.tensor([[1, 3, 5], [5, -1, -1], [2, 1, 0]])
    got = A.grpo_process_advantages_from_steps(v, e, mask, valid=valid)
    torch.testing.assert_close(got, ref, atol=0, rtol=0)
    assert got[2].eq(0).all() and torch.isfinite(got).all()
    # pool of rows 0 and 1 only: {1, 3, 2}
    mu, sd = 2.0, 1.0
    torch.testing.assert_close(got[0, 3], torch.tensor((3 - mu) / (sd + 1e-6), dtype=T64))


def test_duplicate_step_ends_add_up():
    mask = torch.ones(2, 5, dtype=torch.bool)
    v = torch.tensor([[1.0, 2.0, 4.0], [0.0, 3.0, 5.0]], dtype=T64)
    e = torch.tensor([[3, 3, 1], [4, 0, 2]])
    got = A.grpo_process_advantages_from_steps(v, e, mask, eps=0.0)
    torch.testing.assert_close(got, naive(v, e, mask, 2, eps=0.0), atol=1e-12, rtol=0)


def test_left_padding_equals_right_padding():
    sr, sm, mask, G = random_batch(3, B=4, T=12)
    n = mask.sum(-1)
    vals, ends = to_sparse(sr, sm & mask)
    right = A.grpo_process_advantages_from_steps(vals, ends, mask, group_size=G)
    shift = (12 - n)[:, None]
    left_mask = torch.arange(12)[None] >= shift
    left = A.grpo_process_advantages_from_steps(vals, torch.where(ends >= 0, ends + shift, ends), left_mask,
                                                group_size=G)
    for b in range(4):
        k = int(n[b])
        torch.testing.assert_close(left[b, 12 - k:], right[b, :k], atol=1e-12, rtol=0)
        assert left[b, : 12 - k].eq(0).all()


def test_row_blocks_do_not_change_the_result(monkeypatch):
    sr, sm, mask, G = random_batch(5, B=12, T=17, G=3)
    vals, ends = to_sparse(sr, sm)
    want = A.grpo_process_advantages_from_steps(vals, ends, mask, group_size=G)
    for elems in (1, 17, 40, 10_000):
        monkeypatch.setattr(A, "_ROW_BLOCK_ELEMS", elems)
        torch.testing.assert_close(A.grpo_process_advantages_from_steps(vals, ends, mask, group_size=G), want,
                                   atol=0, rtol=0)


def test_dtypes_empty_and_no_steps():
    mask = torch.ones(2, 4, dtype=torch.bool)
    out = A.grpo_process_advantages_from_steps(torch.tensor([[1, 0], [0, 0]]), torch.tensor([[0, -1], [2, -1]]), mask)
    assert out.dtype == torch.float32
    none = A.grpo_process_advantages_from_steps(torch.zeros(2, 0), torch.zeros(2, 0, dtype=torch.long), mask)
    assert none.shape == (2, 4) and none.eq(0).all()
    dense_none = A.grpo_process_advantages(torch.zeros(2, 4), torch.zeros(2, 4, dtype=torch.bool), mask)
    assert dense_none.eq(0).all()


def test_input_validation():
    mask = torch.ones(2, 4, dtype=torch.bool)
    v = torch.zeros(2, 1)
    with pytest.raises(ValueError, match="< T"):
        A.grpo_process_advantages_from_steps(v, torch.tensor([[4], [0]]), mask)
    with pytest.raises(TypeError, match="integer"):
        A.grpo_process_advantages_from_steps(v, torch.zeros(2, 1), mask)
    with pytest.raises(ValueError, match="shape"):
        A.grpo_process_advantages_from_steps(torch.zeros(2, 2), torch.zeros(2, 1, dtype=torch.long), mask)
    with pytest.raises(ValueError, match="shape"):
        A.grpo_process_advantages_from_steps(v, torch.zeros(2, 1, dtype=torch.long), mask, valid=torch.ones(3))


@pytest.mark.parametrize("shape", [(3, 8), (5, 7), (4, 64), (1, 1), (0, 8), (7, 3)])
def test_flat_nonzero_matches_nonzero(shape):
    g = torch.Generator().manual_seed(sum(shape))
    for density in (0.0, 0.05, 0.5, 1.0):
        b = torch.rand(shape, generator=g) < density
        torch.testing.assert_close(A._flat_nonzero(b), b.reshape(-1).nonzero().squeeze(1))
    big = torch.rand(6, 24, generator=g) < 0.3
    for view in (big[1:], big[:, 3:], big.t(), big[:, ::2]):  # offsets not multiple of 8, strided
        torch.testing.assert_close(A._flat_nonzero(view), view.reshape(-1).nonzero().squeeze(1))


def test_masked_before_valid():
    assert not A._masked_before_valid(torch.tensor([[1, 1, 0], [0, 0, 0], [1, 1, 1]], dtype=torch.bool))
    assert A._masked_before_valid(torch.tensor([[1, 1, 0], [0, 1, 1]], dtype=torch.bool))  # left padding
    assert A._masked_before_valid(torch.tensor([[1, 0, 1]], dtype=torch.bool))  # hole
    assert not A._masked_before_valid(torch.ones(3, 1, dtype=torch.bool))
    assert not A._masked_before_valid(torch.zeros(0, 5, dtype=torch.bool))
