"""``rewardkit eval processbench``: first-wrong-step accuracy of a process reward (ProcessBench)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardkit.eval import plots
from rewardkit.eval._io import fill_counts, pick, read_rows, status_counts, step_scores_for, text_field
from rewardkit.eval.processbench import (
    DEFAULT_SWEEP,
    first_wrong_step,
    mean_f1,
    processbench_breakdown,
    processbench_scores,
    threshold_sweep,
)
from rewardkit.eval.report import Report, fmt
from rewardkit.eval.runs._common import (
    SHOW,
    EvalRun,
    NonOk,
    clip,
    config_name,
    score_all,
    status_section,
    why_not_ok,
)
from rewardkit.eval.stepf1 import step_f1
from rewardkit.io.records import RecordError
from rewardkit.types import Sample


def _step_f1(labels: list[int], step_labels: list[Any], step_scores: list[Any], keep: list[int],
             threshold: float) -> dict[str, Any]:
    """PRMBench-style step F1 (`rewardkit.eval.stepf1`) on the steps whose label is known: a row's
    ``step_labels`` when given, else what ProcessBench's label implies (steps before the first
    error are correct, the first error is wrong, later steps are unlabelled). Non-ok rows are
    left out here (they have no step scores); their number is in ``n_rows_without_scores``."""
    ls: list[list[bool]] = []
    ss: list[list[float | None]] = []
    given_n = sum(1 for i in keep if step_labels[i] is not None)
    source = ("step_labels" if given_n == len(keep) else "first_error_prefix" if given_n == 0
              else "step_labels where given, else first_error_prefix")
    missing = 0
    for i in keep:
        if step_scores[i] is None:
            missing += 1
            continue
        given = step_labels[i]
        if given is not None:
            known = [(bool(y), s) for y, s in zip(given, step_scores[i], strict=True) if y is not None]
        else:
            n = len(step_scores[i]) if labels[i] == -1 else labels[i] + 1
            known = [(k != labels[i], step_scores[i][k]) for k in range(n)]
        ls.append([y for y, _ in known])
        ss.append([s for _, s in known])
    return {**step_f1(ls, ss, threshold), "labels_from": source, "n_rows_without_scores": missing}


def run_processbench(config: Any, input_path: str | Path, *, threshold: float = 0.5,
                     thresholds: Sequence[float] = DEFAULT_SWEEP, non_ok: NonOk = "miss",
                     limit: int | None = None, batch_size: int = 64, progress: bool | None = None) -> EvalRun:
    """ProcessBench (Zheng et al. 2024, arXiv 2412.06559) on rows ``id, problem, steps, label``.

    The completion is the steps joined by blank lines and the steps are passed to the pipeline as
    ``Sample.steps``; each input step gets the score of the pipeline's step span that ends in it.
    Predicted first wrong step: the first step scored below ``threshold`` (`first_wrong_step`).
    A non-ok reward has no prediction: ``non_ok="miss"`` counts it as wrong for its class (like an
    unparseable critique in ProcessBench), ``"exclude"`` leaves it out; ``ok_only`` in the
    metrics always shows the second view."""
    rows = read_rows(input_path, limit)
    samples, labels, subsets, generators, bounds = [], [], [], [], []
    step_labels: list[list[bool | None] | None] = []
    for i, (where, rec) in enumerate(rows):
        steps = pick(rec, where, ["steps"])
        if not (isinstance(steps, list) and steps and all(isinstance(s, str) for s in steps)):
            raise RecordError(where, "field 'steps' must be a non-empty list of strings", field="steps")
        label = pick(rec, where, ["label"])
        if isinstance(label, str) and label.strip().lstrip("-").isdigit():  # CSV cells are text
            label = int(label)
        if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < len(steps):
            raise RecordError(where, f"field 'label' must be -1 or a step index below {len(steps)}, got {label!r}",
                              field="label")
        parts, spans, pos = [], [], 0
        for s in steps:
            spans.append((pos, pos + len(s)))
            parts.append(s)
            pos += len(s) + 2
        samples.append(Sample(prompt=text_field(rec, where, ["problem", "prompt"], required=False),
                              completion="\n\n".join(parts), reference=rec.get("reference"),
                              id=rec.get("id", i), steps=list(steps)))
        sl = rec.get("step_labels")
        if sl is not None and not (isinstance(sl, list) and len(sl) == len(steps)
                                   and all(isinstance(x, bool) or x is None for x in sl)):
            raise RecordError(where, f"field 'step_labels' must be a list of {len(steps)} booleans (or null)",
                              field="step_labels")
        step_labels.append(sl)
        labels.append(label)
        subsets.append(str(rec.get("subset", "all")))
        generators.append(str(rec.get("generator", "unknown")))
        bounds.append(spans)

    results = score_all(config, samples, batch_size, progress, desc="processbench")
    step_scores = [step_scores_for(r, b) if r.is_ok else None for r, b in zip(results, bounds, strict=True)]
    preds = [None if s is None else first_wrong_step(s, threshold) for s in step_scores]
    keep = [i for i in range(len(rows)) if non_ok == "miss" or results[i].is_ok]
    ok = [i for i in range(len(rows)) if results[i].is_ok]

    def view(idx: list[int]) -> dict[str, Any]:
        ls, ps = [labels[i] for i in idx], [preds[i] for i in idx]
        by = processbench_breakdown(ls, ps, {"subset": [subsets[i] for i in idx],
                                             "generator": [generators[i] for i in idx]})
        return {**processbench_scores(ls, ps), "avg_f1_over_subsets": mean_f1(by["subset"]),
                "by_subset": by["subset"], "by_generator": by["generator"]}

    main = view(keep)
    sweep = threshold_sweep([labels[i] for i in keep], [step_scores[i] for i in keep], thresholds)
    best = max((r for r in sweep if r["f1"] is not None), key=lambda r: r["f1"], default=None)
    statuses = status_counts(results)
    policy = ("Non-ok rewards have no prediction and count as wrong for their class" if non_ok == "miss"
              else "Non-ok rewards are excluded from every metric (their count is in 'statuses')")
    metrics = {
        "kind": "processbench", "config": config_name(config), "input": str(input_path),
        "threshold": threshold, **main, "threshold_sweep": sweep,
        "best_threshold": None if best is None else {"threshold": best["threshold"], "f1": best["f1"]},
        "statuses": statuses, "statuses_before_fill": fill_counts(results), "n_rows": len(rows),
        "n_non_ok": len(rows) - len(ok),
        "non_ok_policy": non_ok, "non_ok_policy_text": policy,
        "unscored_steps": sum(1 for s in step_scores if s is not None for v in s if v is None),
        "step_f1": _step_f1(labels, step_labels, step_scores, keep, threshold),
        "ok_only": {k: v for k, v in view(ok).items() if k != "by_generator"},
        "reference": "ProcessBench: Zheng et al. 2024, arXiv 2412.06559",
    }

    def outcome(i: int) -> str:
        y, p = labels[i], preds[i]
        if p is None:
            return "non-ok reward"
        if y == -1:
            return "correct: nothing flagged" if p == -1 else "false alarm"
        if p == -1:
            return "missed error"
        return "exact first error" if p == y else ("flagged too early" if p < y else "flagged too late")

    outcomes = [outcome(i) for i in range(len(rows))]
    per = []
    for i, s in enumerate(samples):
        per.append({"id": s.id, "subset": subsets[i], "generator": generators[i], "label": labels[i],
                    "pred": preds[i], "status": results[i].status.value, "step_scores": step_scores[i],
                    "outcome": outcomes[i]})

    rep = Report("ProcessBench evaluation",
                 f"config {config_name(config)} · input {input_path} · {len(rows)} solutions · threshold {threshold}")
    headline = [("F1", main["f1"]), ("error_acc", main["error_acc"]), ("correct_acc", main["correct_acc"]),
                ("avg F1 over subsets", main["avg_f1_over_subsets"]), ("solutions", len(rows)),
                ("non-ok rewards", len(rows) - len(ok))]
    rep.headline(headline)
    rep.note("error_acc: exact first-error index on erroneous solutions; correct_acc: nothing flagged on "
             "correct solutions; F1: their harmonic mean (Zheng et al. 2024, arXiv 2412.06559). "
             "Fractions, not percent. " + policy + ".")
    oo = metrics["ok_only"]
    rep.note(f"On the {oo['n']} rows with an ok reward alone: F1 {fmt(oo['f1'])}, error_acc {fmt(oo['error_acc'])}, "
             f"correct_acc {fmt(oo['correct_acc'])}.")
    rep.heading("By subset")
    subs = sorted(main["by_subset"])
    rep.table(["subset", "n", "erroneous", "correct", "error_acc", "correct_acc", "F1"],
              [[k, v["n"], v["n_error"], v["n_correct"], v["error_acc"], v["correct_acc"], v["f1"]]
               for k, v in main["by_subset"].items()])
    rep.figure(plots.bars(subs, {m: [main["by_subset"][k][m] for k in subs] for m in ("error_acc", "correct_acc", "f1")},
                          "fraction", "ProcessBench metrics by subset"), "Per-subset accuracy on each class and F1.")
    rep.heading("Threshold sweep")
    rep.figure(plots.lines([r["threshold"] for r in sweep], {m: [r[m] for r in sweep] for m in ("error_acc", "correct_acc", "f1")},
                           "threshold", "fraction", "Sweep of the step-score threshold"),
               "A step scored below the threshold is the predicted first error.")
    if best is not None:
        rep.note(f"best F1 {fmt(best['f1'])} at threshold {best['threshold']} (chosen on this data: optimistic).")
    order = ["exact first error", "flagged too early", "flagged too late", "missed error",
             "correct: nothing flagged", "false alarm", "non-ok reward"]
    counts = [sum(1 for o in outcomes if o == k) for k in order]
    rep.figure(plots.bars(order, {"solutions": counts}, "solutions", "Where the prediction landed"),
               "Erroneous solutions: exact / too early / too late / missed; correct solutions: nothing flagged / false alarm.")
    sf = metrics["step_f1"]
    rep.heading("Step classification (PRMBench-style)")
    rep.table(["F1 correct steps", "F1 wrong steps", "PRMScore", "scored steps", "unscored steps", "labels from"],
              [[sf["f1_pos"], sf["f1_neg"], sf["prm_score"], sf["n_scored"], sf["n_unscored"], sf["labels_from"]]])
    rep.note("A step scored >= the threshold is predicted correct; PRMScore = mean of the two F1s "
             "(Song et al. 2025, arXiv 2501.03124). Without per-step labels, ProcessBench's label gives them for "
             "the steps up to the first error.")
    rep.heading("By generator")
    rep.table(["generator", "n", "error_acc", "correct_acc", "F1"],
              [[k, v["n"], v["error_acc"], v["correct_acc"], v["f1"]] for k, v in main["by_generator"].items()])
    status_section(rep, results, policy)

    def show(title: str, idx: list[int]) -> None:
        rep.heading(f"{title} ({len(idx)})")
        if not idx:
            rep.note("none")
            return
        rows_ = []
        for i in idx[:SHOW]:
            k = preds[i] if preds[i] is not None and preds[i] >= 0 else labels[i]
            k = k if k >= 0 else len(samples[i].steps) - 1  # type: ignore[arg-type]
            sc = step_scores[i]
            rows_.append([samples[i].id, subsets[i], labels[i], preds[i], results[i].status.value,
                          " ".join(fmt(v, 2) for v in sc) if sc is not None else why_not_ok(results[i]),
                          f"step {k}: " + clip(samples[i].steps[k], 600)])  # type: ignore[index]
        rep.table(["id", "subset", "label", "pred", "status", "step scores / reason", "step shown"], rows_,
                  pre_columns=(6,))

    def conf(i: int) -> float:  # how sure the reward was that the labelled wrong step was fine
        s = step_scores[i]
        return -1.0 if s is None or s[labels[i]] is None else s[labels[i]]  # type: ignore[return-value]

    show("Missed errors (the labelled wrong step scored highest first)",
         sorted([i for i, o in enumerate(outcomes) if o == "missed error"], key=conf, reverse=True))
    show("False alarms on correct solutions", [i for i, o in enumerate(outcomes) if o == "false alarm"])
    show("Wrong location", [i for i, o in enumerate(outcomes) if o in ("flagged too early", "flagged too late")])
    show("Non-ok rewards", [i for i, o in enumerate(outcomes) if o == "non-ok reward"])
    return EvalRun("processbench", metrics, headline, rep, per)
