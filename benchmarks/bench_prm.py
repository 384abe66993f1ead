"""PRM step scoring: one forward pass per solution (the `prm` source) vs one pass per step prefix.

Same model, same solutions (``--n`` solutions of ``--steps`` steps each), one run:
- ``single``: `ClassifierScorer.step_scores` on length-sorted batches of ``--batch`` solutions --
  every step's score read at its last token (what `rewardkit.prm` does);
- ``per-prefix``: the usual way a PRM is run when only the last position is read: one forward
  pass per prefix ``steps[:k]`` (`rewardkit.prm.model.per_prefix_step_scores`);
- ``per-prefix batched``: the same prefixes, but all K prefixes of a solution in one padded batch
  (the fairest per-prefix implementation).
Each mode runs in its own subprocess so that its peak resident memory (``ru_maxrss``, minus the
RSS after the model was loaded) is its own; on a GPU, ``torch.cuda.max_memory_allocated``. The
scores of the three modes are checked against each other (max |diff|).

Model: ``--model DIR`` (any causal-LM or token-classification folder; a random one-logit head is
added) -- the SmolLM2-135M folder from `rewardkit models prepare smollm2` is the default when it
exists at ``--model``; otherwise a random Llama of SmolLM2-135M's width with fewer layers.

Run: python benchmarks/bench_prm.py [--model DIR] [--n 16] [--steps 10] [--batch 8]
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


def solutions(n: int, steps: int) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        a = 3 + i
        lines = []
        for k in range(steps):
            b = (7 * k + i) % 13 + 2
            lines.append(f"Step {k + 1}: we add the {b} new items to the {a} we had, so {a} + {b} = {a + b} items.")
            a += b
        out.append((f"Problem {i}: a shop starts with {3 + i} items and receives deliveries. How many at the end?",
                    "\n\n".join(lines)))
    return out


def build_prm(model: str | None, folder: Path, hidden: int = 576, layers: int = 8) -> Path:
    import torch
    from transformers import AutoModelForTokenClassification, LlamaConfig, PreTrainedTokenizerFast

    from rewardkit.prm.model import PRMCard, write_card

    torch.manual_seed(0)
    if model:
        m = AutoModelForTokenClassification.from_pretrained(model, num_labels=1)
        from rewardkit.models.loading import load_tokenizer

        tok = load_tokenizer(model)
    else:
        from tokenizers import Tokenizer, models, pre_tokenizers, trainers

        t = Tokenizer(models.BPE())
        t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        t.train_from_iterator([p + c for p, c in solutions(64, 10)],
                              trainers.BpeTrainer(vocab_size=2000, special_tokens=["<pad>", "<eos>"],
                                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        tok = PreTrainedTokenizerFast(tokenizer_object=t, pad_token="<pad>", eos_token="<eos>")
        cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 8 // 3,
                          num_hidden_layers=layers, num_attention_heads=hidden // 64, num_key_value_heads=hidden // 192 or 1,
                          num_labels=1, pad_token_id=0)
        m = AutoModelForTokenClassification.from_config(cfg)
    m.config.pad_token_id = tok.pad_token_id
    m.save_pretrained(folder)
    tok.save_pretrained(folder)
    write_card(folder, PRMCard(kind="classifier"))
    return folder


def run_mode(mode: str, folder: str, n: int, steps: int, batch: int) -> dict:
    import torch

    from rewardkit.models.loading import length_sorted_batches
    from rewardkit.prm.encoding import encode
    from rewardkit.prm.model import load_scorer, per_prefix_step_scores
    from rewardkit.steps import split_by_separator

    scorer = load_scorer(folder)
    sols = solutions(n, steps)
    spans = [split_by_separator(c) for _, c in sols]
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cuda = scorer.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    tokens = 0
    t0 = time.perf_counter()
    scores: list[list[float | None]] = [[] for _ in sols]
    if mode == "single":
        enc = [encode(scorer.tokenizer, p, c, sp) for (p, c), sp in zip(sols, spans, strict=True)]
        for b in length_sorted_batches([len(e.input_ids) for e in enc], batch):
            for i, s in zip(b, scorer.step_scores([enc[i] for i in b]), strict=True):
                scores[i] = s
            tokens += sum(len(enc[i].input_ids) for i in b)
    elif mode == "prefix":
        for i, ((p, c), sp) in enumerate(zip(sols, spans, strict=True)):
            scores[i] = per_prefix_step_scores(scorer, p, c, sp)
            tokens += sum(len(encode(scorer.tokenizer, p, c[:s.end], sp[:k + 1]).input_ids) for k, s in enumerate(sp))
    else:  # all prefixes of one solution in one padded batch
        for i, ((p, c), sp) in enumerate(zip(sols, spans, strict=True)):
            enc = [encode(scorer.tokenizer, p, c[:s.end], sp[:k + 1]) for k, s in enumerate(sp)]
            scores[i] = [row[k] for k, row in enumerate(scorer.step_scores(enc))]
            tokens += sum(len(e.input_ids) for e in enc)
    dt = time.perf_counter() - t0
    peak = (torch.cuda.max_memory_allocated() / 2**20 if cuda
            else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024)
    return {"mode": mode, "seconds": dt, "tokens": tokens, "peak_mib": peak, "scores": scores}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="rewardkit_models/smollm2")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=576, help="width of the random Llama (no --model)")
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--_mode")
    ap.add_argument("--_folder")
    a = ap.parse_args()
    if a._mode:
        print(json.dumps(run_mode(a._mode, a._folder, a.n, a.steps, a.batch)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = a.model if Path(a.model, "config.json").exists() else None
        folder = build_prm(model, Path(tmp) / "prm", a.hidden, a.layers)
        print(f"model: {model or f'random Llama ({a.hidden} wide, {a.layers} layers)'}; {a.n} solutions x {a.steps} steps; "
              f"torch threads: {os.environ.get('OMP_NUM_THREADS', 'default')}")
        res = {}
        for mode in ("single", "prefix", "prefix_batched"):
            out = subprocess.run([sys.executable, __file__, "--_mode", mode, "--_folder", str(folder), "--n", str(a.n),
                                  "--steps", str(a.steps), "--batch", str(a.batch)],
                                 check=True, capture_output=True, text=True).stdout
            res[mode] = json.loads(out.strip().splitlines()[-1])
    ref = res["single"]["scores"]
    print(f"\n{'mode':<22}{'seconds':>9}{'tokens':>9}{'steps/s':>9}{'peak MiB':>10}{'max|diff|':>11}")
    for mode, r in res.items():
        diff = max(abs(x - y) for s, t in zip(r["scores"], ref, strict=True) for x, y in zip(s, t, strict=True))
        print(f"{mode:<22}{r['seconds']:>9.2f}{r['tokens']:>9}{a.n * a.steps / r['seconds']:>9.1f}"
              f"{r['peak_mib']:>10.1f}{diff:>11.2e}")
    s = res["single"]["seconds"]
    print(f"\nsingle pass vs per-prefix: {res['prefix']['seconds'] / s:.1f}x faster; "
          f"vs per-prefix batched: {res['prefix_batched']['seconds'] / s:.1f}x   target >= 5x: "
          f"{'MET' if res['prefix']['seconds'] / s >= 5 else 'NOT MET'}")


if __name__ == "__main__":
    main()
