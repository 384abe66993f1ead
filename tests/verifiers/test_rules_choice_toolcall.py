"""Multiple choice and tool calls (ToolRL test vectors from REWARD_METHODS §9.6)."""

from __future__ import annotations

import json

import pytest

from rewardkit.config import ConfigError
from rewardkit.pipeline import Pipeline
from rewardkit.registry import build_source
from rewardkit.types import Sample, Status
from rewardkit.verifiers.choice import extract_choice
from rewardkit.verifiers.toolcall import UnparseableToolCall, parse_tool_calls, toolrl_score


# -- multiple choice -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, letter", [
    ("The answer is (B).", "B"),
    ("B) because the others are wrong", "B"),
    ("Answer: B", "B"),
    ("Final answer: **C**", "C"),
    ("\\boxed{D}", "D"),
    ("so $\\boxed{\\text{(A)}}$", "A"),
    ("<answer>(C)</answer>", "C"),
    ("The answer is: option C", "C"),
    ("Let me think.\nA\n", "A"),
    # not choice-like: letters inside expressions or words
    ("the answer is A+B", None),
    ("x = B + 1", None),
    ("I think a dog is nice", None),
    ("ANSWER: d", None),                 # lower-case is a word, not a choice
    ("Between B and C I am unsure", None),
])
def test_extract_choice(text, letter):
    assert extract_choice(text, "ABCDE")[0] == letter


def test_multiple_choice_source():
    src = build_source("multiple_choice", choices="ABCD")
    res = src.score([
        Sample("q", "The answer is (B).", reference="B"),
        Sample("q", "The answer is (B).", reference={"answer": "(b)"}),
        Sample("q", "Answer: A or C", reference="A"),           # hedging: several choices
        Sample("q", "Answer: E", reference="A"),                # E is not a choice here
        Sample("q", "B) yes", reference="E"),                   # gold not a choice
    ])
    assert [r.score for r in res[:3]] == [1.0, 1.0, 0.0]
    assert "several choices" in res[2].info["reason"]
    assert res[3].status is Status.UNPARSEABLE
    assert res[4].status is Status.ERROR and "choices" in res[4].info["error"]
    strict = build_source("multiple_choice", strict=True)
    assert strict.score([Sample("q", "B) yes", reference="B")])[0].status is Status.UNPARSEABLE
    with pytest.raises(ConfigError, match="choices"):
        Pipeline({"rewards": [{"type": "multiple_choice", "choices": "abc"}]})


# -- tool calls ------------------------------------------------------------------------------------
def test_toolrl_vectors():
    gold = [("search", {"q": "x", "k": 5})]
    r = toolrl_score(gold, [("search", {"q": "x", "k": 3})])
    assert r["correct"] == pytest.approx(1.5) and r["unit"] == pytest.approx(3 / 4)   # S=3, S_max=4
    assert toolrl_score(gold, [("lookup", {"q": "x"})])["correct"] == pytest.approx(-3.0)
    r = toolrl_score([("a", {"x": 1}), ("b", {})], [("a", {"x": 1})])
    assert r["correct"] == pytest.approx(0.75)
    assert toolrl_score(gold, gold)["correct"] == pytest.approx(3.0)


def naive_best_assignment(gold, pred):
    """Exhaustive optimum over assignments: the greedy score never exceeds it."""
    from itertools import permutations

    from rewardkit.verifiers.toolcall import _match
    best = 0.0
    for perm in permutations(range(len(pred)), min(len(gold), len(pred))):
        s = 0.0
        for (gname, gargs), j in zip(gold, perm, strict=False):
            pname, pargs = pred[j]
            if pname == gname:
                s += _match(list(gargs), list(pargs)) + sum(pargs.get(k, object()) == v for k, v in gargs.items())
        best = max(best, s)
    return best


def test_toolrl_greedy_matches_exhaustive_on_distinct_names():
    gold = [("a", {"x": 1, "y": 2}), ("b", {"z": 3})]
    pred = [("b", {"z": 3}), ("a", {"x": 1}), ("c", {})]
    r = toolrl_score(gold, pred)
    s = r["name"] + naive_best_assignment(gold, pred)
    assert r["unit"] == pytest.approx(s / (1 + 3 + 2))


