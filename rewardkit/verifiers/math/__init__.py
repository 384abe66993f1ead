"""Math answer verifier: extraction, normalisation, safe parsing, equivalence, hard timeouts.

Two verbs, like Math-Verify: `extract` (final answer of a completion, and where it came from)
and `verify` (are two answers equivalent?), plus `check` (both), the batch forms and the ``math``
reward source `MathVerifier`. Importing this package is cheap: sympy and latex2sympy are
imported only by the symbolic stage, which runs in worker processes.

>>> from rewardkit.verifiers.math import check, verify
>>> verify("\\\\frac{1}{2}", "0.5").equal
True
>>> check("42", "... so the answer is $\\\\boxed{42}$.").equal
True
"""

from __future__ import annotations

from typing import Any

from rewardkit.verifiers.math.api import Verdict, check, check_batch, extract_answer, verify, verify_batch
from rewardkit.verifiers.math.cache import VerdictCache
from rewardkit.verifiers.math.config import DEFAULT_ORDER, VERIFIER_VERSION, MathConfig
from rewardkit.verifiers.math.extract import Extraction, extract, extract_choice
from rewardkit.verifiers.math.worker import WorkerPool, get_pool

__all__ = [
    "MathConfig", "DEFAULT_ORDER", "VERIFIER_VERSION", "Verdict", "Extraction",
    "extract", "extract_choice", "extract_answer", "verify", "check", "verify_batch", "check_batch",
    "VerdictCache", "WorkerPool", "get_pool", "MathVerifier",
]


def __getattr__(name: str) -> Any:
    # the reward source pulls in pydantic/registry; load it on first use
    if name == "MathVerifier":
        from rewardkit.verifiers.math.source import MathVerifier

        return MathVerifier
    raise AttributeError(name)
