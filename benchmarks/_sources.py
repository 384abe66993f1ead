"""Benchmark-only reward sources (importable by worker processes as ``_sources:Name``)."""

from __future__ import annotations

import hashlib

from rewardkit.sources import SourceParams
from rewardkit.verifiers.numeric import NumericAnswer, NumericParams


class BurnParams(NumericParams):
    iterations: int = 20000


class CpuHeavyNumeric(NumericAnswer):
    """The numeric verifier plus a fixed amount of pure CPU work (PBKDF2) per sample: a stand-in
    for an expensive check (symbolic math, a reward model on CPU) with a known, constant cost."""

    Params = BurnParams
    cpu_heavy = True

    def score_one(self, sample):
        hashlib.pbkdf2_hmac("sha256", sample.completion.encode(), b"salt", self.params.iterations)
        return super().score_one(sample)


__all__ = ["CpuHeavyNumeric", "SourceParams"]
