"""PRMs from outcome labels only, evaluated against human first-error labels (ProcessBench).

On the GSM8K model solutions (``../shared/data/gsm8k/example_model_solutions.jsonl``: 4 real
solutions per GSM8K test question, each with ``is_correct``; one step per line) with SmolLM2-135M-
Instruct (`rewardkit models prepare smollm2`) as the backbone, on CPU:

(a) implicit PRM: ``β·log π_θ/π_ref`` trained with cross-entropy on the outcome labels
    (`rewardkit.prm.implicit_train`), step reward = β·Σ log-ratio over the step's tokens;
(b) MC-labelled PRM: `rewardkit prm label` rolls out SmolLM2 itself from every step prefix (N
    samples, checked by the ``numeric`` verifier against the gold answer), soft Math-Shepherd
    labels, then a supervised token-classification PRM (`rewardkit.prm.train`);
(c) ORM: pointwise BCE on the outcome labels (`rewardkit.orm.train`).

Questions are split once (seed 0): ``--bon-questions`` held out for best-of-4, the rest for training.
Every phase has a wall-clock budget and is subsampled to fit it (the numbers used are printed and
saved); a phase whose model folder exists is skipped, so the script resumes. Each model is saved
as ``OUT/<name>`` and loads as ``{type: prm, model: OUT/implicit_prm}`` etc.

Evaluation:
- ProcessBench (``../shared/data/processbench.jsonl``, GSM8K subset, 125 items): predicted first
  error = first step whose score is below a threshold; the threshold is chosen on the other half
  (2-fold cross-fitting, folds fixed by seed), so no item is predicted with a threshold tuned on
  it. F1 = harmonic mean of accuracy on erroneous solutions (exact first-error index) and on
  correct ones (no step flagged). Baselines: always "no error"; a uniformly random step index or
  "no error" (mean of 200 draws).
- Best-of-4 on held-out GSM8K questions: accuracy of the top-scored solution (ORM score; PRMs with
  min aggregation), vs majority vote over the 4 final answers, a random pick, and the oracle.

Run: nice python benchmarks/prm_from_outcomes.py --out runs/prm_outcomes [--budget-min 8]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

DATA = Path(os.environ.get("REWARDKIT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MODELS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
_ANS = re.compile(r"A:\s*(-?[\d,]*\.?\d+)")


def final_answer(text: str) -> str | None:
    m = _ANS.findall(text)
    return m[-1].replace(",", "") if m else None


def load_gsm8k(path: Path) -> list[dict[str, Any]]:
    out = []
    for i, line in enumerate(path.read_text().splitlines()):
        r = json.loads(line)
        sols = [{"text": r[m]["solution"], "steps": [s for s in r[m]["solution"].split("\n") if s.strip()],
                 "is_correct": bool(r[m]["is_correct"])} for m in MODELS]
        out.append({"qid": i, "question": r["question"], "gold": final_answer(r["ground_truth"]),
                    "ground_truth": r["ground_truth"], "solutions": sols})
    return out


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def finish(final: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.move(str(final), str(dest))
    return dest


# --------------------------------------------------------------------------- training phases
def train_implicit(out: Path, base: Path, train_q: list, n: int, budget_s: float) -> dict:
    from rewardkit.models.training import TrainOptions
    from rewardkit.prm.implicit_train import ImplicitTrainConfig, train_implicit_prm

    rows = [{"prompt": q["question"], "completion": "\n".join(s["steps"]), "label": s["is_correct"]}
            for q in train_q for s in q["solutions"]]
    random.Random(1).shuffle(rows)
    rows = rows[:n]
    cfg = ImplicitTrainConfig(
        model=str(base), output_dir=str(out / "_train" / "implicit_prm"), beta=0.05,
        train_file=write_jsonl(out / "_data" / "implicit_train.jsonl", rows), prompt_separator="\n",
        step_separator="\n",
        train=TrainOptions(epochs=1, batch_size=4, learning_rate=2e-5, max_length=320, logging_steps=5,
                           save_steps=20, time_limit_s=budget_s, eval_batch_size=8))
    t0 = time.time()
    # the card points at the base model relative to the model folder; moving it keeps that valid
    final = train_implicit_prm(cfg)
    card = json.loads((final / "rewardkit_prm.json").read_text())
    dest = out / "implicit_prm"
    card["reference"] = str(Path("..") / base.name) if base.parent == out else str(base.resolve())
    (final / "rewardkit_prm.json").write_text(json.dumps(card, indent=2))
    finish(final, dest)
    return {"solutions": len(rows), "positive": sum(r["label"] for r in rows), "seconds": time.time() - t0,
            "beta": 0.05, "lr": 2e-5}


def train_mc(out: Path, base: Path, train_q: list, n: int, n_rollouts: int, label_budget_s: float,
             train_budget_s: float, max_new_tokens: int = 48, max_steps: int | None = None) -> dict:
    from rewardkit.models.training import TrainOptions
    from rewardkit.prm.label import LabelConfig, assemble, read_solutions
    from rewardkit.prm.train import PRMTrainConfig, train_prm

    pool = [(q, s) for q in train_q for s in q["solutions"] if max_steps is None or len(s["steps"]) <= max_steps]
    random.Random(2).shuffle(pool)
    pool = pool[:n]
    rows = [{"id": f"{q['qid']}-{j}", "prompt": "Q: " + q["question"], "steps": s["steps"], "reference": q["gold"]}
            for j, (q, s) in enumerate(pool)]
    shots = "".join(f"Q: {q['question']}\n{q['ground_truth']}\n\n" for q in train_q[-2:])
    label_dir = out / "_mc_labels"
    cfg = LabelConfig(input=write_jsonl(out / "_data" / "mc_input.jsonl", rows), output_dir=str(label_dir),
                      n=n_rollouts, prompt_separator="\n", step_separator="\n", rollout_preamble=shots,
                      verifier={"type": "numeric"}, label="soft", progress=True,
                      rollout={"model": str(base), "max_new_tokens": max_new_tokens, "temperature": 0.8, "prefixes_per_batch": 4,
                               "stop": ["\n\n", "Q:"]})
    cfg_path = label_dir / "label.yaml"
    label_dir.mkdir(parents=True, exist_ok=True)
    cfg_path.write_text(cfg.model_dump_json())
    t0 = time.time()
    try:  # the resumable job, in its own process, stopped at the budget (finished prefixes are kept)
        subprocess.run([sys.executable, "-m", "rewardkit.cli", "prm", "label", "--config", str(cfg_path)],
                       timeout=label_budget_s, check=True)
        stopped = False
    except subprocess.TimeoutExpired:
        stopped = True
    label_s = time.time() - t0
    data = assemble(label_dir / "prefixes.jsonl", read_solutions(cfg), label_dir / "stepwise.jsonl", label="soft")
    recs = [json.loads(x) for x in data.read_text().splitlines()]
    prefixes = len((label_dir / "prefixes.jsonl").read_text().splitlines())
    if not recs:
        raise RuntimeError("no solution was fully labelled within the budget")
    tcfg = PRMTrainConfig(model=str(base), output_dir=str(out / "_train" / "mc_prm"), train_file=str(data),
                          prompt_separator="\n", step_separator="\n",
                          train=TrainOptions(epochs=3, batch_size=4, learning_rate=5e-5, max_length=320,
                                             logging_steps=5, save_steps=50, time_limit_s=train_budget_s))
    t1 = time.time()
    finish(train_prm(tcfg), out / "mc_prm")
    labels = [x for r in recs for x in r["labels"]]
    return {"solutions_labelled": len(recs), "solutions_attempted": len(rows), "prefixes_done": prefixes,
            "rollouts_per_prefix": n_rollouts, "label_seconds": label_s, "label_stopped_at_budget": stopped,
            "train_seconds": time.time() - t1, "mean_soft_label": sum(labels) / len(labels),
            "steps_with_label_0": sum(x == 0 for x in labels), "steps": len(labels)}


def train_orm_phase(out: Path, base: Path, train_q: list, n: int, budget_s: float) -> dict:
    from rewardkit.models.training import TrainOptions
    from rewardkit.orm.train import ORMTrainConfig, train_orm

    rows = [{"prompt": q["question"], "completion": "\n".join(s["steps"]), "label": s["is_correct"]}
            for q in train_q for s in q["solutions"]]
    random.Random(3).shuffle(rows)
    rows = rows[:n]
    cfg = ORMTrainConfig(method="pointwise", model=str(base), output_dir=str(out / "_train" / "orm"),
                         train_file=write_jsonl(out / "_data" / "orm_train.jsonl", rows), prompt_separator="\n",
                         train=TrainOptions(epochs=1, batch_size=4, learning_rate=2e-5, max_length=320,
                                            logging_steps=5, save_steps=50, time_limit_s=budget_s))
    t0 = time.time()
    finish(train_orm(cfg), out / "orm")
    return {"solutions": len(rows), "positive": sum(r["label"] for r in rows), "seconds": time.time() - t0}


# --------------------------------------------------------------------------- evaluation
def first_error(scores: list[float | None], threshold: float) -> int:
    for i, s in enumerate(scores):
        if s is not None and s < threshold:
            return i
    return -1


def pb_f1(preds: list[int], labels: list[int]) -> dict[str, float]:
    err = [p == y for p, y in zip(preds, labels, strict=True) if y != -1]
    ok = [p == -1 for p, y in zip(preds, labels, strict=True) if y == -1]
    a_err, a_ok = sum(err) / max(len(err), 1), sum(ok) / max(len(ok), 1)
    f1 = 2 * a_err * a_ok / (a_err + a_ok) if a_err + a_ok else 0.0
    return {"f1": 100 * f1, "acc_erroneous": 100 * a_err, "acc_correct": 100 * a_ok}


def best_threshold(scores: list[list[float | None]], labels: list[int]) -> float:
    cands = sorted({s for row in scores for s in row if s is not None})
    cands = [cands[0] - 1] + [(a + b) / 2 for a, b in zip(cands, cands[1:], strict=False)] + [cands[-1] + 1]
    return max(cands, key=lambda t: pb_f1([first_error(r, t) for r in scores], labels)["f1"])


def processbench(src: Any, items: list[dict[str, Any]], prompt_prefix: str = "") -> dict[str, Any]:
    from rewardkit.types import Sample

    samples = [Sample(prompt_prefix + it["problem"], "\n".join(s.strip() for s in it["steps"]),
                      steps=[s.strip() for s in it["steps"]]) for it in items]
    res = src.score(samples)
    scores = [[st.score for st in r.steps] if r.steps else [] for r in res]
    labels = [it["label"] for it in items]
    folds = [[i for i in range(len(items)) if i % 2 == f] for f in (0, 1)]
    preds = [0] * len(items)
    thresholds = []
    for f in (0, 1):
        tune, test = folds[f], folds[1 - f]
        t = best_threshold([scores[i] for i in tune], [labels[i] for i in tune])
        thresholds.append(t)
        for i in test:
            preds[i] = first_error(scores[i], t)
    return {**pb_f1(preds, labels), "thresholds": thresholds,
            "statuses": dict(Counter(r.status.value for r in res))}


def random_baseline(items: list[dict[str, Any]], draws: int = 200) -> dict[str, float]:
    rng = random.Random(0)
    labels = [it["label"] for it in items]
    runs = [pb_f1([rng.randrange(-1, len(it["steps"])) for it in items], labels) for _ in range(draws)]
    return {k: sum(r[k] for r in runs) / draws for k in runs[0]}


def best_of_4(src: Any, qs: list[dict[str, Any]], prompt_prefix: str = "") -> float:
    from rewardkit.types import Sample

    samples = [Sample(prompt_prefix + q["question"], "\n".join(s["steps"])) for q in qs for s in q["solutions"]]
    res = src.score(samples)
    correct = 0
    for i, q in enumerate(qs):
        rs = res[4 * i:4 * i + 4]
        vals = [r.score if r.score is not None else float("-inf") for r in rs]
        correct += q["solutions"][max(range(4), key=lambda j: vals[j])]["is_correct"]
    return 100 * correct / len(qs)


def bon_baselines(qs: list[dict[str, Any]]) -> dict[str, float]:
    maj = orc = rnd = 0.0
    for q in qs:
        answers = [final_answer(s["text"]) for s in q["solutions"]]
        votes = Counter(a for a in answers if a is not None)
        if votes:
            top = votes.most_common(1)[0][0]
            maj += any(s["is_correct"] for s, a in zip(q["solutions"], answers, strict=True) if a == top)
        orc += any(s["is_correct"] for s in q["solutions"])
        rnd += sum(s["is_correct"] for s in q["solutions"]) / 4
    n = len(qs)
    return {"majority_vote": 100 * maj / n, "oracle": 100 * orc / n, "random_pick": 100 * rnd / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--base", help="prepared SmolLM2 folder (default: OUT/smollm2, prepared if missing)")
    ap.add_argument("--budget-min", type=float, default=8.0, help="wall-clock budget of each training phase")
    ap.add_argument("--label-budget-min", type=float, default=8.0)
    ap.add_argument("--n-implicit", type=int, default=400)
    ap.add_argument("--n-mc", type=int, default=120)
    ap.add_argument("--n-rollouts", type=int, default=4)
    ap.add_argument("--mc-max-new-tokens", type=int, default=48)
    ap.add_argument("--mc-max-steps", type=int, help="MC labelling: only solutions with at most this many steps")
    ap.add_argument("--n-orm", type=int, default=400)
    ap.add_argument("--bon-questions", type=int, default=100)
    ap.add_argument("--phases", default="implicit,mc,orm,eval")
    ap.add_argument("--pb-limit", type=int, help="a random N ProcessBench GSM8K items (half erroneous)")
    ap.add_argument("--prm-bon", action="store_true", help="also best-of-4 with the PRMs (min aggregation)")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}

    def save() -> None:
        results_path.write_text(json.dumps(results, indent=2))

    from rewardkit.models.offline import prepare_smollm2

    base = Path(a.base) if a.base else prepare_smollm2(out / "smollm2")
    qs = load_gsm8k(DATA / "gsm8k" / "example_model_solutions.jsonl")
    order = list(range(len(qs)))
    random.Random(0).shuffle(order)
    bon_q = [qs[i] for i in order[:a.bon_questions]]
    train_q = [qs[i] for i in order[a.bon_questions:]]
    phases = a.phases.split(",")
    if "implicit" in phases and not (out / "implicit_prm").exists():
        results["train_implicit"] = train_implicit(out, base, train_q, a.n_implicit, a.budget_min * 60)
        save()
    if "mc" in phases and not (out / "mc_prm").exists():
        try:
            results["train_mc"] = train_mc(out, base, train_q, a.n_mc, a.n_rollouts, a.label_budget_min * 60,
                                           a.budget_min * 60, a.mc_max_new_tokens, a.mc_max_steps)
        except RuntimeError as e:  # nothing fully labelled in the budget: say so, go on
            results["train_mc"] = {"failed": str(e)}
        save()
    if "orm" in phases and not (out / "orm").exists():
        results["train_orm"] = train_orm_phase(out, base, train_q, a.n_orm, a.budget_min * 60)
        save()
    if "eval" not in phases:
        return
    from rewardkit.registry import build_source

    pb = [json.loads(x) for x in (DATA / "processbench.jsonl").read_text().splitlines()]
    pb = [it for it in pb if it["subset"] == "gsm8k"]
    if a.pb_limit:  # a random subsample with both kinds (the file is ordered by label)
        err = [it for it in pb if it["label"] != -1]
        ok = [it for it in pb if it["label"] == -1]
        rng = random.Random(0)
        k = a.pb_limit // 2
        pb = rng.sample(err, min(k, len(err))) + rng.sample(ok, min(a.pb_limit - k, len(ok)))
        rng.shuffle(pb)
    ev: dict[str, Any] = {"processbench_items": len(pb), "bon_questions": len(bon_q),
                          "pb_always_no_error": pb_f1([-1] * len(pb), [it["label"] for it in pb]),
                          "pb_random_step": random_baseline(pb), **bon_baselines(bon_q)}
    for name, prompt in (("implicit_prm", ""), ("mc_prm", "Q: ")):
        if not (out / name).exists():
            continue
        t0 = time.time()
        src = build_source("prm", model=str(out / name), max_length=1024, on_truncation="score_seen",
                           aggregation="min", batch_size=4)
        ev[f"pb_{name}"] = processbench(src, pb, prompt)
        if a.prm_bon:
            ev[f"bon_{name}_min"] = best_of_4(src, bon_q, prompt)
        ev[f"{name}_eval_seconds"] = time.time() - t0
        results["eval"] = ev
        save()
    if (out / "orm").exists():
        src = build_source("orm", model=str(out / "orm"), max_length=1024, batch_size=8)
        ev["bon_orm"] = best_of_4(src, bon_q)
    results["eval"] = ev
    save()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
