"""The five ``rewardkit eval`` runs: rows -> samples -> a pipeline's results -> metrics -> report.

Each ``run_*`` reads an input file, scores it with any pipeline config (verifiers, ORMs, PRMs,
judges, remote servers alike: they all return `RewardResult`s), and returns an `EvalRun`;
`EvalRun.write` puts ``metrics.json``, ``samples.jsonl`` (one line per scored row) and a
self-contained ``report.html`` in the output folder.

Non-ok rewards are never dropped silently: every run counts them by status in
``metrics["statuses"]`` and says in ``metrics["non_ok_policy"]`` what its metrics did with them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rewardkit.eval import plots
from rewardkit.eval._io import (
    bool_field,
    pick,
    read_rows,
    score_samples,
    status_counts,
    step_scores_for,
    text_field,
    write_json,
    write_jsonl,
)
from rewardkit.eval.audit import audit_metrics, confusion
from rewardkit.eval.bon import STEP_AGGREGATIONS, aggregate_steps, best_of_n_curve
from rewardkit.eval.calibration import calibration_metrics
from rewardkit.eval.diagnostics import feature_correlations
from rewardkit.eval.pairwise import rewardbench_v1, rewardbench_v2, row_credit, subset_accuracy
from rewardkit.eval.processbench import (
    DEFAULT_SWEEP,
    first_wrong_step,
    mean_f1,
    processbench_breakdown,
    processbench_scores,
    threshold_sweep,
)
from rewardkit.eval.report import Report, fmt
from rewardkit.eval.stepf1 import step_f1
from rewardkit.io.records import RecordError
from rewardkit.types import RewardResult, Sample, completion_text

__all__ = ["EvalRun", "run_processbench", "run_pairwise", "run_bon", "run_audit", "run_calibration"]

NonOk = Literal["miss", "exclude"]
_SHOW = 8  # examples per "worst" list
_CLIP = 1200  # characters of a completion shown in a report


@dataclass
class EvalRun:
    """A finished evaluation: its metrics, per-sample rows, headline and report."""

    kind: str
    metrics: dict[str, Any]
    headline: list[tuple[str, Any]]
    report: Report
    samples: list[dict[str, Any]] = field(default_factory=list)

    def write(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "metrics.json", self.metrics)
        write_jsonl(out / "samples.jsonl", self.samples)
        self.report.write(out / "report.html")
        return out


def _score(config: Any, samples: list[Sample], batch_size: int, progress: bool | None, desc: str) -> list[RewardResult]:
    """Build the pipeline, score every sample, release the pipeline's resources."""
    from rewardkit.pipeline import Pipeline

    pipe = Pipeline(config)
    try:
        return score_samples(pipe, samples, batch_size, progress, desc=desc)
    finally:
        pipe.close()


def _config_name(config: Any) -> str:
    return str(config) if isinstance(config, (str, Path)) else "(in-memory config)"


def _clip(text: Any, n: int = _CLIP) -> str:
    s = text if isinstance(text, str) else completion_text(text)
    return s if len(s) <= n else s[: n // 2] + f"\n[... {len(s) - n} characters ...]\n" + s[-n // 2 :]


def _why(r: RewardResult) -> str:
    """The reason a result is not ok, from its info (first error text found)."""
    def find(d: Any) -> str | None:
        if isinstance(d, dict):
            if "error" in d:
                return str(d["error"])
            for v in d.values():
                got = find(v)
                if got:
                    return got
        return None
    return find(r.info) or ""


def _status_section(rep: Report, statuses: dict[str, int], policy: str) -> None:
    rep.heading("Reward statuses")
    rep.table(["status", "count"], sorted(statuses.items()))
    rep.note(policy)


# ---------------------------------------------------------------------------------- ProcessBench
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

    results = _score(config, samples, batch_size, progress, desc="processbench")
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
        "kind": "processbench", "config": _config_name(config), "input": str(input_path),
        "threshold": threshold, **main, "threshold_sweep": sweep,
        "best_threshold": None if best is None else {"threshold": best["threshold"], "f1": best["f1"]},
        "statuses": statuses, "n_rows": len(rows), "n_non_ok": len(rows) - len(ok),
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
                 f"config {_config_name(config)} · input {input_path} · {len(rows)} solutions · threshold {threshold}")
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
    _status_section(rep, statuses, policy)

    def show(title: str, idx: list[int]) -> None:
        rep.heading(f"{title} ({len(idx)})")
        if not idx:
            rep.note("none")
            return
        rows_ = []
        for i in idx[:_SHOW]:
            k = preds[i] if preds[i] is not None and preds[i] >= 0 else labels[i]
            k = k if k >= 0 else len(samples[i].steps) - 1  # type: ignore[arg-type]
            sc = step_scores[i]
            rows_.append([samples[i].id, subsets[i], labels[i], preds[i], results[i].status.value,
                          " ".join(fmt(v, 2) for v in sc) if sc is not None else _why(results[i]),
                          f"step {k}: " + _clip(samples[i].steps[k], 600)])  # type: ignore[index]
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


