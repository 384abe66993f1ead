"""Format / structure rules: tags, single final answer, JSON Schema, code blocks, config errors."""

from __future__ import annotations

import pytest

from rewardkit.config import ConfigError
from rewardkit.pipeline import Pipeline
from rewardkit.registry import build_source
from rewardkit.types import Sample, Status


def score(type_, text, reference=None, **params):
    return build_source(type_, **params).score([Sample("q", text, reference=reference)])[0]


# -- tags ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("<think>a</think><answer>1</answer>", 1.0),
    ("intro <think>a</think>\n\n<answer>1</answer> outro", 1.0),         # text outside: fine unless strict
    ("<answer>1</answer><think>a</think>", 0.0),                           # order
    ("<think>a</think>", 0.0),                                             # missing answer
    ("<think>a</think><answer>1</answer><answer>2</answer>", 0.0),         # twice
    ("<think> </think><answer>1</answer>", 0.0),                           # empty block
    ("<think>a<answer>1</answer></think>", 0.0),                           # nested = out of order
    ("</think>a<think><answer>1</answer>", 0.0),                           # closed before opened
])
def test_tags(text, expected):
    r = score("tags", text)
    assert r.status is Status.OK and r.score == expected, r
    assert (r.score == 1.0) == ("reason" not in r.info)


def test_tags_strict_and_partial_credit():
    assert score("tags", "hi <think>a</think><answer>1</answer>", strict=True).score == 0.0
    assert score("tags", " <think>a</think>\n<answer>1</answer>\n", strict=True).score == 1.0
    # 3 checks (think ok, answer ok, order); order fails -> 2/3
    r = score("tags", "<answer>1</answer><think>a</think>", partial_credit=True)
    assert r.score == pytest.approx(2 / 3)
    r = score("tags", "<think>a</think> no answer", partial_credit=True)
    assert r.score == pytest.approx(1 / 3)  # think ok; answer missing; order not established
    assert score("tags", "<answer>1</answer><think>a</think>", ordered=False).score == 1.0
    assert score("tags", "<a>x</a><b>y</b><c>z</c>", tags=["a", "b", "c"]).score == 1.0
    # R1-style templates end the prompt with "<think>\n": the completion starts inside the block
    assert score("tags", "reasoning</think><answer>1</answer>", prefix="<think>\n").score == 1.0
    assert score("tags", "reasoning</think><answer>1</answer>").score == 0.0


def test_tags_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"rewards\[0\].*tags"):
        Pipeline({"rewards": [{"type": "tags", "tags": ["<think>"]}]})
    with pytest.raises(ConfigError, match=r"rewards\[0\].*pattern"):
        Pipeline({"rewards": [{"type": "regex", "pattern": "(unclosed"}]})


# -- single final answer --------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("so the answer is 5.", 1.0),
    ("The answer is $\\boxed{5}$.", 1.0),             # the same answer in two markers counts once
    ("\\boxed{3} or maybe \\boxed{4}", 0.0),          # hedging
    ("The answer is 3. Actually the answer is 4.", 0.0),
    ("<answer>7</answer>", 1.0),
    ("I do not know", 0.0),
    ("#### 12", 1.0),
])
def test_single_answer(text, expected):
    assert score("single_answer", text).score == expected


def test_single_answer_strict_rejects_repeats():
    text = "\\boxed{5} so again \\boxed{5}"
    assert score("single_answer", text).score == 1.0
    assert score("single_answer", text, strict=True).score == 0.0
    assert score("single_answer", "\\boxed{5}", markers=["answer_is"]).score == 0.0  # only the named markers


# -- JSON Schema ----------------------------------------------------------------------------------
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
          "required": ["name", "age"], "additionalProperties": False}


