"""``rewardkit eval bon``: best-of-N by the reward vs majority vote vs the oracle, over N."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardkit.eval import plots
from rewardkit.eval._io import bool_field, fill_counts, read_rows, status_counts, text_field
from rewardkit.eval.bon import STEP_AGGREGATIONS, aggregate_steps, best_of_n_curve
from rewardkit.eval.diagnostics import feature_correlations
from rewardkit.eval.report import Report
from rewardkit.eval.runs._common import SHOW, EvalRun, clip, config_name, score_all, status_section
from rewardkit.io.records import RecordError
from rewardkit.types import RewardResult, Sample, completion_text


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

    results = score_all(config, samples, batch_size, progress, desc="best-of-n")
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
        "kind": "bon", "config": config_name(config), "input": str(input_path), **curve,
        "at_max_n": last, "pass_at_1": curve["curve"][0]["oracle"] if curve["curve"][0]["n"] == 1 else None,
        "candidate_auroc": auroc, "n_questions": len(rows), "n_candidates": len(samples),
        "statuses": statuses, "statuses_before_fill": fill_counts(results), "non_ok_policy": "never_selected",
        "non_ok_policy_text": policy,
        "feature_correlations": corr, "aggregations": list(scores),
    }
    per = [{"id": samples[j].id, "status": results[j].status.value, "score": results[j].score,
            "steps": [s.score for s in results[j].steps] if results[j].steps else None} for j in range(len(samples))]
    k = 0
    for qi, lab in enumerate(correct):
        for ci, c in enumerate(lab):
            per[k].update({"correct": c, "answer": answers[qi][ci]})
            k += 1

    rep = Report("Best-of-N evaluation", f"config {config_name(config)} · input {input_path} · "
                 f"{len(rows)} questions · {len(samples)} candidates")
    n_max = last["n"]
    headline = [(f"best-of-{n_max} by reward", last["reward/score"]), (f"majority@{n_max}", last["majority"]),
                (f"reward-weighted majority@{n_max}", last["weighted_majority/score"]),
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
    series["reward-weighted majority (score)"] = [r["weighted_majority/score"] for r in curve["curve"]]
    series["oracle"] = [r["oracle"] for r in curve["curve"]]
    rep.heading("Accuracy over N")
    rep.figure(plots.lines(xs, series, "N (candidates per question)", "accuracy", "Best-of-N accuracy", xticks=xs),
               "Selection by the reward vs majority vote vs reward-weighted voting vs the oracle (any correct).")
    header = ["N", "questions", *[f"reward ({n})" for n in scores], "majority",
              *[f"weighted majority ({n})" for n in scores], "oracle"]
    rep.table(header, [[r["n"], r["n_questions"], *[r[f"reward/{n}"] for n in scores], r["majority"],
                        *[r[f"weighted_majority/{n}"] for n in scores], r["oracle"]] for r in curve["curve"]])
    if curve["weighted_majority_skipped"]:
        rep.note("Reward-weighted voting is left out for aggregations with negative rewards: "
                 + ", ".join(curve["weighted_majority_skipped"]) + ".")
    if corr:
        rep.table(["feature", "Spearman rho with reward", "p-value", "mean"],
                  [[kk, v["spearman"], v["p_value"], v["mean"]] for kk, v in corr.items()],
                  caption="Reward vs surface features (reward-hacking check)")
    status_section(rep, results, policy)
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
              [[rows[qi][1].get("id", qi), m, clip(samples[offsets[qi] + j].completion, 700),
                answers[qi][j]] for m, qi, j in worst[:SHOW]], pre_columns=(2,))
    return EvalRun("bon", metrics, headline, rep, per)
