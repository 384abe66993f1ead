"""Advantage estimators: pure, masked, vectorised functions over ``[B, T]`` tensors.

Every function here is usable on its own from any trainer (TRL, verl, OpenRLHF, a hand-written
loop): tensors in, tensors out, no state, no trainer objects. Formulas and worked numbers are in
``REWARD_METHODS.md`` §1 (section numbers below refer to it).

Notation (as in torchtune):
    B: batch size (number of responses)      T: max number of response tokens (padded)
    G: group size (responses per prompt)     K: number of steps of one response

Conventions shared by every estimator (the glossary is in ``docs/shaping.md``, shared with the
numpy functions of `rewardkit.shaping`):

- ``mask: [B, T] bool`` marks valid response tokens. Positions outside the mask are exactly 0 in
  every returned tensor, whatever the inputs hold there (NaN included). The mask of one row must be
  one contiguous run of tokens (right or left padding); interior holes (e.g. masked tool outputs in
  multi-turn rollouts) are not supported by the recursive estimators (GAE, returns).
- Shapes are checked, never broadcast: ``scores`` must be ``[B]`` and ``mask`` ``[B, T]`` with
  the same ``B``; a mismatch raises ``ValueError`` naming both shapes.
- ``valid: [B] bool`` (optional, default all True) marks rows whose reward is usable (the reward
  source returned status ok; see `rewardkit.alignment.dense_rewards`); a non-finite score is an
  invalid row too. Invalid rows are left out of every group / batch statistic and get
  ``invalid_value`` -- 0.0 for the ``[B, T]`` estimators (a loss must stay finite), NaN for the
  sequence-level ``group_normalize`` (like its numpy twin) -- never the advantage of a fake 0.
- Groups are given either by ``group_size`` (rows ``[0, G)``, ``[G, 2G)`` ... are one prompt's
  responses) or by ``group_ids: [B]`` (any integer ids, any order), never both; without either,
  the whole batch is one group.
- ``eps`` is always added to a standard deviation: ``(x - mean) / (std + eps)``, with ``std``
  computed with ``ddof`` (1 = unbiased ``torch.std``; 0 = population). Whitening acts on the
  variance and calls its constant ``var_eps``. A group with fewer than two valid members has no
  baseline information: its advantages are 0 (not NaN, not the raw score); a group whose rewards
  are all equal has advantages exactly 0, with any ``eps``.
- Float dtype: float32 by default; float64 inputs stay float64.
"""

from __future__ import annotations

import sys
from typing import Literal

import torch
import torch.nn.functional as F

__all__ = [
    "masked_mean",
    "masked_var",
    "masked_whiten",
    "last_token_index",
    "place_on_last_token",
    "discounted_cumsum",
    "discounted_returns",
    "gae_advantages",
    "group_normalize",
    "grpo_outcome_advantages",
    "grpo_process_advantages",
    "grpo_process_advantages_from_steps",
    "dr_grpo_advantages",
    "rloo_advantages",
    "reinforce_pp_advantages",
    "prime_advantages",
    "fill_steps",
    "pav_advantages",
    "progress_from_q",
    "best_of_k_value",
]

Tensor = torch.Tensor
_ROW_BLOCK_ELEMS = 1 << 18  # elements per row block of the sparse reward-to-go (1 MB in float32)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _float(x: Tensor | float | list, like: Tensor | None = None) -> Tensor:
    """As a floating tensor: float32 unless already floating (float64 stays float64)."""
    t = torch.as_tensor(x, device=None if like is None else like.device)
    if not t.is_floating_point():
        t = t.to(like.dtype if like is not None and like.is_floating_point() else torch.float32)
    return t


def _valid(valid: Tensor | None, B: int, device: torch.device) -> Tensor:
    if valid is None:
        return torch.ones(B, dtype=torch.bool, device=device)
    v = torch.as_tensor(valid, device=device).to(torch.bool)
    if v.shape != (B,):
        raise ValueError(f"valid must have shape [{B}], got {tuple(v.shape)}")
    return v


def _mask(mask: Tensor, shape: torch.Size) -> Tensor:
    m = torch.as_tensor(mask).to(torch.bool)
    if m.shape != shape:
        raise ValueError(f"mask must have shape {tuple(shape)}, got {tuple(m.shape)}")
    return m


def _seq(scores: Tensor | float | list, name: str = "scores") -> Tensor:
    """Sequence values ``[B]`` as a floating tensor; anything else raises, naming the shape."""
    s = _float(scores)
    if s.dim() != 1:
        raise ValueError(f"{name} must be [B], got shape {tuple(s.shape)}")
    return s


def _rows_mask(mask: Tensor, s: Tensor, name: str = "scores") -> Tensor:
    """``mask`` ``[B, T]`` with as many rows as ``s`` ``[B]`` has entries: never broadcast."""
    m = torch.as_tensor(mask, device=s.device).to(torch.bool)
    if m.dim() != 2 or m.shape[0] != s.shape[0]:
        raise ValueError(f"mask must be [B, T] with B = len({name}); got {name} shape {tuple(s.shape)} "
                         f"and mask shape {tuple(m.shape)}")
    return m


def _same_shape(x: Tensor, like: Tensor, name: str, like_name: str) -> Tensor:
    if x.shape != like.shape:
        raise ValueError(f"{name} must have the shape of {like_name} {tuple(like.shape)}, got {tuple(x.shape)}")
    return x


