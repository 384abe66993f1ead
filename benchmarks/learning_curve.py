"""Learning curve of the demo: outcome-only GRPO vs GRPO with step rewards, same seed and budget.

Both runs use ``configs/train_demo.yaml`` (SmolLM2-135M-Instruct, synthetic arithmetic, math
verifier as outcome reward, ``step_arithmetic`` as step reward) and differ only in
``algorithm.estimator``: ``grpo`` (outcome only; the step rewards are computed but unused) vs
``grpo_process`` (outcome advantage + 0.5 x GRPO process-supervision advantage of the step
rewards). The y-axis is the mean verifier accuracy of the training rollouts of each step
(``reward/score``: the outcome is the only weighted component, and a response without a parseable
answer counts as wrong -- the status policy's failing score 0) (2 prompts x 4 samples = 8 responses: noisy; a moving average is drawn too).

Run: python benchmarks/learning_curve.py --model models/smollm2 [--steps 12] [--out benchmarks/learning_curve.png]
The two runs are sequential; each prints its own progress. Keep the budget small on a shared CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _read(workdir: Path, estimator: str) -> list[dict]:
    lines = (workdir / estimator / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines if x]


def run(estimator: str, a: argparse.Namespace, workdir: Path) -> list[dict]:
    from rewardkit.train.run import train

    cfg = yaml.safe_load((REPO / "configs" / "train_demo.yaml").read_text())
    cfg["model"]["path"] = a.model
    cfg["algorithm"]["estimator"] = estimator
    cfg.update(steps=a.steps, seed=a.seed, output_dir=str(workdir / estimator), save_every=0, progress=True)
    cfg["rollout"]["max_new_tokens"] = a.tokens
    t0 = time.perf_counter()
    hist = train(cfg).history
    print(f"{estimator}: {a.steps} steps in {time.perf_counter() - t0:.0f} s")
    return hist


def _smooth(y: list[float], k: int = 3) -> list[float]:
    return [sum(y[max(0, i - k + 1):i + 1]) / len(y[max(0, i - k + 1):i + 1]) for i in range(len(y))]


def main() -> None:
    import torch

    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="prepared SmolLM2 folder (rewardkit models prepare smollm2)")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--tokens", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", default="runs/learning_curve")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "learning_curve.png"))
    p.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    p.add_argument("--plot-only", action="store_true", help="re-plot from the metrics.jsonl files in --workdir")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    work = Path(a.workdir)
    curves = {}
    for est in ("grpo", "grpo_process"):
        hist = _read(work, est) if a.plot_only else run(est, a, work)
        curves[est] = {"accuracy": [h.get("reward/score") or 0.0 for h in hist],
                       "accuracy_of_parseable": [h.get("reward/correct") for h in hist],
                       "step_valid": [h.get("reward/steps_valid", float("nan")) for h in hist],
                       "unparseable": [h.get("status/unparseable", 0.0) for h in hist],
                       "s_per_step": [h["time/rollout_s"] + h["time/reward_s"] + h["time/update_s"] for h in hist]}
    Path(a.out).with_suffix(".json").write_text(json.dumps(curves, indent=1))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    labels = {"grpo": "GRPO, outcome reward only", "grpo_process": "GRPO + step rewards (step_arithmetic)"}
    for (est, c), color in zip(curves.items(), ("tab:blue", "tab:orange"), strict=True):
        x = list(range(1, len(c["accuracy"]) + 1))
        ax.plot(x, c["accuracy"], color=color, alpha=0.35, marker=".")
        ax.plot(x, _smooth(c["accuracy"]), color=color, label=labels[est])
    ax.set_xlabel("step (8 rollouts each)")
    ax.set_ylabel("mean verifier accuracy")
    ax.set_title(f"SmolLM2-135M, synthetic arithmetic, CPU, seed {a.seed}", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out)
    print(f"wrote {a.out}")
    for est, c in curves.items():
        n = len(c["accuracy"])
        h = max(n // 2, 1)
        print(f"{est:<13} accuracy first half {sum(c['accuracy'][:h]) / h:.3f}, second half "
              f"{sum(c['accuracy'][h:]) / max(n - h, 1):.3f}; mean s/step {sum(c['s_per_step']) / n:.1f}")


if __name__ == "__main__":
    main()