# -------------------------------------------------------------------------------------- pairwise
def _completions(v: Any, where: str, col: str) -> list[Any]:
    """A cell as a list of completions: a string or messages is one, a list of those several."""
    if isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(m, dict) for m in v)):
        return [v]
    if isinstance(v, list) and v and all(isinstance(x, str) or isinstance(x, list) for x in v):
        return list(v)
    raise RecordError(where, f"field {col!r} must be a completion or a non-empty list of completions", field=col)


def run_pairwise(config: Any, input_path: str | Path, *, chosen_col: str = "chosen", rejected_col: str = "rejected",
                 prompt_col: str = "prompt", subset_col: str = "subset", non_ok: NonOk = "miss",
                 limit: int | None = None, batch_size: int = 64, progress: bool | None = None) -> EvalRun:
    """Preference accuracy with RewardBench v1 and v2 scoring (`rewardkit.eval.pairwise`).

    Rows: ``prompt, chosen, rejected`` (one rejected: RewardBench v1; a list: RewardBench 2's
    best-of-4). Several chosen completions (RewardBench 2's Ties subset) each face all the rejected
    ones and the row's credit is their mean. A row with any non-ok reward has no credit:
    ``non_ok="miss"`` scores it 0, ``"exclude"`` leaves it out."""
    rows = read_rows(input_path, limit)
    samples: list[Sample] = []
    index: list[tuple[list[int], list[int]]] = []
    subsets = []
    for i, (where, rec) in enumerate(rows):
        prompt = text_field(rec, where, [prompt_col], required=False)
        ch = _completions(pick(rec, where, [chosen_col]), where, chosen_col)
        rj = _completions(pick(rec, where, [rejected_col]), where, rejected_col)
        rid = rec.get("id", i)
        ci = list(range(len(samples), len(samples) + len(ch)))
        samples += [Sample(prompt=prompt, completion=c, reference=rec.get("reference"), id=f"{rid}/chosen{k}",
                           group_id=rid) for k, c in enumerate(ch)]
        ri = list(range(len(samples), len(samples) + len(rj)))
        samples += [Sample(prompt=prompt, completion=c, reference=rec.get("reference"), id=f"{rid}/rejected{k}",
                           group_id=rid) for k, c in enumerate(rj)]
        index.append((ci, ri))
        subsets.append(str(rec.get(subset_col, "all")))

    results = _score(config, samples, batch_size, progress, desc="pairwise")
    sc = [r.score for r in results]
    v1: list[float | None] = []
    v2: list[float | None] = []
    margins: list[float | None] = []
    for ci, ri in index:
        creds = [row_credit(sc[c], [sc[r] for r in ri]) for c in ci]
        if any(a is None for a, _ in creds):
            v1.append(None)
            v2.append(None)
            margins.append(None)
            continue
        v1.append(sum(a for a, _ in creds) / len(creds))  # type: ignore[misc]
        v2.append(sum(b for _, b in creds) / len(creds))  # type: ignore[misc]
        margins.append(min(sc[c] for c in ci) - max(sc[r] for r in ri))  # type: ignore[type-var,operator]
    keep = [i for i in range(len(rows)) if non_ok == "miss" or v1[i] is not None]
    c1 = [0.0 if v1[i] is None else v1[i] for i in keep]
    c2 = [0.0 if v2[i] is None else v2[i] for i in keep]
    ks = [subsets[i] for i in keep]
    per1, per2 = subset_accuracy(c1, ks), subset_accuracy(c2, ks)  # type: ignore[arg-type]
    rb1, rb2 = rewardbench_v1(per1), rewardbench_v2(per2)
    n_non_ok = sum(1 for v in v1 if v is None)
    ties = sum(1 for m in margins if m == 0)

    ok_idx = [k for k, r in enumerate(results) if r.is_ok]
    texts = [completion_text(samples[k].completion) for k in ok_idx]
    corr = feature_correlations([sc[k] for k in ok_idx], texts) if len(ok_idx) >= 3 else {}
    lens = [(len(completion_text(samples[ci[0]].completion)), max(len(completion_text(samples[r].completion)) for r in ri))
            for ci, ri in index]
    longer_chosen = sum(1 for a, b in lens if a > b) / len(lens)
    scored_rows = [i for i in range(len(rows)) if margins[i] is not None]
    # among rows the reward decides (no tie) and whose lengths differ: does it pick the longer one?
    decided = [i for i in scored_rows if margins[i] != 0 and lens[i][0] != lens[i][1]]
    longer_wins = (sum(1 for i in decided if (margins[i] > 0) == (lens[i][0] > lens[i][1]))  # type: ignore[operator]
                   / len(decided)) if decided else None
    statuses = status_counts(results)
    policy = ("A row with a non-ok reward (chosen or any rejected) scores 0" if non_ok == "miss"
              else "Rows with a non-ok reward are excluded (their count is in 'n_non_ok_rows')")
    metrics = {
        "kind": "pairwise", "config": _config_name(config), "input": str(input_path),
        "accuracy": (sum(c1) / len(c1)) if c1 else None, "accuracy_v2": (sum(c2) / len(c2)) if c2 else None,  # type: ignore[arg-type]
        "rewardbench_v1": {**rb1, "subsets": per1}, "rewardbench_v2": {**rb2, "subsets": per2},
        "n_rows": len(rows), "n_scored_rows": len(keep), "n_non_ok_rows": n_non_ok, "ties": ties,
        "statuses": statuses, "non_ok_policy": non_ok, "non_ok_policy_text": policy,
        "length": {"chosen_longer_fraction": longer_chosen, "decided_rows": len(decided),
                   "reward_prefers_longer_fraction": longer_wins},
        "feature_correlations": corr,
        "reference": "RewardBench: Lambert et al. 2024, arXiv 2403.13787; RewardBench 2: Malik et al. 2025, arXiv 2506.01937",
    }
    per = [{"id": rows[i][1].get("id", i), "subset": subsets[i], "credit_v1": v1[i], "credit_v2": v2[i],
            "margin": margins[i], "chosen_scores": [sc[c] for c in index[i][0]],
            "rejected_scores": [sc[r] for r in index[i][1]],
            "statuses": [results[k].status.value for k in index[i][0] + index[i][1]]} for i in range(len(rows))]

    rep = Report("Pairwise preference evaluation",
                 f"config {_config_name(config)} · input {input_path} · {len(rows)} rows")
    headline = [("accuracy (v1, ties lose)", metrics["accuracy"]), ("accuracy (v2, ties split)", metrics["accuracy_v2"]),
                ("RewardBench v1 score", rb1["score"]), ("RewardBench 2 score", rb2["score"]),
                ("rows", len(rows)), ("ties", ties), ("non-ok rows", n_non_ok)]
    rep.headline(headline)
    rep.note("v1: chosen must score strictly above the rejected (a tie is a miss); sections are example-count "
             "weighted means of subsets, the score their mean (Lambert et al. 2024, arXiv 2403.13787). v2: chosen "
             "above every rejected, a top tie with k rejected earns 1/(k+1); score = mean over subsets "
             "(Malik et al. 2025). " + policy + ".")
    rep.heading("By subset")
    names = sorted(per1)
    rep.table(["subset", "rows", "accuracy v1", "accuracy v2"], [[k, per1[k]["n"], per1[k]["accuracy"], per2[k]["accuracy"]]
                                                                for k in names])
    rep.figure(plots.bars(names, {"v1": [per1[k]["accuracy"] for k in names], "v2": [per2[k]["accuracy"] for k in names]},
                          "accuracy", "Accuracy by subset"), "RewardBench v1 (ties lose) and v2 (ties split) accuracy.")
    if rb1["sections"]:
        rep.table(["section", "score"], sorted(rb1["sections"].items()), caption="RewardBench v1 sections")
    ms = [m for m in margins if m is not None]
    if ms:
        rep.heading("Margins and length")
        rep.figure(plots.histograms({"chosen - best rejected": ms}, "reward margin", "Reward margin per row"),
                   "Right of 0: the reward prefers the chosen completion.")
        rep.figure(plots.scatter([lens[i][0] - lens[i][1] for i in scored_rows], [margins[i] for i in scored_rows],  # type: ignore[misc]
                                 "chosen length - longest rejected length (chars)", "reward margin",
                                 "Does the margin follow length?"), "A reward that follows length leans along the diagonal.")
        rep.note(f"The chosen completion is the longer one in {fmt(longer_chosen)} of rows; in the {len(decided)} rows "
                 f"the reward decides (no tie, different lengths) it prefers the longer one in {fmt(longer_wins)}.")
    if corr:
        rep.table(["feature", "Spearman rho with reward", "p-value", "mean"],
                  [[k, v["spearman"], v["p_value"], v["mean"]] for k, v in corr.items()],
                  caption="Reward vs surface features of the completion (reward-hacking check)")
    _status_section(rep, statuses, policy)
    worst = sorted(scored_rows, key=lambda i: margins[i])[:_SHOW]  # type: ignore[arg-type,return-value]
    rep.heading("Rows the reward gets most wrong")
    rep.table(["id", "subset", "margin", "chosen", "best rejected"],
              [[per[i]["id"], subsets[i], margins[i], _clip(samples[index[i][0][0]].completion, 500),
                _clip(samples[max(index[i][1], key=lambda r: sc[r])].completion, 500)] for i in worst if margins[i] <= 0],  # type: ignore[operator,arg-type,return-value]
              pre_columns=(3, 4))
    bad = [i for i in range(len(rows)) if v1[i] is None][:_SHOW]
    if bad:
        rep.heading("Rows with non-ok rewards")
        rep.table(["id", "statuses", "reason"],
                  [[per[i]["id"], ", ".join(per[i]["statuses"]),
                    next((_why(results[k]) for k in index[i][0] + index[i][1] if not results[k].is_ok), "")] for i in bad])
    return EvalRun("pairwise", metrics, headline, rep, per)