def _usable(valid: Tensor | None, s: Tensor) -> Tensor | None:
    """Rows whose score is usable: ``valid`` (default all) and a finite score (the numpy convention:
    a NaN score is a missing reward). None when every row is usable (fast paths)."""
    v = _opt_valid(valid, s.shape[0], s.device)
    finite = torch.isfinite(s)
    if v is None:
        return None if bool(finite.all()) else finite
    return v & finite


def _group_index(B: int, group_size: int | None, group_ids: Tensor | None, device: torch.device) -> tuple[Tensor, int]:
    """Group index in ``[0, n_groups)`` for every row, and the number of groups."""
    if group_ids is not None and group_size is not None:
        raise ValueError("give groups either by group_size or by group_ids, not both")
    if group_ids is not None:
        gid = torch.as_tensor(group_ids, device=device)
        if gid.shape != (B,):
            raise ValueError(f"group_ids must have shape [{B}], got {tuple(gid.shape)}")
        uniq, inv = torch.unique(gid, return_inverse=True)
        return inv, int(uniq.numel())
    if group_size is not None:
        if group_size < 1 or B % group_size:
            raise ValueError(f"batch size {B} is not a multiple of group_size {group_size}")
        return torch.arange(B, device=device) // group_size, B // group_size
    return torch.zeros(B, dtype=torch.long, device=device), 1


def _group_stats(x: Tensor, w: Tensor, inv: Tensor, n: int, ddof: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per-group count, shift and mean, and the centred values, of the entries of ``x`` selected by ``w``.

    ``x`` is ``[B]`` or ``[B, T]`` and ``w`` (same shape, bool) selects the entries that count.
    Returns ``cnt, centred, std, shift``: per-group ``[n]`` count and std, ``centred = x − mean_g``
    (shape of ``x``, 0 where not selected) and the per-group shift ``[n]`` (the group's smallest
    selected value; ``mean_g = shift + mean of the shifted values``).

    Statistics are taken on values shifted by the group's smallest one (shift-invariant maths,
    better rounding), so a group whose values are all equal has centred values and std that are
    *exactly* 0: its advantages are exactly 0 with any ``eps``, not leftover / (leftover + eps).
    The std of a group with ``count <= ddof`` is reported as 0.
    """
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    inf = torch.full((), float("inf"), dtype=x.dtype, device=x.device)
    row_min = torch.where(w, x, inf)
    if x.dim() == 2:
        row_min = row_min.amin(-1) if x.shape[-1] else torch.full(x.shape[:1], float("inf"), dtype=x.dtype,
                                                                     device=x.device)
    shift = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device).scatter_reduce_(
        0, inv, row_min, "amin")
    shift = torch.where(torch.isfinite(shift), shift, zero)
    sh = shift[inv] if x.dim() == 1 else shift[inv][:, None]
    xz = torch.where(w, x - sh, zero)
    wf = w.to(x.dtype)
    if x.dim() == 2:
        row_cnt, row_sum = wf.sum(-1), xz.sum(-1)
    else:
        row_cnt, row_sum = wf, xz
    cnt = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, inv, row_cnt)
    tot = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, inv, row_sum)
    mean = tot / cnt.clamp(min=1)
    mu = mean[inv] if x.dim() == 1 else mean[inv][:, None]
    centred = torch.where(w, xz - mu, zero)
    sq_rows = centred * centred
    row_sq = sq_rows.sum(-1) if x.dim() == 2 else sq_rows
    sq = torch.zeros(n, dtype=x.dtype, device=x.device).index_add_(0, inv, row_sq)
    std = torch.sqrt(sq / (cnt - ddof).clamp(min=1))
    return cnt, centred, std, shift + mean


def _safe_div(num: Tensor, den: Tensor) -> Tensor:
    """``num / den`` with 0 where ``den == 0`` (a constant group with ``eps=0``: 0, not NaN)."""
    return torch.where(den == 0, torch.zeros((), dtype=num.dtype, device=num.device), num / den)


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``x`` over positions where ``mask`` is True (0 where nothing is selected)."""
    xz = torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device))
    n = mask.sum() if dim is None else mask.sum(dim)
    return (xz.sum() if dim is None else xz.sum(dim)) / torch.clamp(n, min=1).to(x.dtype)


def masked_var(x: Tensor, mask: Tensor, ddof: int = 0) -> Tensor:
    """Variance of the selected entries of ``x`` (all dimensions), with ``ddof``."""
    mean = masked_mean(x, mask)
    dev = torch.where(mask, x - mean, torch.zeros((), dtype=x.dtype, device=x.device)) ** 2
    n = mask.sum().to(x.dtype)
    return dev.sum() / torch.clamp(n - ddof, min=1)


def masked_whiten(
    x: Tensor,
    mask: Tensor,
    valid: Tensor | None = None,
    *,
    shift_mean: bool = True,
    ddof: int = 0,
    var_eps: float = 1e-8,
    var_eps_mode: Literal["clamp", "add"] = "clamp",
    invalid_value: float = 0.0,
) -> Tensor:
    """Batch whitening over all valid tokens: ``(x - μ) / σ`` (a separate, optional stage; §1.1).

    μ, σ² are taken over the entries where ``mask & valid[:, None]``.
    ``var_eps`` acts on the *variance* (hence not ``eps``, which is always added to a std):
    ``var_eps_mode="clamp"``: ``σ = sqrt(max(σ², var_eps))`` (OpenRLHF: ``var.clamp(min=1e-8).rsqrt()``);
    ``var_eps_mode="add"``: ``σ = sqrt(σ² + var_eps)`` (verl ``masked_whiten``, which also uses ddof=1).
    ``shift_mean=False`` only rescales (the mean is added back).

    Shapes: x ``[B, T]``, mask ``[B, T]``, valid ``[B]`` -> ``[B, T]``.
    """
    x = _float(x)
    m = _mask(mask, x.shape)
    v = _opt_valid(valid, x.shape[0], x.device)
    sel = m if v is None else m & v[:, None]
    nsel = ~sel
    out = _whiten_owned(x.masked_fill(nsel, 0), sel, nsel, ddof=ddof, var_eps=var_eps, var_eps_mode=var_eps_mode,
                        shift_mean=shift_mean)
    if v is not None and invalid_value != 0:
        out.masked_fill_(~v[:, None] & m, invalid_value)
    return out


