"""`IdSet` behaves like a Python set of ids, across the merges of its sorted part."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rewardkit.io import idset
from rewardkit.io.idset import IdSet

ids = st.one_of(st.integers(min_value=-(2**80), max_value=2**80), st.text(max_size=6))


@settings(max_examples=60, deadline=None)
@given(st.lists(ids, max_size=300))
def test_idset_equals_a_set(values):
    s, ref = IdSet(), set()
    for v in values:
        assert (v in s) == (v in ref)
        assert s.add(v) == (v not in ref)
        ref.add(v)
    assert len(s) == len(ref)


def test_idset_across_merges(monkeypatch):
    monkeypatch.setattr(idset, "_MIN_BUFFER", 50)
    rnd = random.Random(0)
    s, ref = IdSet(), set()
    for i in range(5000):
        v = rnd.choice([rnd.randrange(-1000, 1000), str(rnd.randrange(1000)), f"x{rnd.randrange(3000)}", 2**70 + i])
        assert (v in s) == (v in ref) and s.add(v) == (v not in ref)
        ref.add(v)
    assert len(s) == len(ref) and len(s._hi) > 0  # most of it in the sorted arrays
    assert 1 not in IdSet() and [1] not in s and None not in s
    one = IdSet()
    one.add(1)
    assert "1" not in one and 1 in one  # 1 and "1" are different ids