# ------------------------------------------------------------------------------------ best-of-N
def _candidates(rec: dict[str, Any], where: str) -> list[tuple[str, Any, bool, Any]]:
    """``(name, completion, correct, answer)`` per candidate: a ``candidates`` list, or every field
    holding ``{solution|completion, is_correct|correct}`` (GSM8K's example_model_solutions)."""
    def one(name: str, c: Any, w: str) -> tuple[str, Any, bool, Any]:
        text = text_field(c, w, ["completion", "solution", "response"])
        return name, text, bool_field(c, w, ["correct", "is_correct"]), c.get("answer")

    if "candidates" in rec:
        cands = rec["candidates"]
        if not isinstance(cands, list) or not all(isinstance(c, dict) for c in cands):
            raise RecordError(where, "field 'candidates' must be a list of objects", field="candidates")
        return [one(str(c.get("name", k)), c, f"{where} candidates[{k}]") for k, c in enumerate(cands)]
    out = [one(k, v, f"{where} {k}") for k, v in rec.items()
           if isinstance(v, dict) and ("solution" in v or "completion" in v) and ("is_correct" in v or "correct" in v)]
    if not out:
        raise RecordError(where, "no candidates: give a 'candidates' list of {completion, correct} objects",
                          field="candidates")
    return out