def _whiten_owned(xz: Tensor, sel: Tensor, nsel: Tensor, *, ddof: int, var_eps: float, var_eps_mode: str,
                  shift_mean: bool) -> Tensor:
    """`masked_whiten` in place on a tensor we own that is 0 outside ``sel`` (two-pass: the mean,
    then the norm of the centred values; no float32 cancellation)."""
    if var_eps_mode not in ("clamp", "add"):
        raise ValueError(f"var_eps_mode must be 'clamp' or 'add', got {var_eps_mode!r}")
    # per-row reductions in the input dtype, then the [B] partials summed in float64: as accurate
    # as a float64 reduction and much faster on CPU
    n = torch.count_nonzero(sel).to(torch.float64)
    mean = (xz.sum(-1).to(torch.float64).sum() / n.clamp(min=1)).to(xz.dtype)
    xz.sub_(mean).masked_fill_(nsel, 0)
    var = (torch.linalg.vector_norm(xz, dim=-1).to(torch.float64) ** 2).sum() / (n - ddof).clamp(min=1)
    # All-equal values must whiten to exactly 0, but rounding leaves centred values of order
    # T·u·|mean| that the division would blow up. When the variance is that small (rare), check
    # exactly whether the selected values are all equal.
    tol = (xz.shape[-1] + 1) * torch.finfo(xz.dtype).eps * float(abs(mean))
    if float(var) <= 4 * tol * tol:
        vals = xz[sel]
        if vals.numel() and bool(vals.amin() == vals.amax()):
            mean = mean + vals[0]  # the common value exactly (for shift_mean=False)
            xz.zero_()
    var = var.clamp(min=var_eps) if var_eps_mode == "clamp" else var + var_eps
    inv_std = torch.where(var > 0, torch.rsqrt(var), torch.zeros_like(var))  # var 0 (var_eps=0): 0, not NaN
    xz.mul_(inv_std.to(xz.dtype))
    if not shift_mean:
        xz.add_(mean).masked_fill_(nsel, 0)
    return xz


def _finish(adv: Tensor, mask: Tensor, valid: Tensor | None, invalid_value: float) -> Tensor:
    """Exactly 0 outside the mask; ``invalid_value`` on the valid tokens of invalid rows.

    Updates ``adv`` in place: callers pass a tensor they created. ``valid=None`` means every row
    is valid (one pass saved). (``masked_fill_`` is the cheapest masking op on CPU.)
    """
    if valid is not None:
        adv.masked_fill_(~valid[:, None], invalid_value)
    return adv.masked_fill_(~mask, 0)


def _zero_outside(x: Tensor, m: Tensor, nm: Tensor) -> Tensor:
    """``x.masked_fill_(~m, 0)`` for the output of a reverse sum whose input was 0 outside ``m``.

    Such an output is already exactly 0 after each row's last valid token, so the fill only matters
    when some masked position lies *before* a valid one (left padding, holes). On CPU that is
    checked first (a cheap pass over the bool mask) and the fill skipped for right padding.
    """
    if x.device.type == "cpu" and m.shape[-1] > 1 and not int(torch.count_nonzero(m[:, 1:] & nm[:, :-1])):
        return x
    return x.masked_fill_(nm, 0)


def _masked_before_valid(m: Tensor) -> bool:
    """Whether some row of the bool mask ``m`` ``[B, T]`` has a False position before a True one.

    False for right padding. One comparison of each adjacent pair ``(t, t+1)`` (``m[t+1] > m[t]``
    is a ``0 → 1`` step) and a uint8 ``amax`` (vectorised, unlike ``any`` on bool): ~3x cheaper
    than a ``masked_fill_(~m, 0)`` on CPU. Always True off the CPU (there the fill it guards is
    cheaper than a host sync).
    """
    if m.device.type != "cpu":
        return True
    if m.shape[-1] < 2 or m.numel() == 0:
        return False
    return bool(torch.gt(m[:, 1:], m[:, :-1]).view(torch.uint8).amax())


def _flat_nonzero(b: Tensor) -> Tensor:
    """Indices of the True entries of the bool tensor ``b`` in its flattened order (``[N]`` long).

    For sparse masks (step ends) on CPU: ``nonzero`` over the tensor viewed as 8-byte words first
    (8x fewer elements), then over the bytes of the few non-zero words -- ~1.5x faster than a plain
    ``nonzero`` at 1/64 density. Falls back to ``nonzero`` when the view is not possible.
    """
    flat = b.reshape(-1)
    if (flat.device.type == "cpu" and sys.byteorder == "little" and flat.is_contiguous()
            and flat.numel() % 8 == 0 and flat.storage_offset() % 8 == 0):
        words = flat.view(torch.int64)
        wi = words.nonzero().squeeze(1)
        j, byte = words.index_select(0, wi).view(torch.uint8).view(-1, 8).nonzero(as_tuple=True)
        return wi[j] * 8 + byte  # little-endian: byte k of word w is element 8w + k
    return flat.nonzero().squeeze(1)


