"""Every check's cost is bounded (issue 9 §6): degenerate repetitions of each marker the extractors
look for, at 100 KB, finish quickly and give a sane status.

No timed asserts: pytest-timeout fails a test that takes too long (a quadratic scan of 100 KB
takes tens of seconds; the linear one takes milliseconds).
"""

from __future__ import annotations

import pytest

from rewardkit.types import Sample, Status
from rewardkit.verifiers.math import MathConfig, check, extract
from rewardkit.verifiers.math.extract import extract_choice, find_boxed_all

N = 100_000

MARKERS = {
    "boxed": "\\boxed{",
    "boxed_spaced": "\\boxed {1 ",
    "fbox": "\\fbox{",
    "dollar": "$",
    "dollar_x": "$x",
    "double_dollar": "$$1",
    "paren": "\\(",
    "paren_x": "\\(x ",
    "bracket": "\\[",
    "answer_tag": "<answer>",
    "answer_tag_x": "<answer>1",
    "answer_is": "the answer is ",
    "answer_colon": "Answer: ",
    "final_answer": "final answer is $",
    "hashes": "####",
    "hashes_1": "#### 1 ",
    "braces": "{",
    "stars": "*",
    "choice": "(A) ",
}


def _text(marker: str) -> str:
    return (marker * (N // len(marker) + 1))[:N]


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", sorted(MARKERS))
def test_extraction_of_a_repeated_marker_is_fast(name: str) -> None:
    text = _text(MARKERS[name])
    got = extract(text, MathConfig(last_number=True))
    assert got is None or len(got.answer) <= N


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", sorted(MARKERS))
def test_choice_extraction_of_a_repeated_marker_is_fast(name: str) -> None:
    extract_choice(_text(MARKERS[name]))


@pytest.mark.timeout(10)
def test_unclosed_boxes_are_scanned_once() -> None:
    assert find_boxed_all("\\boxed{" * 20_000) == []
    boxes = find_boxed_all("\\boxed{" * 20_000 + "\\boxed{7}")
    assert [b[2] for b in boxes] == ["7"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", sorted(MARKERS))
def test_a_check_of_a_repeated_marker_finishes_with_a_sane_status(name: str) -> None:
    v = check("42", _text(MARKERS[name]))
    assert v.status in (Status.OK, Status.UNPARSEABLE, Status.TIMEOUT)
    assert not (v.status is Status.OK and v.equal)


@pytest.mark.timeout(30)
def test_a_real_answer_after_a_degenerate_prefix_is_still_found() -> None:
    text = _text("\\boxed{") + " ... so the answer is \\boxed{42}"
    v = check("42", text)
    assert v.status is Status.OK and v.equal


@pytest.mark.timeout(60)
@pytest.mark.parametrize("source", ["math", "numeric", "exact_match", "step_arithmetic"])
@pytest.mark.parametrize("name", ["boxed", "answer_tag", "answer_is", "answer_colon", "hashes", "dollar", "paren", "stars"])
def test_sources_score_repeated_markers(source: str, name: str) -> None:
    from rewardkit.registry import get_source_class

    src = get_source_class(source)()
    try:
        [r] = src.score([Sample(prompt="q", completion=_text(MARKERS[name]), reference="42")])
    finally:
        src.close()
    if source == "step_arithmetic":  # no equation in any step: nothing to score
        assert r.status in (Status.OK, Status.NOT_APPLICABLE, Status.UNPARSEABLE)
    else:
        assert r.status in (Status.OK, Status.UNPARSEABLE, Status.TIMEOUT)
        assert not (r.status is Status.OK and r.score != 0.0)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("marker", ["1+", "1 = ", "= 1 ", "(", "1" * 50 + " ", "12+34=46\n\n", "<<2*3=6>>"])
def test_step_arithmetic_on_repeated_equation_parts(marker: str) -> None:
    from rewardkit.registry import get_source_class

    [r] = get_source_class("step_arithmetic")().score([Sample(prompt="q", completion=_text(marker))])
    assert r.status in (Status.OK, Status.NOT_APPLICABLE, Status.UNPARSEABLE)


# ---------------------------------------------------------------------------- the time budget
@pytest.fixture(scope="module")
def pool():
    from rewardkit.verifiers.math import WorkerPool

    p = WorkerPool(size=2)
    p.warm()
    yield p
    p.close()


@pytest.mark.timeout(60)
def test_a_long_completion_is_extracted_and_checked_in_a_worker(pool) -> None:
    cfg = MathConfig(inline_chars=1_000)
    text = "Let me think. " * 200 + r"So the answer is $\boxed{\frac{84}{2}}$."
    before = pool.stats["tasks"]
    v = check("42", text, cfg, pool=pool)
    assert pool.stats["tasks"] == before + 1
    assert v.status is Status.OK and v.equal is True
    assert v.info["extracted_from"] == "boxed" and v.info["extracted"] == r"\frac{84}{2}"
    short = check("42", r"\boxed{42}", cfg, pool=pool)
    assert pool.stats["tasks"] == before + 1 and short.equal is True  # short texts stay in-process


@pytest.mark.timeout(60)
def test_a_long_completion_is_under_the_time_limit(pool) -> None:
    cfg = MathConfig(inline_chars=1_000, timeout_s=0.5)
    text = "Let me think. " * 200 + r"\boxed{(1+\frac{1}{x})^{9999}}"  # sympy grinds on this
    v = check("1", text, cfg, pool=pool)
    assert v.status is Status.TIMEOUT and v.score is None
    assert check("42", text.replace(r"(1+\frac{1}{x})^{9999}", "41"), cfg, pool=pool).equal is False


@pytest.mark.timeout(60)
def test_worker_checks_and_in_process_checks_agree(pool) -> None:
    from rewardkit.verifiers.math import check_batch

    golds = ["42", r"\frac{1}{2}", "x = 2", "B", "2/3"]
    comps = [r"\boxed{42}", "The answer is $0.5$.", r"We solve $3x-6=0$, so $x = 2$.", "The answer is (B).", r"\boxed{0.67}"]
    inline = check_batch(golds, comps, MathConfig(), pool=pool)
    worker = check_batch(golds, comps, MathConfig(inline_chars=0), pool=pool)
    assert [(v.status, v.equal) for v in inline] == [(v.status, v.equal) for v in worker]
    assert [v.equal for v in inline] == [True, True, True, True, False]


# ---------------------------------------------------------------------------- backtracking
@pytest.mark.timeout(20)
@pytest.mark.parametrize("text", [
    "answer" + " " * N + "x",            # "\s*\**\s*[:]" after an anchor: quadratic
    "the answer is" + "\n" * N,
    "final answer is" + "\n" * N + "\n",
    "Answer:" + " \n" * (N // 2) + "x",
])
def test_whitespace_runs_after_an_anchor(text: str) -> None:
    from rewardkit.verifiers._extract import extract_answer

    extract(text, MathConfig(last_number=True))
    extract_choice(text)
    extract_answer(text, last_number=True)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("pred", [
    "1" + "a" * 60 + "1",        # a unit-like tail: "(\s*[a-z]{2,})*" splits letters exponentially
    "1" + "9" * 1_900 + ".5",    # a 1,900-digit decimal: compared in rationals, no float overflow
    "x=" + "." * 7_000 + "x",
    "1" + " " * 7_000 + "x",
])
def test_normalisation_and_parsing_of_degenerate_answers(pred: str) -> None:
    from rewardkit.verifiers.math.api import _verify_fast

    v = _verify_fast("1", pred, MathConfig(), None)  # the in-process stages only
    assert not (getattr(v, "status", None) is Status.OK and v.equal)


@pytest.mark.timeout(20)
@pytest.mark.parametrize("text", [
    "x=" + "." * N + "x",    # trailing punctuation: "(...)+$" rescans the run from every position
    "1" + " " * N + "x",     # "\s*%" from every position of a long run of spaces
])
def test_normalize_is_linear(text: str) -> None:
    from rewardkit.verifiers.math.normalize import normalize

    assert normalize(text)


def test_a_very_long_digit_string_is_not_an_exception() -> None:
    from rewardkit.verifiers.math import verify

    v = verify("1", "1 " + "1" * 7_000 + "/2")  # int() refuses > 4,300 digits
    assert v.status in (Status.OK, Status.UNPARSEABLE) and not v.equal


def test_a_bug_in_the_fast_path_is_an_error_verdict(monkeypatch) -> None:
    from rewardkit.verifiers.math import api, verify

    def boom(*a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(api, "_fast", boom)
    v = verify("1", "2")
    assert v.status is Status.ERROR and "RuntimeError" in v.reason
