"""Extraction styles of `rewardkit.verifiers.math.extract` (what, and from where)."""

from __future__ import annotations

import json
import re

import pytest

from rewardkit.verifiers.math import MathConfig, extract, extract_choice

LAST = MathConfig(last_number=True)


@pytest.mark.parametrize(
    ("text", "answer", "source"),
    [
        (r"so $x = \boxed{\frac{1}{2}}$.", r"\frac{1}{2}", "boxed"),
        (r"\boxed{1} first, then later \boxed{\{1, \{2\}\}}", r"\{1, \{2\}\}", "boxed"),  # nested braces
        (r"\fbox{42}", "42", "boxed"),
        (r"\boxed 7 is it", "7", "boxed"),
        (r"roots $\boxed{2}$ and $\boxed{3}$", "2, 3", "boxed"),  # joined by a connector
        (r"\boxed{1} papers and \boxed{2} bins", "1, 2", "boxed"),
        (r"\boxed{1} no no no no no \boxed{2}", "2", "boxed"),  # prose breaks the chain
        (r"\boxed{10} and then \boxed{42}", "42", "boxed"),  # "then": a correction
        (r"\boxed{9} \boxed{9} \boxed{9} \boxed{42}", "42", "boxed"),  # repeated boxes are not a list
        ("<think>try 3</think><answer>5</answer>", "5", "answer_tag"),
        (r"<answer>the result is \boxed{6}</answer>", "6", "answer_tag"),
        ("The answer is 42 because geometry proves it", "42", "final_answer"),
        ("**Answer:** 17", "17", "final_answer"),
        ("Final Answer: The final answer is $(-6, 10)$. I hope it is correct.", "(-6, 10)", "final_answer"),
        ("Final Answer: The largest $n$ is 34.", "34", "final_answer"),
        ("Natalia sold 48/2 = 24 clips.\n#### 72", "72", "gsm8k"),
        (r"We find that $x \lt 3$.", r"x \lt 3", "last_math"),
        (r"Answer \[ 9 \]", "9", "final_answer"),
        (r"x^2 + 2x + 1", r"x^2 + 2x + 1", "whole"),
        ("odd $n$", "n", "last_math"),
        (r"\boxed{255} so she has 10,455. Final Answer: The final answer is $10,455$.", "10,455", "final_answer"),
    ],
)
def test_extraction_styles(text: str, answer: str, source: str) -> None:
    got = extract(text)
    assert got is not None
    assert (got.answer, got.source) == (answer, source)
    assert 0 <= got.span[0] <= got.span[1] <= len(text)


def test_span_points_at_the_answer() -> None:
    text = r"blah \boxed{3} blah"
    got = extract(text)
    assert got is not None and text[got.span[0]:got.span[1]] == r"\boxed{3}"


@pytest.mark.parametrize("text", ["Answer $ \n 9 \n $", "Answer \\( \n 9 \n \\)"])
def test_inline_math_may_not_span_lines(text: str) -> None:
    got = extract(text)
    assert got is None or got.answer.strip() != "9" or got.source == "whole" and "\n" in got.answer


@pytest.mark.parametrize("text", ["Answer \\[ \n 9 \n \\]", "Answer $$ \n 9 \n $$"])
def test_display_math_may_span_lines(text: str) -> None:
    got = extract(text)
    assert got is not None and got.answer.strip() == "9"


def test_last_number_is_opt_in() -> None:
    text = "After some thought the total comes to 1,000.99m² in the end"
    assert extract(text) is None
    got = extract(text, LAST)
    assert got is not None and (got.answer, got.source) == ("1,000.99", "last_number")
    got = extract("so AZYUK2A", LAST)
    assert got is None or got.source != "last_number"  # digits inside a word are not numbers
    got = extract("一共有3 + 10 = 13只鸟和鹳鸟。", LAST)
    assert got is not None and got.answer == "13"


def test_nothing_extractable() -> None:
    assert extract("I am not sure what to do here, sorry. Let me think more about it.") is None
    assert extract("") is None


def test_code_is_never_mined_for_numbers() -> None:
    assert extract("__import__('os').system('touch marker') or 0", LAST) is None


def test_custom_order_and_unknown_extractor() -> None:
    text = r"#### 5 and \boxed{6}"
    assert extract(text, MathConfig(order=("gsm8k", "boxed"))).answer == "5"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="unknown extractor"):
        MathConfig(order=("nope",))


def test_long_completion_is_cut_to_its_tail() -> None:
    text = "x" * 200_000 + r" \boxed{8}"
    got = extract(text)
    assert got is not None and got.answer == "8" and got.span[0] > 200_000


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("thinking about it I think the correct answer is C", "C"),
        ("Let's think step by step. It's not A because it doesn't make sense, therefore I think it's B", "B"),
        ("The answer is for sure D, it can't be A or B", "D"),
        ("D. it can't be A or B", "D"),
        ("B。 不是 A", "B"),
        ("réponse est C non A", "C"),
        (r"$\boxed{\text{(C)}}.$", "C"),
    ],
)
def test_choice_letters(text: str, letter: str) -> None:
    got = extract_choice(text, MathConfig(choice_letters="ABCD"))
    assert got is not None and got.answer == letter


def test_shared_choice_extraction_cases(shared_data) -> None:
    path = shared_data / "math_extraction.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    cases = [r for r in rows if r["kind"] == "string_choice_extraction"]
    assert cases
    for r in cases:
        m = re.search(r"strings=\(([^)]*)\)", r["config"])
        letters = "".join(re.findall(r"\w", m.group(1))) if m else "ABCD"
        got = extract_choice(r["text"], MathConfig(choice_letters=letters))
        want = r["expected_parse"][1] if r["expected_parse"] else None
        assert (got.answer if got else None) == want, r["id"]