def _opt_valid(valid: Tensor | None, B: int, device: torch.device) -> Tensor | None:
    """``valid`` as a bool tensor, or None when it is not given (all rows valid)."""
    return None if valid is None else _valid(valid, B, device)


def last_token_index(mask: Tensor) -> Tensor:
    """Index of the last True position of each row of ``mask`` ``[B, T]`` (-1 for an empty row)."""
    m = mask.to(torch.bool)
    u = m.view(torch.uint8)
    idx = m.shape[-1] - 1 - u.flip(-1).argmax(-1)
    return torch.where(u.amax(-1) > 0, idx, torch.full_like(idx, -1))


def place_on_last_token(scores: Tensor, mask: Tensor, valid: Tensor | None = None) -> Tensor:
    """Sequence rewards ``[B]`` as a dense ``[B, T]`` tensor: each score on its row's last valid token.

    Invalid rows (and empty rows) get no reward; NaN scores of invalid rows never leak.
    """
    s = _seq(scores)
    m = _rows_mask(mask, s)
    return _add_on_last_token(torch.zeros(m.shape, dtype=s.dtype, device=m.device), s, m,
                              _opt_valid(valid, m.shape[0], m.device))


def _add_on_last_token(out: Tensor, s: Tensor, m: Tensor, v: Tensor | None) -> Tensor:
    idx = last_token_index(m)
    ok = idx >= 0 if v is None else (idx >= 0) & v
    src = torch.where(ok, s.to(out.dtype), torch.zeros((), dtype=out.dtype, device=out.device))
    return out.scatter_add_(1, idx.clamp(min=0)[:, None], src[:, None])


# --------------------------------------------------------------------------------------------
# discounted sums
# --------------------------------------------------------------------------------------------
def discounted_cumsum(x: Tensor, discount: float, block: int = 32) -> Tensor:
    """Reverse discounted cumulative sum along the last dimension: ``y_t = Σ_{s≥t} c^{s-t} x_s``.

    Vectorised over the batch *and* over time: the time axis is cut into blocks of ``block``
    tokens, each block is solved with one matmul against the ``[block, block]`` matrix
    ``c^{s-t}·1[s≥t]``, and the blocks are chained by the same function applied (recursively) to
    the block-start values with factor ``c^block``. Powers of ``c`` are never divided, so it is
    stable for any ``0 ≤ c ≤ 1`` and any length. (A reversed ``cumsum`` is slower on CPU.)

    Shapes: x ``[..., T]`` -> ``[..., T]`` (a new tensor; ``x`` is not modified).
    """
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must be in [0, 1], got {discount}")
    T = x.shape[-1]
    if T == 0 or discount == 0.0 or x.numel() == 0:
        return x.clone()
    lead = x.shape[:-1]
    x2 = x.reshape(-1, T)
    L = min(block, T)
    pad = (-T) % L
    xp = F.pad(x2, (0, pad)) if pad else x2
    nb = xp.shape[-1] // L
    c = torch.tensor(discount, dtype=x.dtype, device=x.device)
    idx = torch.arange(L, device=x.device)
    e = (idx[:, None] - idx[None, :]).to(x.dtype)  # e[s, t] = s - t
    M = torch.where(e >= 0, c ** e.clamp(min=0), torch.zeros((), dtype=x.dtype, device=x.device))
    local = (xp.reshape(-1, L) @ M).view(-1, nb, L)  # Σ_{s≥t in the block} c^{s-t} x_s
    if nb > 1:
        start = discounted_cumsum(local[:, :, 0].contiguous(), discount**L, block)  # y at block starts
        nxt = F.pad(start[:, 1:], (0, 1))  # y at the start of the next block
        local.addcmul_(nxt[:, :, None], c ** (L - idx).to(x.dtype))
    out = local.view(-1, nb * L)
    if pad:
        out = out[:, :T]
    return out.reshape(*lead, T)


def discounted_returns(rewards: Tensor, mask: Tensor, gamma: float = 1.0) -> Tensor:
    """Reward-to-go ``G_t = Σ_{s≥t, s valid} γ^{s-t} r_s`` (0 outside the mask).

    Shapes: rewards ``[B, T]``, mask ``[B, T]`` -> ``[B, T]``.
    """
    r = _float(rewards)
    m = _mask(mask, r.shape)
    zero = torch.zeros((), dtype=r.dtype, device=r.device)
    r = torch.where(m, r, zero)
    return torch.where(m, discounted_cumsum(r, gamma), zero)


