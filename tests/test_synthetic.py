import pytest

from rewardkit.data.synthetic import generate
from rewardkit.types import Sample, Status
from rewardkit.verifiers.arithmetic import StepArithmetic, check_equations, safe_arith
from rewardkit.verifiers.numeric import NumericAnswer


def samples(recs):
    return [Sample(prompt=r["prompt"], completion=r["completion"], reference=r["reference"], steps=r["steps"])
            for r in recs]


def test_deterministic_and_seeded():
    assert generate(5, 2, seed=1) == generate(5, 2, seed=1)
    assert generate(5, 2, seed=1) != generate(5, 2, seed=2)


def test_outcome_labels_agree_with_the_numeric_verifier():
    recs = generate(100, 4, seed=11)
    res = NumericAnswer().score(samples(recs))
    for r, x in zip(recs, res, strict=True):
        if "The answer is" in r["completion"]:
            assert x.status is Status.OK and x.score == (1.0 if r["label"] else 0.0)
        else:
            assert x.status is Status.UNPARSEABLE and not r["label"]


def test_first_wrong_step_is_where_the_arithmetic_breaks():
    recs = generate(200, 4, seed=12, p_wrong=0.8)
    res = StepArithmetic().score(samples(recs))
    n_wrong = 0
    for r, x in zip(recs, res, strict=True):
        assert x.info["first_wrong_step"] == r["first_wrong_step"]
        labels = r["step_labels"]
        k = r["first_wrong_step"]
        if k >= 0:
            n_wrong += 1
            assert labels[:k] == [1] * k and set(labels[k:]) == {0}
            assert not r["label"]
    assert n_wrong > 300


def test_group_structure():
    recs = generate(3, 5)
    assert [r["group_id"] for r in recs] == ["p00000"] * 5 + ["p00001"] * 5 + ["p00002"] * 5
    assert len({r["id"] for r in recs}) == 15
    assert len({r["prompt"] for r in recs[:5]}) == 1


def test_safe_arith_never_evaluates_code():
    assert safe_arith("2 * (3 + 4) / 7") == 2
    assert safe_arith("__import__('os').system('echo hi')") is None
    assert safe_arith("1/0") is None
    assert safe_arith("9**9**9") is None  # power is not an allowed operator
    assert check_equations("we get <<48/2=24>> and 3 x 4 = 13") == [True, False]


def test_numeric_reads_gsm8k_final_lines():
    src = NumericAnswer()
    r = src.score([Sample("q", "2 * $4 = $<<2*4=8>>8\nA: 8", reference="8"),
                   Sample("q", "Q: x\nA: 8 apples\nthen nothing", reference="8"),
                   Sample("q", "work\n#### 1,234", reference="1234")])
    assert [x.score for x in r] == [1.0, None, 1.0]
    assert r[0].info["source"] == "gsm8k" and r[1].status is Status.UNPARSEABLE


@pytest.mark.timeout(30)
def test_step_arithmetic_is_linear_on_adversarial_text():
    """A real GSM8K output once took a second per sample (nested-quantifier backtracking on long
    digit runs); these inputs would take hours with such a regex. The pytest timeout is the hang
    guard."""
    nasty = [
        "1." * 5000 + " = x",
        "Melanie sold 1/3 * 5 = <<1/3*5=1.6666666666666665>>1.6666666666666665 vacuum. " * 200,
        ("9" * 60 + " ") * 300 + "= ",
        "(" * 10000 + "1+1" + ")" * 10000 + " = 2",
    ]
    res = StepArithmetic().score([Sample("q", t) for t in nasty])
    assert [r.status for r in res][:2] == [Status.NOT_APPLICABLE, Status.OK]
    assert res[1].score == 1.0
    big = StepArithmetic().score([Sample("q", "1 + 1 = 2\n\n" * 20000)])[0]
    assert big.status is Status.UNPARSEABLE and "longer than" in big.info["error"]