def _vote_key(answer: Any, text: str) -> str | None:
    """The answer a candidate votes for: its ``answer`` field or the math extractor's final answer,
    normalised so that 1,200 / 1200 / 1200.0 / $1200 vote together."""
    from fractions import Fraction

    if answer is None:
        from rewardkit.verifiers.math import MathConfig, extract

        found = extract(text, MathConfig(last_number=True))
        if found is None:
            return None
        answer = found.answer
    s = str(answer).strip().replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    try:
        q = Fraction(s)
    except (ValueError, ZeroDivisionError):
        return s or None
    return str(q.numerator) if q.denominator == 1 else repr(float(q))


def run_bon(config: Any, input_path: str | Path, *, ns: Sequence[int] | None = None, max_subsets: int = 256,
            seed: int = 0, limit: int | None = None, batch_size: int = 256, progress: bool | None = None) -> EvalRun:
    """Best-of-N accuracy by the reward (its score, and each aggregation of its step scores) vs
    majority vote and the oracle, as a curve over N (`rewardkit.eval.bon`)."""
    rows = read_rows(input_path, limit)
    samples: list[Sample] = []
    correct: list[list[bool]] = []
    answers: list[list[str | None]] = []
    names: list[list[str]] = []
    for i, (where, rec) in enumerate(rows):
        prompt = text_field(rec, where, ["prompt", "question", "problem"], required=False)
        ref = rec.get("reference", rec.get("ground_truth"))
        qid = rec.get("id", i)
        cands = _candidates(rec, where)
        for name, text, _, _ in cands:
            samples.append(Sample(prompt=prompt, completion=text, reference=ref, id=f"{qid}/{name}", group_id=qid))
        correct.append([c for _, _, c, _ in cands])
        answers.append([_vote_key(a, completion_text(t)) for _, t, _, a in cands])
        names.append([n for n, _, _, _ in cands])

    results = _score(config, samples, batch_size, progress, desc="best-of-n")
    per_q: list[list[RewardResult]] = []
    offsets: list[int] = []
    k = 0
    for lab in correct:
        offsets.append(k)
        per_q.append(results[k : k + len(lab)])
        k += len(lab)
    scores: dict[str, list[list[float | None]]] = {"score": [[r.score for r in rs] for rs in per_q]}
    if any(r.is_ok and r.steps for r in results):
        for how in STEP_AGGREGATIONS:
            scores[f"steps_{how}"] = [[aggregate_steps([s.score for s in r.steps] if r.is_ok and r.steps else None, how)
                                       for r in rs] for rs in per_q]
    curve = best_of_n_curve(scores, correct, answers, ns=ns, max_subsets=max_subsets, seed=seed)
    last = curve["curve"][-1]
    flat_ok = [(r.score, c) for rs, cs in zip(per_q, correct, strict=True) for r, c in zip(rs, cs, strict=True) if r.is_ok]
    auroc = None
    if flat_ok and len({c for _, c in flat_ok}) == 2:
        from sklearn.metrics import roc_auc_score

        auroc = float(roc_auc_score([c for _, c in flat_ok], [s for s, _ in flat_ok]))
    statuses = status_counts(results)
    ok_idx = [j for j, r in enumerate(results) if r.is_ok]
    corr = feature_correlations([results[j].score for j in ok_idx],  # type: ignore[misc]
                                [samples[j].completion for j in ok_idx]) if len(ok_idx) >= 3 else {}
    policy = ("A candidate with a non-ok reward is never picked while an ok one is in the subset; a subset "
              "with no ok candidate is a miss (counted in no_score/<aggregation>)")
    metrics = {
        "kind": "bon", "config": _config_name(config), "input": str(input_path), **curve,
        "at_max_n": last, "pass_at_1": curve["curve"][0]["oracle"] if curve["curve"][0]["n"] == 1 else None,
        "candidate_auroc": auroc, "n_questions": len(rows), "n_candidates": len(samples),
        "statuses": statuses, "non_ok_policy": "never_selected", "non_ok_policy_text": policy,
        "feature_correlations": corr, "aggregations": list(scores),
    }
    per = [{"id": samples[j].id, "status": results[j].status.value, "score": results[j].score,
            "steps": [s.score for s in results[j].steps] if results[j].steps else None} for j in range(len(samples))]
    k = 0
    for qi, lab in enumerate(correct):
        for ci, c in enumerate(lab):
            per[k].update({"correct": c, "answer": answers[qi][ci]})
            k += 1

    rep = Report("Best-of-N evaluation", f"config {_config_name(config)} · input {input_path} · "
                 f"{len(rows)} questions · {len(samples)} candidates")
    n_max = last["n"]
    headline = [(f"best-of-{n_max} by reward", last["reward/score"]), (f"majority@{n_max}", last["majority"]),
                (f"oracle@{n_max}", last["oracle"]), ("pass@1 (random pick)", metrics["pass_at_1"]),
                ("candidate AUROC", auroc), ("non-ok rewards", len(samples) - statuses.get("ok", 0))]
    for name in scores:
        if name != "score":
            headline.append((f"best-of-{n_max} by {name}", last[f"reward/{name}"]))
    rep.headline(headline)
    rep.note("Accuracy of the selected candidate, averaged over " + ("all" if curve["exact"] else
             f"{max_subsets} random") + " size-N subsets of each question's candidates; ties split. " + policy + ".")
    xs = [r["n"] for r in curve["curve"]]
    series = {f"reward ({name})": [r[f"reward/{name}"] for r in curve["curve"]] for name in scores}
    series["majority vote"] = [r["majority"] for r in curve["curve"]]
    series["oracle"] = [r["oracle"] for r in curve["curve"]]
    rep.heading("Accuracy over N")
    rep.figure(plots.lines(xs, series, "N (candidates per question)", "accuracy", "Best-of-N accuracy", xticks=xs),
               "Selection by the reward vs majority vote vs the oracle (any correct).")
    header = ["N", "questions", *[f"reward ({n})" for n in scores], "majority", "oracle"]
    rep.table(header, [[r["n"], r["n_questions"], *[r[f"reward/{n}"] for n in scores], r["majority"], r["oracle"]]
                       for r in curve["curve"]])
    if corr:
        rep.table(["feature", "Spearman rho with reward", "p-value", "mean"],
                  [[kk, v["spearman"], v["p_value"], v["mean"]] for kk, v in corr.items()],
                  caption="Reward vs surface features (reward-hacking check)")
    _status_section(rep, statuses, policy)
    # worst: the reward's top pick is wrong although a correct candidate exists, by the largest margin
    worst = []
    for qi, rs in enumerate(per_q):
        ok = [(r.score, c, j) for j, (r, c) in enumerate(zip(rs, correct[qi], strict=True)) if r.is_ok]
        good = [s for s, c, _ in ok if c]
        bad = [(s, j) for s, c, j in ok if not c]
        if good and bad and max(bad)[0] > max(good):
            worst.append((max(bad)[0] - max(good), qi, max(bad)[1]))
    worst.sort(reverse=True)
    rep.heading(f"Questions where the reward prefers a wrong candidate over every correct one ({len(worst)})")
    rep.table(["question", "margin", "picked (wrong)", "answer"],
              [[rows[qi][1].get("id", qi), m, _clip(samples[offsets[qi] + j].completion, 700),
                answers[qi][j]] for m, qi, j in worst[:_SHOW]], pre_columns=(2,))
    return EvalRun("bon", metrics, headline, rep, per)


