"""Length shaping (LASER / LASER-D, DAPO overlong, cosine), repetition and language consistency."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardkit.config import ConfigError
from rewardkit.pipeline import Pipeline
from rewardkit.registry import build_source
from rewardkit.shaping.length import (
    cosine_length_reward,
    dapo_overlong_penalty,
    laser_d_targets,
    laser_difficulty,
    laser_reward,
    measure_lengths,
)
from rewardkit.types import Sample, Status


# -- pure functions: REWARD_METHODS §8 / §9.9 vectors ----------------------------------------------
def test_laser_vectors():
    # L_T=4096, alpha=0.5: correct/3000 -> 1.5; correct/5000 -> 1.0; wrong/2000 -> -0.5; format failure -> -1
    got = laser_reward([True, True, False, True], [3000, 5000, 2000, 100], 4096, formatted=[1, 1, 1, 0])
    assert got.tolist() == [1.5, 1.0, -0.5, -1.0]
    assert laser_reward(True, 4096, 4096) == 1.5  # L <= L_T is inclusive
    assert laser_reward([True, True], [3000, 5000], 4096, mode="penalty").tolist() == [1.0, 0.5]
    assert laser_reward([True, True, False], [3000, 5000, 5000], 4096, mode="hybrid").tolist() == [1.5, 0.5, -0.5]
    assert laser_reward([True, True], [3000, 5000], [2048, 8192]).tolist() == [1.0, 1.5]  # per-sample targets
    # LASER-DE: a long, formatted, wrong, non-degenerate answer explores (+alpha); short or degenerate does not
    got = laser_reward([False, False, False, False], [5000, 2000, 5000, 5000], 4096,
                       formatted=[1, 1, 1, 0], explore=[True, True, False, True])
    assert got.tolist() == [0.0, -0.5, -0.5, -1.0]


def test_laser_d_buckets_and_targets():
    assert laser_difficulty(6, 8) == "easy"
    assert [laser_difficulty(k, 3) for k in range(4)] == ["hard", "medium", "easy", "easy"]
    with pytest.raises(ValueError):
        laser_difficulty(0, 0)
    cands = range(4096, 16385, 1024)
    mon = {"easy": [3000, 5000, 9000, 12000, 15000], "medium": [5000, 6000, 9000, 16000], "hard": [4000, 20000]}
    # n=8: easy needs coverage >= 0.2, medium >= 0.5, hard = 1.0 (falls back to the maximum)
    assert laser_d_targets(mon, 8, cands) == {"easy": 4096, "medium": 6144, "hard": 16384}
    assert laser_d_targets({}, 8, cands) == {"easy": 16384, "medium": 16384, "hard": 16384}


def test_dapo_vectors():
    assert dapo_overlong_penalty([16384, 18432, 20480, 30000]).tolist() == [0.0, -0.5, -1.0, -1.0]


def naive_cosine(correct, L, T, cs, cl, ws, wl, exceed):
    if exceed is not None and L > T:
        return exceed
    hi, lo = (cs, cl) if correct else (ws, wl)
    t = min(L, T)
    return lo + 0.5 * (hi - lo) * (1 + math.cos(t * math.pi / T))


def test_cosine_worked_numbers_and_naive_loop():
    assert cosine_length_reward([1, 1, 1, 0, 0], [0, 500, 1000, 0, 1000], 1000).tolist() == \
        pytest.approx([1.0, 0.75, 0.5, -1.0, -0.5])
    rng = np.random.default_rng(0)
    c, L = rng.integers(0, 2, 200).astype(bool), rng.integers(0, 1500, 200)
    fast = cosine_length_reward(c, L, 1000, exceed=-2.0)
    slow = [naive_cosine(ci, li, 1000, 1.0, 0.5, -1.0, -0.5, -2.0) for ci, li in zip(c, L, strict=True)]
    assert fast == pytest.approx(slow)
    # correct beats wrong at every length; shorter correct beats longer correct
    grid = np.arange(0, 1001, 50)
    assert np.all(cosine_length_reward(True, grid, 1000) > cosine_length_reward(False, grid, 1000))
    assert np.all(np.diff(cosine_length_reward(True, grid, 1000)) <= 0)


def test_measure_lengths_chars_metadata_and_tokenizer(tmp_path):
    samples = [Sample("q", "abc", metadata={"num_tokens": 7}), Sample("q", "hello world")]
    assert measure_lengths(samples, "chars").tolist() == [3, 11]
    m = measure_lengths(samples, "tokens")
    assert m[0] == 7 and np.isnan(m[1])
    pytest.importorskip("transformers")
    from tests._tokenizers import char_tokenizer

    tok = char_tokenizer()
    tok.save_pretrained(tmp_path / "tok")
    assert measure_lengths(samples, "tokens", tokenizer=str(tmp_path / "tok")).tolist() == [3, 11]
    assert measure_lengths(samples, "tokens", tokenizer=tok).tolist() == [3, 11]


# -- transforms in a pipeline --------------------------------------------------------------------
def laser_pipeline(**laser):
    return Pipeline({
        "rewards": [{"type": "numeric", "name": "correct", "fill": {"unparseable": 0.0}},
                    {"type": "single_answer", "name": "format", "weight": 0.0}],
        "gate": {"component": "format", "min": 1.0, "fail_score": -1.0},
        "shaping": [{"type": "laser", "correct": "correct", "format": "format", "unit": "chars", **laser}],
    })


def test_laser_transform_scores_laser_rewards():
    short, long = "The answer is 4.", "Let me think for a long while about this. " * 3 + "The answer is 4."
    samples = [Sample("q", short, reference="4"), Sample("q", long, reference="4"),
               Sample("q", "The answer is 5.", reference="4"), Sample("q", "no idea", reference="4")]
    res = laser_pipeline(target=40).score(samples)
    assert [r.score for r in res] == [1.5, 1.0, -0.5, -1.0]
    assert res[0].info["length"] == len(short) and res[0].info["length_term"] == 0.5
    bonus_only = laser_pipeline(target=40, replace=False).score(samples)
    assert [r.score for r in bonus_only] == [1.5, 1.0, 0.0, -1.0]  # pipeline total + length term


def test_laser_d_uses_the_groups_accuracy():
    right, wrong = "The answer is 4.", "The answer is 5."
    # group e: 3/3 correct (easy, target 10); group h: 1/3 correct (medium, target 100)
    samples = [Sample("q", right, reference="4", group_id="e") for _ in range(3)] + \
              [Sample("q", right, reference="4", group_id="h")] + \
              [Sample("q", wrong, reference="4", group_id="h") for _ in range(2)]
    res = laser_pipeline(targets={"easy": 10, "medium": 100, "hard": 1000}).score(samples)
    assert [r.info["difficulty"] for r in res] == ["easy"] * 3 + ["medium"] * 3
    assert [r.score for r in res] == [1.0, 1.0, 1.0, 1.5, -0.5, -0.5]


def test_laser_de_explores_only_non_degenerate_long_failures():
    long_wrong = " ".join(f"step {i} checks case {i * 7}." for i in range(12)) + " The answer is 5."
    loop = "I will check again. " * 12 + "The answer is 5."
    res = laser_pipeline(target=40, explore=True).score([Sample("q", long_wrong, reference="4"),
                                                         Sample("q", loop, reference="4")])
    assert [r.score for r in res] == [0.0, -0.5]


def test_laser_missing_components_never_pay_a_bonus():
    from rewardkit.shaping.transforms import Laser
    from rewardkit.types import RewardResult

    t = Laser(correct="correct", target=100, unit="chars")
    res = t([Sample("q", "x")], [RewardResult(0.0, Status.OK, {"correct": None})])
    assert res[0].score == -0.5  # unknown correctness = not correct
    bad = t([Sample("q", "x")], [RewardResult(None, Status.UNPARSEABLE)])
    assert bad[0].status is Status.UNPARSEABLE  # non-ok results pass through
    from rewardkit.shaping.transforms import LaserBonus

    gated = LaserBonus(gate="correct", target=100, unit="chars")([Sample("q", "x")],
                                                                   [RewardResult(-1.0, Status.OK, {"correct": None})])
    assert gated[0].score == -1.0 and gated[0].info["length_bonus"] == 0.0


def test_length_transforms_config_errors_and_missing_lengths():
    with pytest.raises(ConfigError, match="either 'target'"):
        laser_pipeline()
    with pytest.raises(ConfigError, match="targets needs"):
        laser_pipeline(targets={"easy": 1})
    p = Pipeline({"rewards": [{"type": "numeric", "name": "correct"}],
                  "shaping": [{"type": "laser", "correct": "correct", "target": 10}]})  # tokens from metadata
    r = p.score([Sample("q", "The answer is 4.", reference="4")])[0]
    assert r.status is Status.ERROR and "num_tokens" in r.info["error"]
    r = p.score([Sample("q", "The answer is 4.", reference="4", metadata={"num_tokens": 5})])[0]
    assert r.score == 1.5


def test_cosine_and_dapo_transforms_with_chars():
    p = Pipeline({"rewards": [{"type": "numeric", "name": "correct"}],
                  "shaping": [{"type": "cosine_length", "correct": "correct", "max_len": 32, "unit": "chars"}]})
    a, b = "The answer is 4.", "Thinking... " * 2 + "The answer is 4."
    res = p.score([Sample("q", a, reference="4"), Sample("q", b, reference="4"), Sample("q", a, reference="5")])
    assert res[0].score == pytest.approx(cosine_length_reward(True, len(a), 32))
    assert res[0].score > res[1].score > 0 > res[2].score
    d = Pipeline({"rewards": [{"type": "numeric"}],
                  "shaping": [{"type": "dapo_overlong", "max_len": 20, "cache_len": 10, "unit": "chars"}]})
    assert d.score([Sample("q", "The answer is 4.", reference="4")])[0].score == pytest.approx(1 - 0.6)


# -- repetition and language consistency -----------------------------------------------------------
def test_repetition():
    from rewardkit.verifiers.repetition import repetition_rate

    assert repetition_rate("a b c d e", 3) == 0.0
    assert repetition_rate("a b a b a b", 2) == pytest.approx(1 - 2 / 5)
    assert repetition_rate("ab", 3) == 0.0
    assert repetition_rate("abab", 2, unit="chars") == pytest.approx(1 - 2 / 3)
    loop = "I will check again. " * 20
    src = build_source("repetition")
    r = src.score([Sample("q", loop), Sample("q", "A short, varied and honest answer.")])
    assert r[0].score < 0.2 and r[1].score == 1.0
    pen = build_source("repetition", output="penalty", max_penalty=0.5).score([Sample("q", loop)])[0]
    assert pen.score == pytest.approx(-0.5 * r[0].components["repetition_rate"])
    with pytest.raises(ConfigError, match="n must be"):
        Pipeline({"rewards": [{"type": "repetition", "n": 0}]})


def test_language_consistency():
    pytest.importorskip("langdetect")
    src = build_source("language_consistency")
    q_en = "Explain why the sky is blue in a few sentences, please."
    mixed = ("The sky looks blue because of Rayleigh scattering of sunlight by the air. "
             "Das blaue Licht wird viel stärker gestreut als das rote Licht in der Atmosphäre.")
    r = src.score([Sample(q_en, mixed)])[0]
    assert r.status is Status.OK and 0.3 < r.score < 0.7 and r.info["target"] == "en"
    assert src.score([Sample(q_en, "x = 3 + 4\n```\n1 2 3\n```")])[0].status is Status.NOT_APPLICABLE
    fixed = build_source("language_consistency", language="de").score([Sample("12?", mixed)])[0]
    assert fixed.score == pytest.approx(1 - r.score)
    by_ref = src.score([Sample("12?", mixed, reference={"language": "de"})])[0]
    assert by_ref.score == pytest.approx(fixed.score)
    # code, tags and LaTeX are not language; Chinese inside an English answer is
    tidy = ("<think>We add the two numbers and check the result carefully.</think>\n```python\nprint(sum([1, 2]))\n```\n"
            "So the total is $\\frac{3}{1}$, which is the final answer for this question.")
    assert src.score([Sample(q_en, tidy)])[0].score == 1.0
    zh = src.score([Sample(q_en, "The sky is blue because of scattering. 这是因为瑞利散射使蓝光更多地散射到我们的眼睛里。")])[0]
    assert 0.2 < zh.score < 0.8 and set(zh.info["fractions"]) == {"en", "zh"}


def test_shipped_config_scores_the_embedded_data_through_rewardkit_score(tmp_path):
    """math correctness + single-answer format gate + LASER-D, end to end through the CLI."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import rewardkit

    cfg = Path(rewardkit.__file__).parent / "configs" / "math_format_laser.yaml"
    out = tmp_path / "scored.jsonl"
    r = subprocess.run([sys.executable, "-m", "rewardkit.cli", "score", "-c", str(cfg), "-o", str(out),
                        "--no-progress"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 400 and all(x["status"] == "ok" for x in rows)
    # every LASER outcome occurs: correct+short, correct+long, wrong, format failure
    assert {x["score"] for x in rows} == {1.5, 1.0, -0.5, -1.0}
    for x in rows:
        if x["components"]["format"] < 1:
            assert x["score"] == -1.0
        elif x["components"]["correct"] == 1.0:
            assert x["score"] == (1.5 if x["info"]["length"] <= x["info"]["length_target"] else 1.0)
        else:
            assert x["score"] == -0.5
    assert {x["info"]["difficulty"] for x in rows} == {"easy", "medium", "hard"}


def naive_laser(c, L, T, f, alpha, mode, explore):
    """REWARD_METHODS §8 written as a plain loop body."""
    base = -1.0 if not f else (1.0 if c else -0.5)
    if not f:
        return base
    if c:
        if mode == "reward":
            return base + (alpha if L <= T else 0.0)
        if mode == "penalty":
            return base - (alpha if L > T else 0.0)
        return base + (alpha if L <= T else -alpha)
    return base + (alpha if (explore and L > T) else 0.0)


@pytest.mark.parametrize("mode", ["reward", "penalty", "hybrid"])
def test_laser_vectorised_equals_naive_loop(mode):
    rng = np.random.default_rng(1)
    n = 500
    c, f, e = (rng.random(n) < 0.5), (rng.random(n) < 0.8), (rng.random(n) < 0.5)
    L, T = rng.integers(0, 10, n) * 500, rng.integers(1, 10, n) * 500   # ties L == T included
    fast = laser_reward(c, L, T, formatted=f, alpha=0.3, mode=mode, explore=e)
    slow = [naive_laser(*args, 0.3, mode, ex) for args, ex in zip(zip(c, L, T, f, strict=True), e, strict=True)]
    assert fast.tolist() == pytest.approx(slow)


def test_laser_d_transform_is_permutation_invariant_and_matches_a_naive_grouping():
    rng = np.random.default_rng(2)
    samples = []
    for g in range(12):
        k = int(rng.integers(1, 9))   # groups of 1..8, one-member groups included
        for _ in range(k):
            right = rng.random() < (g % 4) / 3
            samples.append(Sample("q", ("The answer is 4." if right else "The answer is 5.") + " x" * int(rng.integers(0, 40)),
                                  reference="4", group_id=f"g{g}"))
    pipe = laser_pipeline(targets={"easy": 30, "medium": 50, "hard": 70})
    res = pipe.score(samples)
    # naive: bucket from each group's accuracy, then the LASER formula per sample
    acc: dict[str, list[int]] = {}
    for s, r in zip(samples, res, strict=True):
        acc.setdefault(s.group_id, []).append(int(r.components["correct"] == 1.0))
    for s, r in zip(samples, res, strict=True):
        a = acc[s.group_id]
        bucket = laser_difficulty(sum(a), len(a))
        T = {"easy": 30, "medium": 50, "hard": 70}[bucket]
        assert r.info["difficulty"] == bucket
        assert r.score == naive_laser(r.components["correct"] == 1.0, len(s.completion), T, True, 0.5, "reward", False)
    perm = rng.permutation(len(samples))
    res_p = pipe.score([samples[i] for i in perm])
    assert [r.score for r in res_p] == [res[i].score for i in perm]
    assert pipe.score([]) == []
