"""The registered ``math`` reward source."""

from __future__ import annotations

import pickle

import pytest

from rewardkit.registry import build_source, get_source_class
from rewardkit.types import Sample, Status
from rewardkit.verifiers.math import MathVerifier


def test_registered_as_math() -> None:
    assert get_source_class("math") is MathVerifier
    assert isinstance(build_source("math"), MathVerifier)


def test_scores_and_statuses() -> None:
    src = build_source("math", timeout_s=2.0)
    samples = [
        Sample("q", r"so the answer is $\boxed{\frac{1}{2}}$", reference={"answer": "0.5"}),
        Sample("q", r"\boxed{3}", reference="4"),
        Sample("q", r"thus \boxed{(x+1)^2}", reference="x^2+2x+1"),
        Sample("q", "I have no idea, sorry. Let me think again.", reference="3"),
        Sample("q", r"\boxed{3}", reference={"solution": "3"}),
        Sample("q", r"\boxed{3}", reference=None),
        Sample("q", r"\boxed{3}", reference=3),
        Sample("q", "The answer is (B).", reference="B"),
    ]
    res = src.score(samples)
    assert [r.status for r in res] == [Status.OK, Status.OK, Status.OK, Status.UNPARSEABLE, Status.ERROR,
                                       Status.ERROR, Status.OK, Status.OK]
    assert [r.score for r in res] == [1.0, 0.0, 1.0, None, None, None, 1.0, 1.0]
    assert res[0].info["extracted"] == r"\frac{1}{2}" and res[0].info["extracted_from"] == "boxed"
    assert "answer" in res[4].info["error"]


def test_empty_batch_and_order() -> None:
    src = MathVerifier()
    assert src.score([]) == []
    samples = [Sample("q", rf"\boxed{{{i}}}", reference=str(i if i % 3 else i + 1)) for i in range(30)]
    assert [r.score for r in src.score(samples)] == [0.0 if i % 3 == 0 else 1.0 for i in range(30)]


def test_bad_params_are_rejected() -> None:
    with pytest.raises(Exception, match="nope"):
        build_source("math", nope=1)
    with pytest.raises(Exception, match="unknown extractor"):
        build_source("math", order=["boxed", "magic"])


def test_pickles_by_params() -> None:
    src = build_source("math", last_number=True)
    src.score([Sample("q", "42", reference="42")])
    clone = pickle.loads(pickle.dumps(src))
    assert clone.params == src.params
    assert clone.score([Sample("q", "it is 41 or so, finally 42", reference="42")])[0].score == 1.0


def test_in_a_pipeline() -> None:
    from rewardkit.pipeline import Pipeline

    pipe = Pipeline({"rewards": [{"type": "math", "weight": 1.0}]})
    out = pipe.score([Sample("q", r"\boxed{2}", reference="2"), Sample("q", r"\boxed{5}", reference="2")])
    assert [r.score for r in out] == [1.0, 0.0]


async def _ascore(src: MathVerifier) -> list:
    return await src.ascore([Sample("q", r"\boxed{x+x}", reference="2x")])


def test_ascore() -> None:
    import asyncio

    out = asyncio.run(_ascore(MathVerifier()))
    assert out[0].score == 1.0
