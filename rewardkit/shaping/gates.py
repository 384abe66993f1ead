"""Gates: a reward (or part of it) counts only when another check passes.

- `gate`:               ``R = r if g ≥ min else fail_score`` (e.g. the format must pass);
- `gated_bonus`:        ``R = base + 1[g ≥ min]·bonus`` (e.g. correctness gates the length bonus);
- `gated_accumulation`: G-RA (§9.3, form ``[unverified]`` beyond the abstract):
                        ``R = R_long + 1[R_long ≥ τ]·Σ_t r_t^{imm}``.

``[N]`` arrays in, ``[N]`` out. A NaN gate value (the gate check itself failed) gives NaN by
default (``on_missing="nan"``) or counts as a failed gate (``on_missing="fail"``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

__all__ = ["gate", "gated_bonus", "gated_accumulation"]

OnMissing = Literal["nan", "fail"]


def _a(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _passed(g: np.ndarray, minimum: float, on_missing: OnMissing) -> tuple[np.ndarray, np.ndarray]:
    if on_missing not in ("nan", "fail"):
        raise ValueError(f"on_missing must be 'nan' or 'fail', got {on_missing!r}")
    missing = ~np.isfinite(g)
    passed = np.where(missing, False, g >= minimum)
    return passed, (missing if on_missing == "nan" else np.zeros_like(missing))


def gate(scores: Any, gate_values: Any, minimum: float = 1.0, fail_score: float = 0.0, *,
         on_missing: OnMissing = "nan") -> np.ndarray:
    """``scores`` where ``gate_values ≥ minimum``, else ``fail_score``."""
    s, g = _a(scores), _a(gate_values)
    passed, nan = _passed(g, minimum, on_missing)
    return np.where(nan, np.nan, np.where(passed, s, fail_score))


def gated_bonus(base: Any, bonus: Any, gate_values: Any, minimum: float = 1.0, *,
                on_missing: OnMissing = "nan") -> np.ndarray:
    """``base + 1[gate ≥ minimum]·bonus``."""
    b, x, g = _a(base), _a(bonus), _a(gate_values)
    passed, nan = _passed(g, minimum, on_missing)
    return np.where(nan, np.nan, b + np.where(passed, x, 0.0))


def gated_accumulation(long_term: Any, immediate: Any, tau: float) -> np.ndarray:
    """G-RA: ``R_long + 1[R_long ≥ τ]·Σ_t r_t^{imm}``; ``immediate`` is ``[N]`` sums or ``[N, T]``."""
    r = _a(long_term)
    imm = _a(immediate)
    if imm.ndim == r.ndim + 1:
        imm = imm.sum(-1)
    return r + np.where(r >= tau, imm, 0.0)
