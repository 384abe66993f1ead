"""One conformance suite, run against every registered reward source (scikit-learn's
check_estimator idea): order preserved, valid statuses, empty batch, picklable, async == sync,
and a gold answer scores 1.0 where a gold exists.

Every registered source needs an entry in CASES: adding a source without one fails here.
"""

from __future__ import annotations

import asyncio
import pickle

import pytest

from rewardkit.registry import build_source, list_sources
from rewardkit.types import RewardResult, Sample, Status

# type -> (params, [(sample, expected score or status)]); the first sample carries the gold answer
CASES: dict[str, tuple[dict, list[tuple[Sample, float | Status]]]] = {
    "numeric": ({}, [
        (Sample("q", "so the answer is 1,234.", reference={"answer": "1234"}), 1.0),
        (Sample("q", "The answer is 7", reference="8"), 0.0),
        (Sample("q", "no idea", reference="8"), Status.UNPARSEABLE),
        (Sample("q", "The answer is 7", reference={"gold": 7}), Status.ERROR),
    ]),
    "exact_match": ({}, [
        (Sample("q", "<answer> Paris </answer>", reference="paris"), 1.0),
        (Sample("q", "<answer>Rome</answer>", reference="paris"), 0.0),
        (Sample("q", "Paris", reference="paris"), Status.UNPARSEABLE),
    ]),
    "step_arithmetic": ({}, [
        (Sample("q", "2 + 2 = 4\n\n4 * 3 = 12\n\nThe answer is 12."), 1.0),
        (Sample("q", "2 + 2 = 5\n\n5 * 3 = 15"), 0.0),
        (Sample("q", "no arithmetic here"), Status.NOT_APPLICABLE),
    ]),
    "code": ({"timeout_s": 3, "workers": 1}, [
        (Sample("q", "```python\ndef add(a, b):\n    return a + b\n```", reference={"tests": ["assert add(1, 2) == 3"]}), 1.0),
        (Sample("q", "```python\ndef add(a, b):\n    return a - b\n```", reference={"tests": ["assert add(1, 2) == 3"]}), 0.0),
        (Sample("q", "I would add them.", reference={"tests": ["assert add(1, 2) == 3"]}), Status.UNPARSEABLE),
        (Sample("q", "x = 1", reference={"answer": "1"}), Status.NOT_APPLICABLE),
    ]),
    "sql": ({}, [
        (Sample("q", "```sql\nSELECT b FROM t WHERE a > 1\n```",
                reference={"sql": "SELECT b FROM t WHERE a >= 2", "schema": "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 'x'), (2, 'y');"}), 1.0),
        (Sample("q", "SELECT b FROM t", reference={"sql": "SELECT b FROM t WHERE a >= 2", "schema": "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 'x'), (2, 'y');"}), 0.0),
        (Sample("q", "", reference={"sql": "SELECT 1", "schema": "CREATE TABLE t(a)"}), Status.UNPARSEABLE),
    ]),
    "math": ({"timeout_s": 2.0}, [
        (Sample("q", r"so $x = \boxed{\frac{1}{2}}$", reference={"answer": "0.5"}), 1.0),
        (Sample("q", r"\boxed{(x+1)^2}", reference="x^2+2x+1"), 1.0),
        (Sample("q", r"\boxed{3}", reference="4"), 0.0),
        (Sample("q", "I am not sure, let me think again about it.", reference="4"), Status.UNPARSEABLE),
        (Sample("q", r"\boxed{3}", reference={"solution": "3"}), Status.ERROR),
    ]),
    "regex": ({"pattern": r"<answer>.*</answer>"}, [
        (Sample("q", "<think>x</think><answer>1</answer>"), 1.0),
        (Sample("q", "1"), 0.0),
    ]),
    "tags": ({"tags": ["think", "answer"]}, [
        (Sample("q", "<think>x</think>\n<answer>1</answer>"), 1.0),
        (Sample("q", "<answer>1</answer><think>x</think>"), 0.0),
    ]),
    "single_answer": ({}, [
        (Sample("q", "so the answer is $\\boxed{5}$."), 1.0),
        (Sample("q", "\\boxed{3} or maybe \\boxed{4}"), 0.0),
    ]),
    "json_schema": ({"schema": {"type": "object", "required": ["a"]}}, [
        (Sample("q", '```json\n{"a": 1}\n```'), 1.0),
        (Sample("q", '{"b": 1}'), 0.0),
        (Sample("q", "no json here"), 0.0),
    ]),
    "code_block": ({"languages": ["python"]}, [
        (Sample("q", "```python\nprint(1)\n```"), 1.0),
        (Sample("q", "print(1)"), 0.0),
    ]),
    "multiple_choice": ({}, [
        (Sample("q", "The answer is (B).", reference="B"), 1.0),
        (Sample("q", "Answer: C", reference={"answer": "B"}), 0.0),
        (Sample("q", "answer is A+B", reference="B"), Status.UNPARSEABLE),
        (Sample("q", "Answer: C", reference="Z"), Status.ERROR),
    ]),
    "tool_call": ({}, [
        (Sample("q", '<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>', reference=[{"name": "f", "arguments": {"x": 1}}]), 1.0),
        (Sample("q", '<tool_call>{"name": "g", "arguments": {}}</tool_call>', reference=[{"name": "f", "arguments": {"x": 1}}]), 0.0),
        (Sample("q", '<tool_call>{"name": "f", </tool_call>', reference=[{"name": "f", "arguments": {"x": 1}}]), Status.UNPARSEABLE),
        (Sample("q", "hi", reference=[{"arguments": {}}]), Status.ERROR),
    ]),
    "ifeval": ({}, [
        (Sample("q", "hello world", reference={"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}), 1.0),
        (Sample("q", "hello, world", reference={"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}), 0.0),
        (Sample("q", "hi", reference={"instruction_id_list": ["punctuation:no_kommas"], "kwargs": [{}]}), Status.ERROR),
        (Sample("q", "hi", reference={"instruction_id_list": [], "kwargs": []}), Status.NOT_APPLICABLE),
    ]),
    "repetition": ({"n": 2}, [
        (Sample("q", "one two three four"), 1.0),
        (Sample("q", "go go go go go"), 0.25),  # 4 bigrams, 1 distinct
    ]),
    "language_consistency": ({}, [
        (Sample("What is the capital city of France? Please answer in one sentence.",
                "The capital city of France is Paris, a large and beautiful city."), 1.0),
        (Sample("What is the capital city of France? Please answer in one sentence.",
                "La capital de Francia es París, una ciudad grande y hermosa."), 0.0),
        (Sample("12 + 3 = ?", "15"), Status.NOT_APPLICABLE),
    ]),
}

# sources whose cases need something this machine may not have are added by their own modules'
# tests; they are listed here so the completeness check knows they are covered elsewhere
COVERED_ELSEWHERE: dict[str, str] = {
    "remote": "tests/serving/test_remote_conformance.py (the same checks against a live server)",
    "judge": "tests/judges/test_judge_source.py (the same checks against a live judge server)",
    "fallback": "tests/judges/test_judge_source.py (numeric with a live judge behind it)",
    "prm": "test_model_source_conformance below (a tiny model built at test time)",
    "orm": "test_model_source_conformance below (a tiny model built at test time)",
}


def _sources():
    return sorted(CASES)


def test_every_registered_source_has_a_conformance_case():
    missing = [n for n in list_sources() if n not in CASES and n not in COVERED_ELSEWHERE
               and not n.startswith("test_")]
    assert not missing, f"add conformance cases for: {missing}"


def check_conformance(src, cases) -> None:
    """The checks every reward source passes (also used for sources that need a live server)."""
    samples = [s for s, _ in cases]
    # a longer batch, shuffled: results must follow the samples
    order = list(range(len(samples))) * 3
    order = order[1:] + order[:1]
    batch = [samples[i] for i in order]
    results = src.score(batch)
    assert len(results) == len(batch)
    for i, r in zip(order, results, strict=True):
        assert isinstance(r, RewardResult) and isinstance(r.status, Status)
        assert r.info.get("fault") in (None, "sample", "infrastructure"), (src, i, r)  # status policy
        expected = cases[i][1]
        if isinstance(expected, Status):
            assert r.status is expected and r.score is None, (src, i, r)
        else:
            assert r.status is Status.OK and r.score == pytest.approx(expected), (src, i, r)
    assert src.score([]) == []
    clone = pickle.loads(pickle.dumps(src))
    assert [r.score for r in clone.score(batch)] == [r.score for r in results]
    assert [r.status for r in asyncio.run(src.ascore(batch))] == [r.status for r in results]
    assert cases[0][1] == 1.0, "the first case of every source is a gold answer scoring 1.0"


@pytest.mark.parametrize("name", _sources())
def test_conformance(name):
    params, cases = CASES[name]
    check_conformance(build_source(name, **params), cases)


@pytest.mark.parametrize("name", ["prm", "orm"])
def test_model_source_conformance(name, tmp_path):
    """Reward-model sources, on tiny models whose head is constant (sigmoid(30) = 1.0 to 1e-13)."""
    pytest.importorskip("transformers")
    from tests._tiny_models import save_tiny, save_tiny_bert

    if name == "prm":
        from rewardkit.prm.model import PRMCard, write_card

        folder = save_tiny(tmp_path / "prm", "token", bias=30.0)
        write_card(folder, PRMCard(kind="classifier"))
        params = {"model": str(folder), "device": "cpu"}
        cases = [
            (Sample("q", "Step 1: 12 + 7 = 19.\n\nThe answer is 19."), 1.0),
            (Sample("q", "  "), Status.UNPARSEABLE),
            (Sample("q", "12 + 7 = 19.", steps=["12 + 7 = 20."]), Status.ERROR),
        ]
    else:
        folder = save_tiny_bert(tmp_path / "orm", bias=30.0)
        params = {"model": str(folder), "device": "cpu", "output": "sigmoid", "max_length": 64}
        cases = [(Sample("q", "The answer is 19."), 1.0), (Sample("q", "12 + 7 = 19. " * 40), Status.NOT_APPLICABLE)]
    check_conformance(build_source(name, **params), cases)