@pytest.mark.parametrize("text, expected, comps", [
    ('{"name": "Ada", "age": 36}', 1.0, {"json_valid": 1.0, "schema_valid": 1.0}),
    ('Here you go:\n```json\n{"name": "Ada", "age": 36}\n```', 1.0, {"json_valid": 1.0, "schema_valid": 1.0}),
    ('<answer>{"name": "Ada", "age": 36}</answer>', 1.0, {"json_valid": 1.0, "schema_valid": 1.0}),
    ('{"name": "Ada", "age": -1}', 0.0, {"json_valid": 1.0, "schema_valid": 0.0}),
    ('{"name": "Ada"}', 0.0, {"json_valid": 1.0, "schema_valid": 0.0}),
    ('{"name": "Ada", "age": 36', 0.0, {"json_valid": 0.0, "schema_valid": 0.0}),
])
def test_json_schema(text, expected, comps):
    r = score("json_schema", text, schema=SCHEMA)
    assert r.status is Status.OK and r.score == expected and r.components == comps, r


def test_json_schema_strict_partial_and_reference_schema():
    fenced = '```json\n{"name": "Ada", "age": 36}\n```'
    assert score("json_schema", fenced, schema=SCHEMA, strict=True).score == 0.0
    assert score("json_schema", '{"name": 1}', schema=SCHEMA, partial_credit=0.25).score == 0.25
    r = score("json_schema", '{"age": 3}', reference={"schema": {"required": ["age"]}})
    assert r.score == 1.0
    assert score("json_schema", "[1, 2]").score == 1.0  # no schema anywhere: valid JSON is enough
    bad = score("json_schema", "{}", reference={"schema": {"type": "no-such-type"}})
    assert bad.status is Status.ERROR and "reference.schema" in bad.info["error"]
    assert "age" in score("json_schema", '{"name": "x", "age": "old"}', schema=SCHEMA).info["reason"]


def test_json_schema_invalid_schema_fails_at_build_naming_the_key():
    with pytest.raises(ConfigError, match=r"rewards\[0\].*schema.*invalid JSON Schema"):
        Pipeline({"rewards": [{"type": "json_schema", "schema": {"type": "no-such-type"}}]})
    with pytest.raises(ConfigError, match="partial_credit"):
        Pipeline({"rewards": [{"type": "json_schema", "partial_credit": 2}]})


def test_json_schema_survives_pickling_with_its_schema():
    import pickle

    src = build_source("json_schema", schema=SCHEMA)
    clone = pickle.loads(pickle.dumps(src))
    s = [Sample("q", '{"name": "Ada"}')]
    assert clone.score(s)[0].score == src.score(s)[0].score == 0.0


# -- code blocks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, params, expected", [
    ("```python\nprint(1)\n```", {}, 1.0),
    ("text\n```\nx = 1\n```\nmore", {}, 1.0),
    ("```python\nprint(1)\n", {}, 0.0),                       # never closed
    ("```python\n\n```", {}, 0.0),                            # empty
    ("```js\nf()\n```", {"languages": ["python"]}, 0.0),
    ("```Python\nf()\n```", {"languages": ["python"]}, 1.0),
    ("```py\na\n```\n```py\nb\n```", {"max_blocks": 1}, 0.0),
    ("```py\na\n```\n```py\nb\n```", {"min_blocks": 2}, 1.0),
    ("Here:\n```py\na\n```", {"strict": True}, 0.0),
    ("```py\na\n```\n", {"strict": True}, 1.0),
])
def test_code_block(text, params, expected):
    assert score("code_block", text, **params).score == expected


def test_code_block_config_errors():
    with pytest.raises(ConfigError, match="max_blocks"):
        Pipeline({"rewards": [{"type": "code_block", "min_blocks": 2, "max_blocks": 1}]})