# ---------------------------------------------------------------------------------------- audit
def run_audit(config: Any, input_path: str | Path, *, threshold: float = 0.5, group_col: str | None = None,
              limit: int | None = None, batch_size: int = 256, progress: bool | None = None) -> EvalRun:
    """Confusion matrix of a verifier's verdicts vs labels (`rewardkit.eval.audit`); rows are
    ``completion|pred, reference|gold, expected``. False positives are listed first."""
    rows = read_rows(input_path, limit)
    samples, expected, groups, notes = [], [], [], []
    for i, (where, rec) in enumerate(rows):
        completion = text_field(rec, where, ["completion", "pred"])
        ref = rec["reference"] if "reference" in rec else pick(rec, where, ["gold"], required=False)
        if "reference" not in rec and "gold" not in rec:
            raise RecordError(where, "missing field 'reference' or 'gold'", field="reference")
        samples.append(Sample(prompt=text_field(rec, where, ["prompt"], required=False), completion=completion,
                              reference=ref, id=rec.get("id", i)))
        expected.append(bool_field(rec, where, ["expected"]))
        g = group_col or next((c for c in ("suite", "subset", "source_name") if c in rec), None)
        groups.append(str(rec.get(g, "all")) if g else "all")
        notes.append("label dubious" if rec.get("label_dubious") else "")

    results = _score(config, samples, batch_size, progress, desc="audit")
    scores = [r.score for r in results]
    sts = [r.status.value for r in results]
    m = audit_metrics(expected, scores, sts, threshold)
    by_group = {}
    for gname in sorted(set(groups)):
        idx = [i for i, g in enumerate(groups) if g == gname]
        by_group[gname] = {**confusion([expected[i] for i in idx], [scores[i] is not None and scores[i] >= threshold  # type: ignore[operator]
                                                                    for i in idx]),
                           "non_ok": sum(1 for i in idx if sts[i] != "ok")}
    policy = ("A non-ok verdict counts as a rejection in the confusion matrix (what it costs the policy) and is "
              "also counted by status; 'ok_only' repeats the matrix without those samples")
    metrics = {"kind": "audit", "config": _config_name(config), "input": str(input_path), **m,
               "by_group": by_group, "non_ok_policy": "rejected", "non_ok_policy_text": policy}

    def extracted(r: RewardResult) -> str:
        def find(d: Any) -> str | None:
            if isinstance(d, dict):
                for key in ("extracted", "pred", "answer"):
                    if key in d and not isinstance(d[key], dict):
                        return str(d[key])
                for v in d.values():
                    got = find(v)
                    if got is not None:
                        return got
            return None
        return find(r.info) or ""

    per = [{"id": s.id, "group": groups[i], "expected": expected[i], "status": sts[i], "score": scores[i],
            "accepted": scores[i] is not None and scores[i] >= threshold, "extracted": extracted(results[i])}  # type: ignore[operator]
           for i, s in enumerate(samples)]
    rep = Report("Verifier audit", f"config {_config_name(config)} · input {input_path} · {len(rows)} labelled rows")
    headline = [("accuracy", m["accuracy"]), ("false positives", m["fp"]), ("false negatives", m["fn"]),
                ("false-positive rate", m["false_positive_rate"]), ("false-negative rate", m["false_negative_rate"]),
                ("unparseable rate", m["unparseable_rate"]), ("non-ok verdicts", m["non_ok"]), ("rows", m["n"])]
    rep.headline(headline)
    rep.note("Positive = the verifier accepts (ok and score >= " + fmt(threshold, 2) + "). " + policy + ".")
    rep.figure(plots.confusion_matrix(m["tp"], m["fp"], m["fn"], m["tn"], "Verdicts vs labels"),
               "Rows: the label; columns: the verifier's verdict.")
    rep.heading("By group")
    gn = list(by_group)
    rep.table(["group", "rows", "accuracy", "FP", "FN", "non-ok"],
              [[g, v["n"], v["accuracy"], v["fp"], v["fn"], v["non_ok"]] for g, v in by_group.items()])
    if len(gn) > 1:
        rep.figure(plots.bars(gn, {"false positives": [by_group[g]["fp"] for g in gn],
                                   "false negatives": [by_group[g]["fn"] for g in gn],
                                   "non-ok": [by_group[g]["non_ok"] for g in gn]}, "rows", "Errors by group"),
                   "Where the verifier disagrees with the labels.")
    _status_section(rep, m["statuses"], policy)

    def listing(title: str, idx: list[int]) -> None:
        rep.heading(f"{title} ({len(idx)})")
        if not idx:
            rep.note("none")
            return
        rep.table(["id", "group", "status", "reference", "completion", "extracted / reason", "note"],
                  [[samples[i].id, groups[i], sts[i], _clip(str(samples[i].reference), 300),
                    _clip(samples[i].completion, 500),
                    extracted(results[i]) if results[i].is_ok else _why(results[i]) or extracted(results[i]),
                    notes[i]] for i in idx[:50]], pre_columns=(3, 4))

    acc = [p["accepted"] for p in per]
    listing("False positives: accepted although the label says different",
            [i for i in range(len(rows)) if acc[i] and not expected[i]])
    listing("False negatives: rejected although the label says equal (ok verdicts)",
            [i for i in range(len(rows)) if not acc[i] and expected[i] and sts[i] == "ok"])
    listing("Non-ok verdicts", [i for i in range(len(rows)) if sts[i] != "ok"])
    return EvalRun("audit", metrics, headline, rep, per)


