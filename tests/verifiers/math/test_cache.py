"""Verdict cache: LRU in memory, optional SQLite file; keyed by answers, config and version."""

from __future__ import annotations

from pathlib import Path

from rewardkit.types import Status
from rewardkit.verifiers.math import MathConfig, VerdictCache, verify
from rewardkit.verifiers.math.cache import cache_key
from rewardkit.verifiers.math.config import VERIFIER_VERSION


def test_hit_after_miss() -> None:
    c = VerdictCache()
    a = verify("x^2+2x+1", "(x+1)^2", cache=c)
    b = verify("x^2+2x+1", "(x+1)^2", cache=c)
    assert a.equal is b.equal is True
    assert "cached" not in a.info and b.info["cached"] is True
    assert (c.hits, c.misses) == (1, 1)


def test_normalised_answers_share_an_entry() -> None:
    c = VerdictCache()
    verify(r"\dfrac{1}{2}", "0.5", cache=c)
    assert verify(r"$\frac{1}{2}$", "0.5", cache=c).info.get("cached") is True


def test_config_and_version_are_part_of_the_key() -> None:
    c = VerdictCache()
    assert verify("0.3", "30%", cache=c).equal is True
    v = verify("0.3", "30%", MathConfig(percent="strip"), cache=c)
    assert v.equal is False and "cached" not in v.info
    fp = MathConfig().fingerprint()
    assert fp == MathConfig(timeout_s=5).fingerprint()  # the time limit does not change verdicts
    assert fp != MathConfig(rel_tol=1e-3).fingerprint()
    assert VERIFIER_VERSION
    assert cache_key("a", "b", fp) != cache_key("b", "a", fp)


def test_lru_eviction() -> None:
    c = VerdictCache(maxsize=2)
    for p in ("1", "2", "3"):
        verify("1", p, cache=c)
    assert len(c) == 2
    assert "cached" not in verify("1", "1", cache=c).info  # the oldest entry was evicted


def test_timeouts_are_not_cached() -> None:
    c = VerdictCache()
    v = verify("1", r"(1+\frac{1}{x})^{9999}", MathConfig(timeout_s=0.2), cache=c)
    assert v.status is Status.TIMEOUT
    assert len(c) == 0


def test_disk_cache_persists(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.sqlite"
    c1 = VerdictCache(path=path)
    verify("x+1", "1+x", cache=c1)
    c1.close()
    c2 = VerdictCache(path=path)
    v = verify("x+1", "1+x", cache=c2)
    assert v.equal is True and v.info["cached"] is True
    c2.close()