@pytest.mark.parametrize("text, calls", [
    ('<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>', [("f", {"x": 1})]),
    ('<think>..</think>\n<tool_call>\n{"name": "a", "arguments": {}}\n{"name": "b", "arguments": "{\\"y\\": 2}"}\n</tool_call>',
     [("a", {}), ("b", {"y": 2})]),
    ('<tool_call>[{"name": "a"}, {"name": "b", "parameters": {"k": "v"}}]</tool_call>', [("a", {}), ("b", {"k": "v"})]),
    (json.dumps({"role": "assistant", "tool_calls": [{"id": "1", "type": "function",
                 "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]}),
     [("get_weather", {"city": "Paris"})]),
    ('[{"name": "f", "arguments": {}}]', [("f", {})]),
    ('Let me check the weather.\n{"tool_calls": [{"function": {"name": "w", "arguments": "{}"}}]}', [("w", {})]),
    ("I will just answer: 42", None),
])
def test_parse_tool_calls(text, calls):
    assert parse_tool_calls(text) == calls


@pytest.mark.parametrize("text", [
    '<tool_call>{"name": "f", </tool_call>',
    '<tool_call>{"name": "f"}',                                   # unclosed
    '<tool_call>{"arguments": {}}</tool_call>',                   # no name
    '<tool_call>{"name": "f", "arguments": "{x"}</tool_call>',    # arguments string not JSON
    '<tool_call>{"name": "f", "arguments": [1]}</tool_call>',     # arguments not an object
    '{"tool_calls": [{"function": {"name": "f", "arguments": "{"}}]}',
])
def test_unparseable_tool_calls(text):
    with pytest.raises(UnparseableToolCall):
        parse_tool_calls(text)
    r = build_source("tool_call").score([Sample("q", text, reference=[{"name": "f", "arguments": {}}])])[0]
    assert r.status is Status.UNPARSEABLE and r.score is None


def test_tool_call_source_components_and_scales():
    gold = [{"name": "search", "arguments": {"q": "x", "k": 5}}]
    text = '<think>look it up</think><tool_call>{"name": "search", "arguments": {"q": "x", "k": 3}}</tool_call>'
    r = build_source("tool_call").score([Sample("q", text, reference=gold)])[0]
    assert r.score == pytest.approx(0.75)
    assert r.components == pytest.approx({"format": 1.0, "name": 1.0, "param_name": 1.0, "param_value": 0.5,
                                          "correct": 1.5})
    t = build_source("tool_call", scale="toolrl", think_tag="think").score([Sample("q", text, reference=gold)])[0]
    assert t.score == pytest.approx(1.0 + 1.5)
    no_think = build_source("tool_call", think_tag="think").score(
        [Sample("q", text.split("</think>")[1], reference=gold)])[0]
    assert no_think.components["format"] == 0.0
    # no call when one is expected: a wrong answer (0), not unparseable
    miss = build_source("tool_call").score([Sample("q", "the answer is 4", reference=gold)])[0]
    assert miss.status is Status.OK and miss.score == 0.0 and miss.components["format"] == 0.0
    # no call expected
    src = build_source("tool_call")
    none_expected = src.score([Sample("q", "Paris.", reference=[]),
                               Sample("q", '<tool_call>{"name": "f"}</tool_call>', reference={"tool_calls": []})])
    assert [x.score for x in none_expected] == [1.0, 0.0]
    assert none_expected[0].components["correct"] == 0.0


def test_chat_message_tool_calls_reach_the_tool_call_source():
    """A TRL/OpenAI conversational completion: the assistant turn's tool_calls (content null)."""
    msgs = [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}]
    s = Sample("q", msgs, reference=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    assert "None" not in s.completion
    assert build_source("tool_call").score([s])[0].score == 1.0
    with_text = Sample("q", [{"role": "assistant", "content": "Checking.", "tool_calls": msgs[0]["tool_calls"]}],
                       reference=[{"name": "get_weather", "arguments": {"city": "Rome"}}])
    r = build_source("tool_call").score([with_text])[0]
    assert r.components["name"] == 1.0 and r.components["param_value"] == 0.0


def test_toolrl_components_survive_a_pipeline():
    from rewardkit.pipeline import Pipeline

    gold = [{"name": "search", "arguments": {"q": "x", "k": 5}}]
    text = '<tool_call>{"name": "search", "arguments": {"q": "x", "k": 3}}</tool_call>'
    p = Pipeline({"rewards": [{"type": "tool_call", "name": "tools"}, {"type": "repetition", "weight": 0.0}]})
    r = p.score([Sample("q", text, reference=gold)])[0]
    assert r.score == 0.75 and r.info["tools"]["components"]["param_value"] == 0.5


def test_toolrl_format_with_think_and_response_blocks():
    src = build_source("tool_call", think_tag="think", response_tag="response")
    res = src.score([
        Sample("q", "<think>no tool needed</think><response>Paris.</response>", reference=[]),
        Sample("q", "<think>no tool needed</think>Paris.", reference=[]),
        Sample("q", '<think>x</think><tool_call>{"name": "f"}</tool_call>', reference=[{"name": "f"}]),
    ])
    assert [r.components["format"] for r in res] == [1.0, 0.0, 1.0]
    assert [r.score for r in res] == [1.0, 1.0, 1.0]  # unit scale: the format is a component, not the score
