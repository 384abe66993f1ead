"""``rewardkit eval audit``: a verifier against labelled pairs, false positives first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardkit.eval import plots
from rewardkit.eval._io import bool_field, fill_counts, pick, read_rows, status_before_fill, text_field
from rewardkit.eval.audit import audit_metrics, confusion
from rewardkit.eval.report import Report, fmt
from rewardkit.eval.runs._common import EvalRun, clip, config_name, score_all, status_section, why_not_ok
from rewardkit.io.records import RecordError
from rewardkit.types import RewardResult, Sample


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

    results = score_all(config, samples, batch_size, progress, desc="audit")
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
    metrics = {"kind": "audit", "config": config_name(config), "input": str(input_path), **m,
               "by_group": by_group, "non_ok_policy": "rejected", "non_ok_policy_text": policy,
               "statuses_before_fill": fill_counts(results),
               "unparseable_rate_before_fill": sum(status_before_fill(r) == "unparseable" for r in results) / len(results)}

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
    rep = Report("Verifier audit", f"config {config_name(config)} · input {input_path} · {len(rows)} labelled rows")
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
    status_section(rep, results, policy)

    def listing(title: str, idx: list[int]) -> None:
        rep.heading(f"{title} ({len(idx)})")
        if not idx:
            rep.note("none")
            return
        rep.table(["id", "group", "status", "reference", "completion", "extracted / reason", "note"],
                  [[samples[i].id, groups[i], sts[i], clip(str(samples[i].reference), 300),
                    clip(samples[i].completion, 500),
                    extracted(results[i]) if results[i].is_ok else why_not_ok(results[i]) or extracted(results[i]),
                    notes[i]] for i in idx[:50]], pre_columns=(3, 4))

    acc = [p["accepted"] for p in per]
    listing("False positives: accepted although the label says different",
            [i for i in range(len(rows)) if acc[i] and not expected[i]])
    listing("False negatives: rejected although the label says equal (ok verdicts)",
            [i for i in range(len(rows)) if not acc[i] and expected[i] and sts[i] == "ok"])
    listing("Non-ok verdicts", [i for i in range(len(rows)) if sts[i] != "ok"])
    return EvalRun("audit", metrics, headline, rep, per)
