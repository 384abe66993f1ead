"""Model output is untrusted: code-execution payloads have no effect, huge inputs stay bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardkit.types import Sample, Status
from rewardkit.verifiers.math import MathConfig, check, verify
from rewardkit.verifiers.math.parse import HugeNumber, to_sympy
from rewardkit.verifiers.math.source import MathVerifier


def _payloads(marker: Path) -> list[str]:
    m = str(marker)
    return [
        f"__import__('os').system('touch {m}')",
        f"__import__('os').system('touch {m}') or 0",
        f"open('{m}', 'w').write('x') or 0",
        f"getattr(__import__('pathlib').Path('{m}'), 'touch')() or 0",
        "(1).__class__.__mro__[1].__subclasses__() or 0",
        "().__class__.__bases__[0].__subclasses__()",
        f"(lambda: open('{m}', 'w'))() or 0",
        f"[open('{m}', 'w') for _ in [0]] or 0",
        f"globals()['__builtins__']['open']('{m}', 'w') or 0",
        f"exec(\"open('{m}','w')\")",
        f"eval(\"__import__('os').system('touch {m}')\")",
        f"\\boxed{{__import__('os').system('touch {m}')}}",
        f"$x = __import__('os').system('touch {m}')$",
        f"\\boxed{{\\text{{{m}}} + x}}",
        "Symbol('x').__class__.__init__.__globals__",
        f"lambda x: __import__('os').system('touch {m}')",
    ]


@pytest.mark.timeout(120)
def test_payloads_have_no_side_effect(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    for payload in _payloads(marker):
        for gold in ("0", "x", "x + 1"):
            for v in (verify(gold, payload), check(gold, payload), check(gold, payload, MathConfig(last_number=True))):
                assert not (v.status is Status.OK and v.equal), (gold, payload, v)
        for fn in (to_sympy,):
            try:
                fn(payload)
            except Exception:  # noqa: BLE001 - refusing is fine; executing is not
                pass
        assert not marker.exists(), payload


def test_payloads_through_the_source(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    src = MathVerifier()
    res = src.score([Sample("q", p, reference="0") for p in _payloads(marker)])
    assert all(not (r.is_ok and r.score == 1.0) for r in res)
    assert not marker.exists()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("gold", "pred"),
    [
        ("1", r"9^{9^{9^9}}"),
        ("1", r"\boxed{2^{2^{2^{49}}}}"),
        ("1", "10000!"),
        ("1", "1000000!"),
        ("x", r"x^{9^{9^{9^9}}}"),
        ("1", "10^{10^{10}} - 10^{10^{10}} + 1"),
        ("2", "2" * 5000),
        ("1", "(" * 3000 + "1" + ")" * 3000),
        ("1", r"\frac{" * 500 + "1" + "}{2}" * 500),
        ("1", "x" * 100_000),
        ("1", r"\sqrt{" * 300 + "2" + "}" * 300),
        ("1", r"(1+\frac{1}{x})^{9999}"),
    ],
)
def test_adversarial_inputs_finish(gold: str, pred: str) -> None:
    """Each returns a verdict (never hangs, never raises); huge values are not equal to 1."""
    v = verify(gold, pred, MathConfig(timeout_s=1.0))
    assert v.status in (Status.OK, Status.TIMEOUT, Status.UNPARSEABLE, Status.ERROR)
    assert not (v.status is Status.OK and v.equal and gold == "1" and "9" in pred[:3])


def test_huge_numbers_are_refused_before_sympy() -> None:
    for text in (r"9^{9^{9^9}}", "99999!", r"2^{2^{2^{49}}}"):
        with pytest.raises(HugeNumber):
            to_sympy(text)


def test_huge_values_compare_by_structure() -> None:
    assert verify(r"2^{2^{2^{49}}}", r"2^{2^{2^{49}}}").equal is True
    v = verify("1", r"2^{2^{2^{49}}}")
    assert v.status is Status.OK and v.equal is False
    assert verify("2024^{4046}", r"\boxed{2024^{4046}}").equal is True


def test_answer_size_cap() -> None:
    v = verify("1", "1+" * 20_000 + "1")
    assert v.status is Status.UNPARSEABLE
