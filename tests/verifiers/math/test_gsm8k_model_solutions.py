"""Real model outputs: GSM8K's released solutions (4 models x 1319 problems, each labelled
is_correct). Their final line is "A: <answer>" and they use "$" for dollars, which a naive
inline-math extractor mistakes for LaTeX. The math source must agree with the labels."""

from __future__ import annotations

import json

import pytest

from rewardkit.types import Sample, Status
from rewardkit.verifiers.math import MathVerifier


@pytest.fixture(scope="module")
def solutions(shared_data):
    path = shared_data / "gsm8k" / "example_model_solutions.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not found")
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i % 3:  # every third problem keeps the test fast; all four models of each
                continue
            r = json.loads(line)
            gold = r["ground_truth"].rsplit("A:", 1)[1].strip()
            for v in r.values():
                if isinstance(v, dict) and "solution" in v:
                    rows.append((Sample(r["question"], v["solution"], reference=gold), v["is_correct"]))
    return rows


def test_math_source_agrees_with_the_labels(solutions):
    src = MathVerifier()
    results = src.score([s for s, _ in solutions])
    agree = sum((r.status is Status.OK and r.score == 1.0) == label
                for r, (_, label) in zip(results, solutions, strict=True))
    unparseable = sum(r.status is Status.UNPARSEABLE for r in results)
    assert agree / len(solutions) >= 0.998, (agree, len(solutions))
    assert unparseable / len(solutions) <= 0.005
    # the "A: <n>" line is where the answer comes from
    assert sum(r.info.get("extracted_from") == "gsm8k" for r in results) > 0.9 * len(results)