def test_rule_sources_stay_free_of_heavy_imports():
    import subprocess
    import sys

    code = (
        "from rewardkit.registry import build_source\n"
        "from rewardkit.types import Sample\n"
        "for n in ('tags', 'single_answer', 'json_schema', 'code_block', 'multiple_choice', 'tool_call',"
        " 'ifeval', 'repetition', 'language_consistency'):\n"
        "    build_source(n).score([Sample('Say hi in English.', 'hi there, this is a reply', reference="
        "{'instruction_id_list': ['punctuation:no_comma'], 'kwargs': [{}], 'answer': 'A'})])\n"
        "import rewardkit.shaping.transforms, rewardkit.shaping.length\n"
        "import sys; print(','.join(m for m in ('torch', 'transformers', 'trl', 'datasets') if m in sys.modules))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"rule sources imported {r.stdout.strip()}"


# -- untrusted outputs: adversarial shapes finish (linear scans) with a verdict, not an error -------
@pytest.mark.timeout(30)  # a quadratic scan of these inputs takes minutes
@pytest.mark.parametrize("type_, text, reference, status, score_", [
    ("code_block", "```py\n" * 20000, None, Status.OK, 0.0),                      # 20k unclosed fences
    ("json_schema", "[" * 100000, None, Status.OK, 0.0),                          # too deep for json: no JSON
    ("tool_call", "<tool_call>{" * 20000, [{"name": "f"}], Status.UNPARSEABLE, None),
    ("tool_call", "<tool_call>" + "[" * 100000 + "</tool_call>", [{"name": "f"}], Status.UNPARSEABLE, None),
    ("tool_call", "<tool_call>" * 5000 + "</tool_call>" * 5000, [{"name": "f"}], Status.UNPARSEABLE, None),
    ("single_answer", "\\boxed{" * 20000, None, Status.OK, 0.0),
    ("multiple_choice", "answer is " * 20000, "A", Status.UNPARSEABLE, None),
    ("tags", "<think>" * 20000 + "</think>" * 20000, None, Status.OK, 0.0),
    ("json_schema", "```json\n" * 20000, None, Status.OK, 0.0),
    ("single_answer", "</answer>" + "<answer>" * 30000, None, Status.OK, 0.0),
    ("single_answer", "\\boxed{" * 100000 + "}", None, Status.OK, 0.0),           # only an empty box closes
    ("tool_call", "</tool_call>" + "<tool_call>" * 30000 + "</tool_call>" * 29999, [{"name": "f"}],
     Status.UNPARSEABLE, None),
], ids=["unclosed-fences", "deep-json", "unclosed-tool-calls", "deep-tool-call-json", "nested-tool-calls",
        "unclosed-boxed", "answer-markers", "repeated-tags", "unclosed-json-fences", "unclosed-answer-tags",
        "deep-boxed", "stray-close-tool-call"])
def test_adversarial_outputs(type_, text, reference, status, score_):
    r = build_source(type_).score([Sample("q", text, reference=reference)])[0]
    assert r.status is status and r.score == score_, r


def test_tag_contents_pairs_like_the_lazy_regex():
    import re

    from rewardkit.verifiers.structure import tag_contents

    for text in ["<a>1</a> x <a>2</a>", "<a>1<a>2</a>", "</a><a>x</a>", "<A>y</A>", "<a>open", ""]:
        want = re.findall(r"<a>(.*?)</a>", text, re.S | re.I)
        assert tag_contents(text, "a", ignore_case=True)[0] == want, text
    assert tag_contents("<a>1</a><a>2</a>", "a")[1] is True
    assert [tag_contents(t, "a")[1] for t in ["<a>1<a>2</a>", "</a><a>x</a>", "<a>open"]] == [False] * 3


def test_tag_contents_equals_the_lazy_regex_on_random_text():
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from rewardkit.verifiers.structure import tag_contents

    pieces = st.lists(st.sampled_from(["<a>", "</a>", "<A>", "</A>", "x", " ", "\n", "<b>", "a>"]), max_size=30)

    @settings(max_examples=300, deadline=None)
    @given(pieces)
    def check(parts):
        text = "".join(parts)
        assert tag_contents(text, "a", ignore_case=True)[0] == re.findall(r"<a>(.*?)</a>", text, re.S | re.I)
        assert tag_contents(text, "a")[0] == re.findall(r"<a>(.*?)</a>", text, re.S)

    check()


def test_code_blocks_parser():
    from rewardkit.verifiers.structure import code_blocks

    assert code_blocks("a\n```py\nx\n```\nb") == ([("py", "x")], True)
    assert code_blocks("```\n```") == ([("", "")], False)
    assert code_blocks("  ```js extra info\nf()\n  ```  ") == ([("js", "f()")], False)
    assert code_blocks("```py\nnever closed") == ([], True)
