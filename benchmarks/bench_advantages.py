"""Advantage estimators on a [B, T] = [1024, 4096] batch (issue 5).

For each estimator, in one run:
- rewardkit's vectorised function (`rewardkit.train.advantages`), best of ``--repeat`` runs;
- a straightforward per-sample Python loop over the same data (rows converted with ``.tolist()``,
  plain float arithmetic, result written back into a tensor), best of 2 runs;
- the equivalent code of an established trainer library, where it can be run on CPU:
  * OpenRLHF 0.11.2 (``pip install --no-deps openrlhf``): its package ``__init__`` files import
    deepspeed / ray / flash-attn, so the *unmodified* function bodies of
    ``RemoteExperienceMaker.get_advantages_and_returns`` / ``get_cumulative_returns`` and
    ``openrlhf.models.utils.compute_reward`` are taken from the installed files with ``ast`` and
    compiled standalone (they only use torch). Its batch whitening and ``group_norm`` estimator are
    inline statements in ``compute_advantages_and_returns``; the benchmark re-expresses
    them as the same few torch operations (population variance, ``clamp(min=1e-8)``, ``std + 1e-9``).
  * TRL 1.16: no GAE / whitening helper exists any more (the PPO trainer is gone). The GRPO group
    normalisation is inline in ``GRPOTrainer._generate_and_score_completions``; it is run here with
    TRL's importable ``trl.trainer.utils.nanstd`` and the same torch calls as that code path.
Every peer's output is checked against rewardkit's (max |diff| column).
GRPO process supervision is measured for both input formats, each against a loop that receives the
same format: dense ``[B, T]`` step mask + rewards (``grpo_process_advantages``; the loop finds each
row's step ends with ``nonzero``), and sparse ``[B, K]`` step ends (-1 padded) + rewards
(``grpo_process_advantages_from_steps``; the loop reads each row's lists with ``.tolist()``).

Run: python benchmarks/bench_advantages.py [--B 1024] [--T 4096] [--G 8] [--repeat 5]
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import time
from pathlib import Path
from typing import Any

import torch

from rewardkit.train import advantages as A


# ------------------------------------------------------------------------------------------ peers
def load_openrlhf() -> dict[str, Any] | None:
    """OpenRLHF's functions, compiled from the installed source without importing its package."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("openrlhf")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    wanted = {
        root / "trainer/ppo_utils/experience_maker.py": {"get_advantages_and_returns", "get_cumulative_returns"},
        root / "models/utils.py": {"compute_reward"},
    }
    from typing import Optional, Union  # noqa: UP035 - their annotations

    ns: dict[str, Any] = {"torch": torch, "Tuple": tuple, "List": list, "Optional": Optional, "Union": Union}
    found = set()
    for path, names in wanted.items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in names and node.name not in found:
                mod = ast.Module(body=[node], type_ignores=[])
                exec(compile(mod, str(path), "exec"), ns)  # noqa: S102 - installed library source
                found.add(node.name)
    if found != {"get_advantages_and_returns", "get_cumulative_returns", "compute_reward"}:
        return None
    import importlib.metadata as md

    ns["version"] = md.version("openrlhf")
    return ns


def load_trl_nanstd():
    try:
        from trl.trainer.utils import nanstd
    except Exception:  # noqa: BLE001
        return None
    return nanstd