# --------------------------------------------------------------------------------------------
# PPO / GAE (§1.1)
# --------------------------------------------------------------------------------------------
def gae_advantages(
    rewards: Tensor,
    values: Tensor,
    mask: Tensor,
    *,
    gamma: float = 1.0,
    lam: float = 0.95,
    valid: Tensor | None = None,
    invalid_value: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation with per-token rewards.

    ``δ_t = r_t + γ V_{t+1} − V_t`` with ``V`` = 0 after the last valid token;
    ``A_t = δ_t + γλ A_{t+1}`` (= ``Σ_{s≥t} (γλ)^{s-t} δ_s``); ``returns_t = A_t + V_t``.
    Rewards and values outside the mask are ignored (treated as 0), as in OpenRLHF
    ``get_advantages_and_returns``. Put KL penalties and sequence/step rewards into ``rewards``
    first (`rewardkit.shaping.kl.kl_penalized_rewards`, `place_on_last_token`).

    Shapes: rewards, values, mask ``[B, T]``; valid ``[B]`` -> (advantages ``[B, T]``, returns ``[B, T]``).
    Invalid rows get ``invalid_value`` advantages and returns equal to their values.
    """
    r = _float(rewards)
    V = _same_shape(_float(values, r).to(r.dtype), r, "values", "rewards")
    m = _mask(mask, r.shape)
    v = _opt_valid(valid, r.shape[0], r.device)
    # few fresh [B, T] buffers, updated in place: on CPU, allocation (page faults) costs as much as
    # the arithmetic
    nm = ~m
    V = V.masked_fill(nm, 0)
    delta = torch.sub(r, V)  # r_t − V_t
    delta[:, :-1].add_(V[:, 1:], alpha=gamma)  # + γ V_{t+1}  (V is 0 after the last valid token)
    delta.masked_fill_(nm, 0)
    adv = _zero_outside(discounted_cumsum(delta, gamma * lam), m, nm)
    if v is not None:
        adv.masked_fill_(~v[:, None], 0)
    returns = torch.add(adv, V, out=delta)  # reuse delta's buffer
    if v is not None and invalid_value != 0:
        adv.masked_fill_(~v[:, None] & m, invalid_value)
    return adv, returns


# --------------------------------------------------------------------------------------------
# group-relative estimators (§1.2 - §1.5)
# --------------------------------------------------------------------------------------------
def group_normalize(
    scores: Tensor,
    *,
    group_size: int | None = None,
    group_ids: Tensor | None = None,
    valid: Tensor | None = None,
    scale: Literal["group", "batch", "none"] = "group",
    ddof: int = 1,
    eps: float = 1e-6,
    invalid_value: float = float("nan"),
) -> Tensor:
    """Group-relative sequence advantages ``(r_i − mean_g) / (std + eps)`` (GRPO, §1.2).

    ``scale="group"``: std of the group (GRPO); ``"batch"``: std of all valid scores of the batch
    (TRL ``scale_rewards="batch"``); ``"none"``: centring only (Dr. GRPO, §1.4).
    Invalid rows (``valid`` False, or a non-finite score) are excluded from the statistics and get
    ``invalid_value`` -- NaN by default, like its numpy twin `rewardkit.shaping.normalize.group_normalize`.

    Shapes: scores ``[B]`` -> ``[B]``.
    """
    s = _seq(scores)
    B = s.shape[0]
    v = _valid(valid, B, s.device) & torch.isfinite(s)
    inv, n = _group_index(B, group_size, group_ids, s.device)
    cnt, centred, std, _ = _group_stats(s, v, inv, n, ddof)
    if scale == "group":
        out = _safe_div(centred, std[inv] + eps)
    elif scale == "batch":
        _, _, bstd, _ = _group_stats(s, v, torch.zeros_like(inv), 1, ddof)
        out = _safe_div(centred, bstd + eps)
    elif scale == "none":
        out = centred
    else:
        raise ValueError(f"scale must be 'group', 'batch' or 'none', got {scale!r}")
    out = torch.where(cnt[inv] > 1, out, torch.zeros((), dtype=s.dtype, device=s.device))
    return torch.where(v, out, torch.full((), invalid_value, dtype=s.dtype, device=s.device))


def _broadcast(seq_adv: Tensor, mask: Tensor) -> Tensor:
    """Sequence advantages ``[B]`` (invalid rows already filled) on every valid token."""
    return torch.where(mask, seq_adv[:, None], torch.zeros((), dtype=seq_adv.dtype, device=seq_adv.device))


def grpo_outcome_advantages(
    scores: Tensor,
    mask: Tensor,
    *,
    group_size: int | None = None,
    group_ids: Tensor | None = None,
    valid: Tensor | None = None,
    scale: Literal["group", "batch", "none"] = "group",
    ddof: int = 1,
    eps: float = 1e-6,
    invalid_value: float = 0.0,
) -> Tensor:
    """GRPO outcome supervision: every token of response i gets ``(r_i − mean_g)/(std_g + eps)``.

    Shapes: scores ``[B]``, mask ``[B, T]`` -> ``[B, T]``.
    """
    scores = _seq(scores)
    m = _rows_mask(mask, scores)
    a = group_normalize(scores, group_size=group_size, group_ids=group_ids, valid=valid, scale=scale,
                        ddof=ddof, eps=eps, invalid_value=invalid_value)
    return _broadcast(a, m)


def dr_grpo_advantages(
    scores: Tensor,
    mask: Tensor,
    *,
    group_size: int | None = None,
    group_ids: Tensor | None = None,
    valid: Tensor | None = None,
    invalid_value: float = 0.0,
) -> Tensor:
    """Dr. GRPO (§1.4): ``A_i = r_i − mean_g(r)`` on every token (no std division).

    The matching loss divides each sequence's token sum by a constant ``L_max``; that belongs in
    the loss, not here. Shapes: scores ``[B]``, mask ``[B, T]`` -> ``[B, T]``.
    """
    return grpo_outcome_advantages(scores, mask, group_size=group_size, group_ids=group_ids, valid=valid,
                                   scale="none", invalid_value=invalid_value)


def rloo_advantages(
    scores: Tensor,
    mask: Tensor,
    *,
    group_size: int | None = None,
    group_ids: Tensor | None = None,
    valid: Tensor | None = None,
    invalid_value: float = 0.0,
) -> Tensor:
    """RLOO (§1.5): ``A_i = r_i − (1/(G−1)) Σ_{j≠i} r_j = G/(G−1)·(r_i − mean_g)`` on every token.

    ``G`` counts the valid members of the group; a group with one valid member gets 0.
    For the paper's variant, pass scores that already include ``−β·Σ_t k1_t``.
    Shapes: scores ``[B]``, mask ``[B, T]`` -> ``[B, T]``.
    """
    s = _seq(scores)
    m = _rows_mask(mask, s)
    v = _valid(valid, s.shape[0], s.device) & torch.isfinite(s)
    a = _rloo_seq(s, v, group_size, group_ids)
    a = torch.where(v, a, torch.full((), invalid_value, dtype=s.dtype, device=s.device))
    return _broadcast(a, m)


def _rloo_seq(s: Tensor, v: Tensor, group_size: int | None, group_ids: Tensor | None) -> Tensor:
    inv, n = _group_index(s.shape[0], group_size, group_ids, s.device)
    cnt, centred, _, _ = _group_stats(s, v, inv, n, 0)
    G = cnt[inv]
    a = G / (G - 1).clamp(min=1) * centred
    return torch.where((G > 1) & v, a, torch.zeros((), dtype=s.dtype, device=s.device))


def grpo_process_advantages(
    step_rewards: Tensor,
    step_mask: Tensor,
    mask: Tensor,
    *,
    group_size: int | None = None,
    group_ids: Tensor | None = None,
    valid: Tensor | None = None,
    ddof: int = 1,
    eps: float = 1e-6,
    invalid_value: float = 0.0,
) -> Tensor:
    """GRPO process supervision (§1.3), step rewards given as dense ``[B, T]`` tensors.

    Step rewards sit on the last token of their step (``step_mask`` marks those tokens; marks
    outside ``mask`` are ignored). All step rewards of all valid responses of a prompt form one
    pool ``R``; ``r̃ = (r − mean(R)) / (std(R) + eps)`` and
    ``Â_{i,t} = Σ_{k: end_i(k) ≥ t} r̃_i^{(k)}`` (γ = 1 reward-to-go, no critic).

    Shapes: step_rewards, step_mask, mask ``[B, T]`` -> ``[B, T]``.

    This finds the step ends with one ``nonzero`` over ``step_mask`` and hands them to
    `grpo_process_advantages_from_steps` (same result). If the rollout already stores the step-end
    token indices (REWARD_METHODS.md §10.6), call that function directly: it skips the dense pass.
    """
    r = _float(step_rewards)
    m = _mask(mask, r.shape)
    sm = _mask(step_mask, r.shape)
    B, T = r.shape
    flat = _flat_nonzero(sm)  # sorted: each row's step ends in increasing order
    rows = torch.div(flat, T, rounding_mode="floor") if T else flat
    cols = flat - rows * T
    counts = torch.bincount(rows, minlength=B)
    K = int(counts.max()) if B else 0
    pos = torch.arange(rows.numel(), device=r.device) - (counts.cumsum(0) - counts)[rows]
    slot = rows * K + pos  # position in the [B, K] layout
    ends = torch.full((B * K,), -1, dtype=torch.long, device=r.device).index_put_((slot,), cols)
    vals = torch.zeros(B * K, dtype=r.dtype, device=r.device)
    vals.index_put_((slot,), r.reshape(-1).index_select(0, flat))
    return grpo_process_advantages_from_steps(
        vals.view(B, K), ends.view(B, K), m, group_size=group_size, group_ids=group_ids, valid=valid,
        ddof=ddof, eps=eps, invalid_value=invalid_value)


def grpo_process_advantages_from_steps(
    step_rewards: Tensor,
    step_ends: Tensor,
    mask: Tensor,
    *,
    group_size: int | None = None,
    group_ids: Tensor | None = None,
    valid: Tensor | None = None,
    ddof: int = 1,
    eps: float = 1e-6,
    invalid_value: float = 0.0,
) -> Tensor:
    """GRPO process supervision (§1.3) from sparse steps: ``K`` step slots per response.

    ``step_ends[i, k]`` is ``end_i(k)``, the index of the last token of step ``k`` of response
    ``i`` (as stored with the rollout, REWARD_METHODS.md §10.6), and ``step_rewards[i, k]`` its
    reward; rows with fewer steps are padded with ``-1`` (any negative end is padding; its reward is
    ignored, NaN allowed). A step counts iff its end is ``≥ 0``, ``mask[i, end]`` is True and the
    row is valid. Steps need not be sorted; two steps with the same end both count (their rewards
    add on that token). All counted step rewards of a prompt's valid responses form one pool ``R``:

        r̃_i^{(k)} = (r_i^{(k)} − mean(R)) / (std(R) + eps)      (std with ``ddof``; pool of < 2: r̃ = 0)
        Â_{i,t}  = Σ_{k: end_i(k) ≥ t} r̃_i^{(k)}   for t in mask, 0 elsewhere   (γ = 1, no critic)

    Shapes: step_rewards ``[B, K]`` float, step_ends ``[B, K]`` integer, mask ``[B, T]`` bool ->
    ``[B, T]`` (dtype of ``step_rewards``: float32 unless it is float64). Identical to
    `grpo_process_advantages` on the dense tensors with ``step_mask[i, end_i(k)] = True``.
    """
    m = torch.as_tensor(mask).to(torch.bool)
    if m.dim() != 2:
        raise ValueError(f"mask must be [B, T], got shape {tuple(m.shape)}")
    B, T = m.shape
    r = _float(step_rewards).to(m.device)
    e = torch.as_tensor(step_ends, device=m.device)
    if e.is_floating_point() or e.dtype == torch.bool or e.is_complex():
        raise TypeError(f"step_ends must be an integer tensor, got {e.dtype}")
    if r.dim() != 2 or r.shape[0] != B or e.shape != r.shape:
        raise ValueError(f"step_rewards and step_ends must both have shape [{B}, K], "
                         f"got {tuple(r.shape)} and {tuple(e.shape)}")
    e = e.to(torch.long)
    if e.numel() and int(e.max()) >= T:
        raise ValueError(f"step_ends must be < T = {T} (the last token index), got {int(e.max())}")
    v = _opt_valid(valid, B, m.device)
    if T == 0:
        return torch.zeros((B, 0), dtype=r.dtype, device=m.device)
    idx = e.clamp(min=0)
    counted = (e >= 0) & m.gather(1, idx)
    if v is not None:
        counted &= v[:, None]
    inv, n = _group_index(B, group_size, group_ids, m.device)
    cnt, centred, std, _ = _group_stats(r, counted, inv, n, ddof)  # pool = counted steps of the group
    z = _safe_div(centred, std[inv][:, None] + eps)
    z = torch.where(counted & (cnt[inv] > 1)[:, None], z, torch.zeros((), dtype=r.dtype, device=r.device))
    # reward-to-go of a sparse input in one buffer: Σ_{s≥t} x_s = total − C_t + x_t with C the forward
    # cumsum (in place); after a row's last step C_t == total exactly, so those tokens are exactly 0.
    # Done in blocks of rows (~1 MB) so that the four passes over a block stay in cache: on CPU the
    # cold-memory traffic of four passes over [B, T] costs more than the arithmetic.
    adv = torch.empty((B, T), dtype=r.dtype, device=r.device)
    block = max(1, _ROW_BLOCK_ELEMS // T) if r.device.type == "cpu" else max(B, 1)
    for b0 in range(0, B, block):
        a, i, zb = adv[b0:b0 + block], idx[b0:b0 + block], z[b0:b0 + block]
        a.zero_().scatter_add_(1, i, zb).cumsum_(-1)
        torch.sub(a[:, -1:].clone(), a, out=a).scatter_add_(1, i, zb)
    if _masked_before_valid(m):  # left padding / holes: masked tokens before a step end are not 0 yet
        adv.masked_fill_(~m, 0)
    if v is not None and invalid_value != 0:
        adv.masked_fill_(~v[:, None] & m, invalid_value)
    return adv


# --------------------------------------------------------------------------------------------
# REINFORCE++ (§1.6)
# --------------------------------------------------------------------------------------------
def reinforce_pp_advantages(
    scores: Tensor,
    mask: Tensor,
    *,
    kl: Tensor | None = None,
    kl_coef: float = 0.0,
    gamma: float = 1.0,
    baseline: Literal["none", "group_mean"] = "none",
    group_size: int | None = None,
    group_ids: Tensor | None = None,
    valid: Tensor | None = None,
    whiten: bool = True,
    var_eps: float = 1e-8,
    invalid_value: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """REINFORCE++ and REINFORCE++-baseline (OpenRLHF ``reinforce`` / ``reinforce_baseline``).

    ``r_t = −β·kl_t + 1[t = last]·R'``, with ``R' = R`` (``baseline="none"``) or
    ``R' = R − mean_g(R)`` (``"group_mean"``; γ is then forced to 1 as in OpenRLHF);
    ``G_t = Σ_{s≥t} γ^{s−t} r_s``; advantage = ``G_t`` whitened over all valid tokens of the batch
    with population variance and ``var.clamp(min=var_eps)`` (``whiten=False`` skips it).

    Shapes: scores ``[B]``, mask ``[B, T]``, kl ``[B, T]`` (an estimate from
    `rewardkit.shaping.kl`) -> (advantages ``[B, T]``, returns ``[B, T]``).
    """
    s = _seq(scores)
    m = _rows_mask(mask, s)
    v = _usable(valid, s)
    sel = m if v is None else m & v[:, None]  # tokens of usable rows
    if baseline == "group_mean":
        s = group_normalize(s, group_size=group_size, group_ids=group_ids, valid=v, scale="none",
                            invalid_value=0.0)
        gamma = 1.0
    elif baseline != "none":
        raise ValueError(f"baseline must be 'none' or 'group_mean', got {baseline!r}")
    nsel = ~sel
    if kl is not None and kl_coef:
        k = _same_shape(_float(kl, s).to(s.dtype), m, "kl", "mask")
        r = torch.mul(k, -kl_coef).masked_fill_(nsel, 0)
    else:
        r = torch.zeros(m.shape, dtype=s.dtype, device=m.device)
    if gamma == 1.0:
        # the score sits on the last valid token, so with γ = 1 it is part of the return of every
        # valid token: add it after the sum instead of locating the last token
        score = s if v is None else torch.where(v, s, torch.zeros((), dtype=s.dtype, device=s.device))
        returns = discounted_cumsum(r, 1.0).add_(score[:, None]).masked_fill_(nsel, 0)
    else:
        r = _add_on_last_token(r, s, m, v)
        returns = _zero_outside(discounted_cumsum(r, gamma), m, ~m)
    adv = r.copy_(returns)  # reuse r's buffer
    if whiten:
        adv = _whiten_owned(adv, sel, nsel, var_eps=var_eps, ddof=0, var_eps_mode="clamp", shift_mean=True)
    if v is not None and invalid_value != 0:
        adv.masked_fill_(~v[:, None] & m, invalid_value)
    return adv, returns


# --------------------------------------------------------------------------------------------
# PRIME: RLOO on implicit-PRM token rewards + RLOO on the outcome (§4)
# --------------------------------------------------------------------------------------------
def prime_advantages(
    process_rewards: Tensor,
    scores: Tensor,
    mask: Tensor,
    *,
    group_size: int | None = None,
    group_ids: Tensor | None = None,
    valid: Tensor | None = None,
    process_coef: float = 1.0,
    outcome_coef: float = 1.0,
    invalid_value: float = 0.0,
) -> Tensor:
    """PRIME-style advantage (before whitening; whiten with `masked_whiten` if wanted).

    ``A_t^i = c_p·Σ_{s≥t} [r_s^i − (1/(K−1)) Σ_{j≠i} mean_s r_s^j] + c_o·[o^i − (1/(K−1)) Σ_{j≠i} o^j]``
    with ``r_s`` the (β-scaled) implicit-PRM token rewards, ``mean_s`` the mean over a response's
    valid tokens, ``o`` the outcome reward, K the number of valid responses of the prompt, γ = 1.
    Note: PRIME's code applies the baseline per token in a slightly different form (see §4);
    this implements the formula.

    Shapes: process_rewards ``[B, T]``, scores ``[B]``, mask ``[B, T]`` -> ``[B, T]``.
    """
    r = _float(process_rewards)
    m = _mask(mask, r.shape)
    sc = _seq(_float(scores, r).to(r.dtype))
    if sc.shape[0] != r.shape[0]:
        raise ValueError(f"scores must be [B] with B = len(process_rewards); got scores shape {tuple(sc.shape)} "
                         f"and process_rewards shape {tuple(r.shape)}")
    v = _valid(valid, r.shape[0], r.device) & torch.isfinite(sc)
    zero = torch.zeros((), dtype=r.dtype, device=r.device)
    inv, n = _group_index(r.shape[0], group_size, group_ids, r.device)
    row_mean = masked_mean(r, m, dim=-1)
    cnt, centred, _, _ = _group_stats(row_mean, v, inv, n, 0)
    K = cnt[inv]
    # r_s − mean_{j≠i} mean_s r^j, with mean_{j≠i} = mean_g − (row_mean − mean_g)/(K − 1): exact
    # when the rows' means are equal
    others = row_mean - K / (K - 1).clamp(min=1) * centred
    proc = torch.where(m, r - others[:, None], zero)
    proc = torch.where((K > 1)[:, None], proc, zero)
    out = process_coef * discounted_cumsum(proc, 1.0)
    out = out + outcome_coef * _rloo_seq(sc, v, group_size, group_ids)[:, None]
    return _finish(out, m, v, invalid_value)


# --------------------------------------------------------------------------------------------
# PAV: outcome advantage + α · progress on every token of the step (§6)
# --------------------------------------------------------------------------------------------
def fill_steps(step_values: Tensor, step_mask: Tensor, mask: Tensor) -> Tensor:
    """Give every token the value of the step it belongs to.

    Step values sit on the last token of their step (``step_mask``); token t belongs to the first
    step that ends at or after t. Tokens after the last step end get 0.
    Shapes: ``[B, T]`` each -> ``[B, T]``.
    """
    x = _float(step_values)
    m = _mask(mask, x.shape)
    sm = _mask(step_mask, x.shape) & m
    T = x.shape[-1]
    pos = torch.arange(T, device=x.device).expand(x.shape)
    idx = torch.where(sm, pos, torch.full_like(pos, T))
    nxt = idx.flip(-1).cummin(-1).values.flip(-1)  # first step end at or after t (T if none)
    vals = torch.gather(F.pad(x, (0, 1)), 1, nxt)
    return torch.where(m, vals, torch.zeros((), dtype=x.dtype, device=x.device))


def pav_advantages(
    outcome_advantages: Tensor,
    progress: Tensor,
    mask: Tensor,
    *,
    alpha: float = 1.0,
    valid: Tensor | None = None,
    invalid_value: float = 0.0,
) -> Tensor:
    """PAV (§6): ``A_{i,t} = A_i^{outcome} + α·A^μ_{h(t)}``.

    ``outcome_advantages`` ``[B]`` (e.g. `group_normalize` / `rloo_advantages` of the outcome, or
    ``R − b``) or ``[B, T]``; ``progress`` ``[B, T]`` holds the prover's progress
    ``A^μ_h = Q^μ_h − Q^μ_{h−1}`` on *every* token of step h (use `fill_steps`). Progress is added
    to the advantage, never summed as a reward (that would telescope, see §6).
    Shapes: -> ``[B, T]``.
    """
    p = _float(progress)
    m = _mask(mask, p.shape)
    v = _valid(valid, p.shape[0], p.device)
    o = _float(outcome_advantages, p).to(p.dtype)
    if o.dim() == 1 and o.shape[0] == p.shape[0]:
        o = o[:, None]
    elif o.shape != p.shape:
        raise ValueError(f"outcome_advantages must be [B] or [B, T] like progress {tuple(p.shape)}, "
                         f"got shape {tuple(o.shape)}")
    zero = torch.zeros((), dtype=p.dtype, device=p.device)
    return _finish(o + alpha * torch.where(m, p, zero), m, v, invalid_value)


def progress_from_q(q: Tensor) -> Tensor:
    """PAV progress ``A^μ_h = Q^μ_h − Q^μ_{h−1}`` from prover values after each prefix.

    ``q[..., 0]`` is the value of the empty prefix. Shapes: ``[..., K+1]`` -> ``[..., K]``.
    """
    q = _float(q)
    return q[..., 1:] - q[..., :-1]


def best_of_k_value(q: Tensor | float, k: int) -> Tensor:
    """Value of the Best-of-K(π) prover from the base policy's: ``1 − (1 − Q^π)^K``."""
    return 1 - (1 - _float(q)) ** k
