"""``rewardkit eval pairwise``: preference accuracy with RewardBench v1 and v2 scoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardkit.eval import plots
from rewardkit.eval._io import fill_counts, pick, read_rows, status_counts, text_field
from rewardkit.eval.diagnostics import feature_correlations
from rewardkit.eval.pairwise import rewardbench_v1, rewardbench_v2, row_credit, subset_accuracy
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
from rewardkit.io.records import RecordError
from rewardkit.types import Sample, completion_text


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

    results = score_all(config, samples, batch_size, progress, desc="pairwise")
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
        "kind": "pairwise", "config": config_name(config), "input": str(input_path),
        "accuracy": (sum(c1) / len(c1)) if c1 else None, "accuracy_v2": (sum(c2) / len(c2)) if c2 else None,  # type: ignore[arg-type]
        "rewardbench_v1": {**rb1, "subsets": per1}, "rewardbench_v2": {**rb2, "subsets": per2},
        "n_rows": len(rows), "n_scored_rows": len(keep), "n_non_ok_rows": n_non_ok, "ties": ties,
        "statuses": statuses, "statuses_before_fill": fill_counts(results), "non_ok_policy": non_ok,
        "non_ok_policy_text": policy,
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
                 f"config {config_name(config)} · input {input_path} · {len(rows)} rows")
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
    status_section(rep, results, policy)
    worst = sorted(scored_rows, key=lambda i: margins[i])[:SHOW]  # type: ignore[arg-type,return-value]
    rep.heading("Rows the reward gets most wrong")
    rep.table(["id", "subset", "margin", "chosen", "best rejected"],
              [[per[i]["id"], subsets[i], margins[i], clip(samples[index[i][0][0]].completion, 500),
                clip(samples[max(index[i][1], key=lambda r: sc[r])].completion, 500)] for i in worst if margins[i] <= 0],  # type: ignore[operator,arg-type,return-value]
              pre_columns=(3, 4))
    bad = [i for i in range(len(rows)) if v1[i] is None][:SHOW]
    if bad:
        rep.heading("Rows with non-ok rewards")
        rep.table(["id", "statuses", "reason"],
                  [[per[i]["id"], ", ".join(per[i]["statuses"]),
                    next((why_not_ok(results[k]) for k in index[i][0] + index[i][1] if not results[k].is_ok), "")] for i in bad])
    return EvalRun("pairwise", metrics, headline, rep, per)