# ------------------------------------------------------------------------------------------ data
def make_data(B: int, T: int, G: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(T // 4, T + 1, (B,), generator=g)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    rewards = torch.randn(B, T, generator=g) * 0.01 * mask
    values = torch.randn(B, T, generator=g) * mask
    kl = torch.randn(B, T, generator=g).abs() * 0.01 * mask
    scores = (torch.rand(B, generator=g) > 0.5).float()
    step_mask = (torch.rand(B, T, generator=g) < 1 / 64) & mask
    last = A.last_token_index(mask)
    step_mask[torch.arange(B), last] = True
    step_rewards = torch.rand(B, T, generator=g) * step_mask
    # the same steps in the sparse layout a rollout can store (REWARD_METHODS.md §10.6): per row the
    # step-end token indices and their rewards, padded with -1 / 0 to K = max steps per row
    ends_rows = [row.nonzero().squeeze(1) for row in step_mask]
    K = max(len(e) for e in ends_rows)
    step_ends = torch.full((B, K), -1, dtype=torch.long)
    step_rewards_k = torch.zeros(B, K)
    for b, e in enumerate(ends_rows):
        step_ends[b, : len(e)] = e
        step_rewards_k[b, : len(e)] = step_rewards[b, e]
    return dict(lengths=lengths, mask=mask, rewards=rewards, values=values, kl=kl, scores=scores,
                step_mask=step_mask, step_rewards=step_rewards, step_ends=step_ends,
                step_rewards_k=step_rewards_k, G=torch.tensor(G))


# ------------------------------------------------------------------------------------------ naive loops
def loop_gae(d, gamma, lam):
    B, T = d["rewards"].shape
    out = torch.zeros(B, T)
    ret = torch.zeros(B, T)  # returns = advantages + values, as every GAE implementation outputs
    for b in range(B):
        n = int(d["lengths"][b])
        r = d["rewards"][b, :n].tolist()
        v = d["values"][b, :n].tolist()
        adv = [0.0] * n
        last = 0.0
        for t in range(n - 1, -1, -1):
            nv = v[t + 1] if t + 1 < n else 0.0
            last = r[t] + gamma * nv - v[t] + gamma * lam * last
            adv[t] = last
        out[b, :n] = torch.tensor(adv)
        ret[b, :n] = torch.tensor([a + x for a, x in zip(adv, v, strict=True)])
    return out


def loop_grpo(d, G, eps=1e-6):
    B, T = d["rewards"].shape
    s = d["scores"].tolist()
    out = torch.zeros(B, T)
    for b in range(B):
        grp = s[b // G * G: b // G * G + G]
        mu = sum(grp) / G
        sd = math.sqrt(sum((x - mu) ** 2 for x in grp) / (G - 1))
        a = (s[b] - mu) / (sd + eps)
        n = int(d["lengths"][b])
        out[b, :n] = torch.tensor([a] * n)
    return out


def loop_reinforce(d, kl_coef):
    B, T = d["rewards"].shape
    rets = []
    for b in range(B):
        n = int(d["lengths"][b])
        kl = d["kl"][b, :n].tolist()
        r = [-kl_coef * k for k in kl]
        r[-1] += float(d["scores"][b])
        acc, ret = 0.0, [0.0] * n
        for t in range(n - 1, -1, -1):
            acc += r[t]
            ret[t] = acc
        rets.append(ret)
    flat = [x for ret in rets for x in ret]
    mu = sum(flat) / len(flat)
    sd = math.sqrt(max(sum((x - mu) ** 2 for x in flat) / len(flat), 1e-8))
    out = torch.zeros(B, T)
    for b, ret in enumerate(rets):
        out[b, : len(ret)] = torch.tensor([(x - mu) / sd for x in ret])
    return out


def loop_process(d, G, eps=1e-6):
    """Dense input (``[B, T]`` step mask and rewards): each row's step ends found with ``nonzero``."""
    B = d["rewards"].shape[0]
    rows = []
    for b in range(B):
        idx = d["step_mask"][b].nonzero().squeeze(1).tolist()
        rows.append((idx, d["step_rewards"][b, idx].tolist()))
    return _loop_process_rows(d, G, rows, eps)


def loop_process_sparse(d, G, eps=1e-6):
    """Sparse input (``[B, K]`` step ends with -1 padding and their rewards), as the vectorised side."""
    B = d["rewards"].shape[0]
    rows = []
    for b in range(B):
        ends, vals = d["step_ends"][b].tolist(), d["step_rewards_k"][b].tolist()
        n = sum(1 for e in ends if e >= 0)
        rows.append((ends[:n], vals[:n]))
    return _loop_process_rows(d, G, rows, eps)


def _loop_process_rows(d, G, rows, eps):
    B, T = d["rewards"].shape
    out = torch.zeros(B, T)
    for g0 in range(0, B, G):
        pool = [x for b in range(g0, g0 + G) for x in rows[b][1]]
        mu = sum(pool) / len(pool)
        sd = math.sqrt(sum((x - mu) ** 2 for x in pool) / (len(pool) - 1))
        for b in range(g0, g0 + G):
            n = int(d["lengths"][b])
            adv = [0.0] * n
            idx, vals = rows[b]
            acc, k = 0.0, len(idx) - 1
            for t in range(n - 1, -1, -1):
                while k >= 0 and idx[k] >= t:
                    acc += (vals[k] - mu) / (sd + eps)
                    k -= 1
                adv[t] = acc
            out[b, :n] = torch.tensor(adv)
    return out


# ------------------------------------------------------------------------------------------ peers' code paths
def openrlhf_gae(orl, d, gamma, lam):
    return orl["get_advantages_and_returns"](None, d["values"], d["rewards"], d["mask"], gamma, lam)[0]


def openrlhf_reinforce(orl, d, kl_coef):
    # compute_advantages_and_returns, estimator "reinforce": compute_reward -> get_cumulative_returns
    # -> global whitening (the same operations as that method)
    reward = orl["compute_reward"](d["scores"], kl_coef, d["kl"], action_mask=d["mask"])
    adv = orl["get_cumulative_returns"](None, reward, d["mask"], 1.0)
    m = d["mask"]
    num = m.sum()
    mean = (adv * m).sum() / num
    var = ((adv - mean).pow(2) * m).sum() / num
    return (adv - mean) * var.clamp(min=1e-8).rsqrt() * m


def openrlhf_group_norm(d, G):
    # estimator "group_norm" (inline in compute_advantages_and_returns), + get_cumulative_returns with
    # kl_coef 0 is the same per-token broadcast; we broadcast directly.
    r = d["scores"].reshape(-1, G)
    r = (r - r.mean(-1, keepdim=True)) / (r.std(-1, keepdim=True) + 1e-9)
    return r.reshape(-1)[:, None] * d["mask"]


def trl_group_norm(nanstd, d, G):
    # GRPOTrainer._generate_and_score_completions, multi_objective_aggregation="sum_then_normalize",
    # scale_rewards="group"; per-sequence advantages, broadcast to tokens in the loss (done here).
    rewards = d["scores"]
    mean = torch.nanmean(rewards.view(-1, G), dim=1).repeat_interleave(G, dim=0)
    std = nanstd(rewards.view(-1, G), dim=1).repeat_interleave(G, dim=0)
    adv = (rewards - mean) / (std + 1e-4)
    return adv[:, None] * d["mask"]


# ------------------------------------------------------------------------------------------ timing
def best_of(fn, repeat: int) -> tuple[float, Any]:
    out = fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def once(fn, repeat: int = 2) -> tuple[float, Any]:
    """Best of ``repeat`` runs of a slow reference (no warm-up needed: pure Python)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def maxdiff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--B", type=int, default=1024)
    ap.add_argument("--T", type=int, default=4096)
    ap.add_argument("--G", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    B, T, G = args.B, args.T, args.G
    d = make_data(B, T, G)
    orl = load_openrlhf()
    nanstd = load_trl_nanstd()
    gamma, lam, kl_coef = 1.0, 0.95, 0.05
    print(f"batch [B, T] = [{B}, {T}], group size {G}, float32, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; valid tokens {int(d['mask'].sum()):,}")
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores; other jobs inflate every number)")
    print(f"peers: OpenRLHF {orl['version'] if orl else 'not installed'}; "
          f"TRL {'nanstd importable' if nanstd else 'not importable'}")

    rows = []

    def add(name, rk_fn, loop_fn, peers):
        t_rk, out = best_of(rk_fn, args.repeat)
        t_loop, ref = once(loop_fn)
        rows.append((name, "rewardkit (vectorised)", t_rk, None, 0.0))
        rows.append((name, "per-sample Python loop", t_loop, t_loop / t_rk, maxdiff(ref, out)))
        for pname, pfn in peers:
            t_p, pout = best_of(pfn, args.repeat)
            rows.append((name, pname, t_p, t_p / t_rk, maxdiff(pout, out)))

    mask = d["mask"]
    add("GAE (gamma=1, lam=0.95)",
        lambda: A.gae_advantages(d["rewards"], d["values"], mask, gamma=gamma, lam=lam)[0],
        lambda: loop_gae(d, gamma, lam),
        [("OpenRLHF get_advantages_and_returns", lambda: openrlhf_gae(orl, d, gamma, lam))] if orl else [])
    add("GAE (gamma=0.99, lam=0.95)",
        lambda: A.gae_advantages(d["rewards"], d["values"], mask, gamma=0.99, lam=lam)[0],
        lambda: loop_gae(d, 0.99, lam),
        [("OpenRLHF get_advantages_and_returns", lambda: openrlhf_gae(orl, d, 0.99, lam))] if orl else [])
    add("GRPO outcome (group norm -> tokens)",
        lambda: A.grpo_outcome_advantages(d["scores"], mask, group_size=G, ddof=1, eps=1e-6),
        lambda: loop_grpo(d, G),
        ([("TRL GRPOTrainer path (nanstd)", lambda: trl_group_norm(nanstd, d, G))] if nanstd else [])
        + [("OpenRLHF group_norm (inline)", lambda: openrlhf_group_norm(d, G))])
    add("REINFORCE++ (k1 KL in reward, whiten)",
        lambda: A.reinforce_pp_advantages(d["scores"], mask, kl=d["kl"], kl_coef=kl_coef)[0],
        lambda: loop_reinforce(d, kl_coef),
        [("OpenRLHF compute_reward+get_cumulative_returns+whiten",
          lambda: openrlhf_reinforce(orl, d, kl_coef))] if orl else [])
    add("GRPO process supervision (dense [B, T] step mask)",
        lambda: A.grpo_process_advantages(d["step_rewards"], d["step_mask"], mask, group_size=G, ddof=1, eps=1e-6),
        lambda: loop_process(d, G),
        [])
    add("GRPO process supervision (sparse [B, K] step ends)",
        lambda: A.grpo_process_advantages_from_steps(d["step_rewards_k"], d["step_ends"], mask, group_size=G,
                                                     ddof=1, eps=1e-6),
        lambda: loop_process_sparse(d, G),
        [])

    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print()
    print("| estimator | implementation | time (ms) | time / rewardkit | max abs diff vs rewardkit |")
    print("|---|---|---:|---:|---:|")
    for name, impl, t, ratio, diff in rows:
        r = "1.0x" if ratio is None else f"{ratio:.1f}x"
        print(f"| {name} | {impl} | {t * 1e3:.1f} | {r} | {diff:.2e} |")


if __name__ == "__main__":
    main()
