"""``rewardkit eval calibration``: ECE, Brier score, AUROC and the reliability diagram."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from rewardkit.eval import plots
from rewardkit.eval._io import bool_field, fill_counts, read_rows, status_counts, text_field
from rewardkit.eval.calibration import calibration_metrics
from rewardkit.eval.report import Report
from rewardkit.eval.runs._common import SHOW, EvalRun, clip, config_name, score_all, status_section
from rewardkit.types import Sample


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
    results = score_all(config, samples, batch_size, progress, desc="calibration")
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
    metrics = {"kind": "calibration", "config": config_name(config), "input": str(input_path), **cm,
               "probability": "sigmoid(score)" if prob == "sigmoid" else "score", "n_rows": len(rows),
               "n_excluded": len(rows) - len(ok), "statuses": statuses,
               "statuses_before_fill": fill_counts(results), "non_ok_policy": "exclude",
               "non_ok_policy_text": policy}
    pmap = dict(zip(ok, probs, strict=True))
    per = [{"id": s.id, "label": labels[i], "status": results[i].status.value, "score": results[i].score,
            "prob": pmap.get(i)} for i, s in enumerate(samples)]
    rep = Report("Reward calibration", f"config {config_name(config)} · input {input_path} · {len(rows)} rows")
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
    status_section(rep, results, policy)
    worst = sorted(ok, key=lambda i: -abs(pmap[i] - labels[i]))[:SHOW]
    rep.heading("Most confident mistakes")
    rep.table(["id", "label", "probability", "completion"],
              [[samples[i].id, labels[i], pmap[i], clip(samples[i].completion, 500)] for i in worst
               if abs(pmap[i] - labels[i]) >= 0.5], pre_columns=(3,))
    return EvalRun("calibration", metrics, headline, rep, per)