# ---------------------------------------------------------------------------------- calibration
def run_calibration(config: Any, input_path: str | Path, *, label_col: str | None = None, n_bins: int = 10,
                    prob: Literal["identity", "sigmoid"] = "identity", limit: int | None = None,
                    batch_size: int = 256, progress: bool | None = None) -> EvalRun:
    """ECE, Brier, AUROC and the reliability diagram of rewards vs outcome labels
    (`rewardkit.eval.calibration`). Non-ok rewards have no probability: they are excluded from
    every metric and counted in ``statuses`` / ``n_excluded``."""
    rows = read_rows(input_path, limit)
    cols = [label_col] if label_col else ["label", "expected", "correct", "is_correct", "outcome"]
    samples, labels = [], []
    for i, (where, rec) in enumerate(rows):
        samples.append(Sample(prompt=text_field(rec, where, ["prompt", "problem", "question"], required=False),
                              completion=text_field(rec, where, ["completion", "pred", "response"]),
                              reference=rec.get("reference", rec.get("gold")), id=rec.get("id", i),
                              steps=rec.get("steps") if isinstance(rec.get("steps"), list) else None))
        labels.append(bool_field(rec, where, cols))
    results = _score(config, samples, batch_size, progress, desc="calibration")
    ok = [i for i, r in enumerate(results) if r.is_ok]
    raw = [results[i].score for i in ok]
    if prob == "sigmoid":
        probs = [1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, s)))) for s in raw]  # type: ignore[arg-type]
    else:
        bad = [s for s in raw if not 0.0 <= s <= 1.0]  # type: ignore[operator]
        if bad:
            raise ValueError(f"{len(bad)} rewards lie outside [0, 1] (e.g. {bad[0]}); they are not probabilities: "
                             "use --prob sigmoid for logits")
        probs = raw  # type: ignore[assignment]
    ys = [labels[i] for i in ok]
    cm = calibration_metrics(probs, ys, n_bins)  # type: ignore[arg-type]
    statuses = status_counts(results)
    policy = "Non-ok rewards are excluded from every metric (no probability); their count is n_excluded"
    metrics = {"kind": "calibration", "config": _config_name(config), "input": str(input_path), **cm,
               "probability": "sigmoid(score)" if prob == "sigmoid" else "score", "n_rows": len(rows),
               "n_excluded": len(rows) - len(ok), "statuses": statuses, "non_ok_policy": "exclude",
               "non_ok_policy_text": policy}
    pmap = dict(zip(ok, probs, strict=True))
    per = [{"id": s.id, "label": labels[i], "status": results[i].status.value, "score": results[i].score,
            "prob": pmap.get(i)} for i, s in enumerate(samples)]
    rep = Report("Reward calibration", f"config {_config_name(config)} · input {input_path} · {len(rows)} rows")
    headline = [("ECE", cm["ece"]), ("Brier", cm["brier"]), ("AUROC", cm["auroc"]), ("base rate", cm["base_rate"]),
                ("mean probability", cm["mean_prob"]), ("scored", cm["n"]), ("excluded (non-ok)", len(rows) - len(ok))]
    rep.headline(headline)
    rep.note(f"Probability = {metrics['probability']}; {n_bins} equal-width bins. " + policy + "."
             + (f" AUROC undefined: {cm['auroc_undefined']}." if cm["auroc_undefined"] else ""))
    rep.figure(plots.reliability(cm["bins"], "Reliability diagram"), "Points: bins (count annotated).")
    rep.figure(plots.histograms({"positive outcome": [p for p, y in zip(probs, ys, strict=True) if y],
                                 "negative outcome": [p for p, y in zip(probs, ys, strict=True) if not y]},
                                "reward as probability", "Reward by outcome", bins=n_bins),
               "Well-separated histograms mean a discriminative reward.")
    rep.table(["bin", "count", "mean probability", "fraction positive"],
              [[f"{'[' if b['lo'] == 0 else '('}{b['lo']:.2f}, {b['hi']:.2f}]", b["count"], b["mean_prob"], b["frac_pos"]] for b in cm["bins"]])
    _status_section(rep, statuses, policy)
    worst = sorted(ok, key=lambda i: -abs(pmap[i] - labels[i]))[:_SHOW]
    rep.heading("Most confident mistakes")
    rep.table(["id", "label", "probability", "completion"],
              [[samples[i].id, labels[i], pmap[i], _clip(samples[i].completion, 500)] for i in worst
               if abs(pmap[i] - labels[i]) >= 0.5], pre_columns=(3,))
    return EvalRun("calibration", metrics, headline, rep, per)
