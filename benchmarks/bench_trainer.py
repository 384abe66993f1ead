"""rewardkit GRPO vs TRL 1.16 ``GRPOTrainer``: seconds per step and peak memory, same setup, CPU.

Both trainers get the same tiny random Llama (built here from a config, saved once), the same
locally trained byte-level BPE tokenizer, the same prompts (the embedded synthetic arithmetic
task), ``prompts x G`` completions per step, the same completion budget, sampling at temperature 1,
one optimiser step per generation batch, no reference model (beta 0), token-mean loss
(TRL ``loss_type="dapo"``; rewardkit ``aggregation: token_mean``), group-std advantages, AdamW with
the same learning rate, and the same outcome-only reward: rewardkit's ``numeric`` verifier on the
reference answer (TRL calls it through ``rewardkit.integrations.trl``; unparseable -> 0.0 in both).

Each trainer runs in its own subprocess (so peak RSS is its own); the first step is warm-up and
not timed; seconds/step is the mean of the remaining steps, from step-end to step-end, in wall time
and in CPU time of the trainer's process (1 torch thread: CPU time is the work done, and is far
less sensitive to other jobs on the machine than wall time). On a shared
machine the load changes between runs, so ``--rounds`` alternates the order (TRL first, then
rewardkit first, ...) and the table shows every round and the mean.
Run: python benchmarks/bench_trainer.py [--steps 6] [--rounds 2] [--prompts 4] [--G 4] [--tokens 32]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PIPELINE = {"rewards": [{"type": "numeric", "name": "correct"}]}


def build_model(out: Path, hidden: int, layers: int) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    sys.path.insert(0, str(REPO))
    from tests._tokenizers import bpe_tokenizer

    tok = bpe_tokenizer(300)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)


def _prompts(n: int) -> list[dict]:
    from rewardkit.data.synthetic import generate_records

    recs = generate_records(n_problems=n, group_size=1, seed=0, min_steps=2, max_steps=3)
    return [{"prompt": r["prompt"], "reference": r["reference"]["answer"]} for r in recs]


def run_rewardkit(model: Path, out: Path, a: argparse.Namespace) -> dict:
    from rewardkit.train.run import train

    cfg = {"model": {"path": str(model)},
           "data": {"synthetic_problems": a.steps * a.prompts, "synthetic_min_steps": 2, "synthetic_max_steps": 3,
                    "shuffle": False},
           "rollout": {"prompts_per_step": a.prompts, "group_size": a.G, "max_new_tokens": a.tokens},
           "rewards": {"pipeline": PIPELINE},
           "loss": {"aggregation": "token_mean", "kl_coef": 0.0},
           "optim": {"lr": 1e-5, "max_grad_norm": 1.0},
           "steps": a.steps, "seed": 0, "output_dir": str(out), "progress": False}
    hist = train(cfg).history
    ends = [h["time/elapsed_s"] for h in hist]
    cpu = [h["time/process_cpu_s"] for h in hist]
    return {"step_ends": ends, "cpu_ends": cpu, "response_len": sum(h["rollout/response_len"] for h in hist) / len(hist)}


def run_trl(model: Path, out: Path, a: argparse.Namespace) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from rewardkit.integrations.trl import reward_funcs

    tok = AutoTokenizer.from_pretrained(model)
    ends: list[float] = []
    cpu: list[float] = []
    lens: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001
            ends.append(time.perf_counter())
            cpu.append(time.process_time())

        def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
            if logs and "completions/mean_length" in logs:
                lens.append(logs["completions/mean_length"])

    ds = Dataset.from_list(_prompts(a.steps * a.prompts))
    cfg = GRPOConfig(output_dir=str(out), use_cpu=True, per_device_train_batch_size=a.prompts * a.G,
                     num_generations=a.G, max_completion_length=a.tokens, max_steps=a.steps, learning_rate=1e-5,
                     max_grad_norm=1.0, beta=0.0, loss_type="dapo", scale_rewards="group", temperature=1.0,
                     logging_steps=1, save_strategy="no", report_to="none", seed=0, disable_dropout=True,
                     dataloader_num_workers=0, shuffle_dataset=False)
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(model), args=cfg, processing_class=tok,
                          train_dataset=ds, reward_funcs=reward_funcs(PIPELINE, reference_key="reference",
                                                                      fill={"unparseable": 0.0}),
                          callbacks=[Clock()])
    trainer.train()
    return {"step_ends": ends, "cpu_ends": cpu, "response_len": sum(lens) / max(len(lens), 1)}


def child(which: str, model: Path, a: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as d:
        res = (run_rewardkit if which == "rewardkit" else run_trl)(model, Path(d), a)
    ends = res["step_ends"]
    per_step = [b - x for x, b in zip(ends, ends[1:], strict=False)]  # step 1 (warm-up) not timed
    c = res["cpu_ends"]
    cpu_step = [b - x for x, b in zip(c, c[1:], strict=False)]
    print(json.dumps({"impl": which, "s_per_step": sum(per_step) / len(per_step), "steps_timed": len(per_step),
                      "cpu_s_per_step": sum(cpu_step) / len(cpu_step),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "response_len": res["response_len"]}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--prompts", type=int, default=4)
    p.add_argument("--G", type=int, default=4)
    p.add_argument("--tokens", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2, help="rounds; the order alternates (TRL first, then rewardkit first)")
    p.add_argument("--threads", type=int, default=1, help="torch threads in each trainer (the machine is shared)")
    p.add_argument("--child", choices=["rewardkit", "trl"])
    p.add_argument("--model")
    a = p.parse_args()
    if a.child:
        child(a.child, Path(a.model), a)
        return
    import trl

    with tempfile.TemporaryDirectory() as d:
        model = Path(d) / "model"
        build_model(model, a.hidden, a.layers)
        rows: dict[str, list[dict]] = {"trl": [], "rewardkit": []}
        order = [("trl", "rewardkit") if r % 2 == 0 else ("rewardkit", "trl") for r in range(a.rounds)]
        for which in (w for pair in order for w in pair):
            cmd = [sys.executable, __file__, "--child", which, "--model", str(model)] + [
                f"--{k}={getattr(a, k)}" for k in ("steps", "prompts", "G", "tokens", "hidden", "layers", "threads")]
            env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
                   "TOKENIZERS_PARALLELISM": "false"}
            r = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if r.returncode != 0:
                sys.exit(f"{which} failed:\n{r.stderr[-4000:]}")
            rows[which].append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(f"  {which}: {rows[which][-1]['s_per_step']:.3f} s/step", file=sys.stderr)
    print(f"GRPO on CPU: tiny Llama (hidden {a.hidden}, {a.layers} layers), {a.prompts} prompts x G={a.G}, "
          f"{a.tokens} new tokens, {a.steps} steps (first not timed), {a.threads} torch thread(s); TRL {trl.__version__}")
    print(f"{'impl':<10} {'wall s/step per round':>28} {'mean s/step':>12} {'best s/step':>12} {'CPU s/step':>11} "
          f"{'peak RSS MB':>12} {'resp len':>9}")
    mean = {}
    for k, rs in rows.items():
        mean[k] = {f: sum(r[f] for r in rs) / len(rs) for f in ("s_per_step", "cpu_s_per_step", "peak_rss_mb",
                                                                 "response_len")}
        per = " ".join(f"{r['s_per_step']:.3f}" for r in rs)
        mean[k]["best"] = min(r["s_per_step"] for r in rs)
        print(f"{k:<10} {per:>28} {mean[k]['s_per_step']:>12.3f} {mean[k]['best']:>12.3f} "
              f"{mean[k]['cpu_s_per_step']:>11.3f} {mean[k]['peak_rss_mb']:>12.0f} "
              f"{mean[k]['response_len']:>9.1f}")
    t = mean["rewardkit"]["s_per_step"] / mean["trl"]["s_per_step"]
    m = mean["rewardkit"]["peak_rss_mb"] / mean["trl"]["peak_rss_mb"]
    per_round = " ".join(f"{x['s_per_step'] / y['s_per_step']:.2f}" for x, y in zip(rows["rewardkit"], rows["trl"], strict=True))
    b = mean["rewardkit"]["best"] / mean["trl"]["best"]
    c = mean["rewardkit"]["cpu_s_per_step"] / mean["trl"]["cpu_s_per_step"]
    print(f"ratio rewardkit/TRL: wall time {t:.2f} of means, {b:.2f} of bests (per round: {per_round}); "
          f"CPU time {c:.2f} (target <= 1.0); peak memory {m:.2f}")


if __name__ == "__main__":
    main()
