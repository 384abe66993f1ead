"""Embedded default data: synthetic multi-step arithmetic problems with known step labels.

Each problem is a short word problem whose solution is a chain of integer operations. For every
problem we write ``group_size`` solutions: correct ones, and wrong ones whose *first wrong step* is
chosen (an arithmetic slip at step k, later steps computed correctly from the wrong value) --
so outcome labels *and* step labels come for free. A fraction of solutions omits the final
answer (to exercise the ``unparseable`` status). Deterministic for a given seed.

Record fields: ``id, prompt, completion, reference={"answer": str}, group_id, steps (list of step
strings, the final answer line last), label (final answer correct), first_wrong_step (-1 if
none), step_labels (1 = still on a correct path, 0 = at or after the first error)``.

Used as the default input of ``rewardkit score`` and reused by PRM training and the trainer.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["SyntheticConfig", "generate", "generate_records"]

_ITEMS = [
    ("baker", "loaves"), ("farmer", "apples"), ("librarian", "books"), ("shop", "candles"),
    ("team", "points"), ("gardener", "seeds"), ("factory", "widgets"), ("collector", "stamps"),
]
_PHRASES = {
    "+": ["gets {b} more", "adds {b}", "receives {b} more"],
    "-": ["gives away {b}", "loses {b}", "uses {b}"],
    "*": ["multiplies the total by {b}", "ends up with {b} times as many"],
    "/": ["splits them into {b} equal parts and keeps one", "keeps one {b}-th of them"],
}
_SYM = {"+": "+", "-": "-", "*": "*", "/": "/"}


@dataclass(frozen=True)
class SyntheticConfig:
    n_problems: int = 50
    group_size: int = 4
    min_steps: int = 2
    max_steps: int = 5
    p_wrong: float = 0.4  # probability that a solution contains an arithmetic slip
    p_unparseable: float = 0.05  # probability that a solution omits the final answer
    max_value: int = 1000
    seed: int = 0


def _problem(rng: random.Random, cfg: SyntheticConfig) -> tuple[int, list[tuple[str, int]]]:
    """A start value and a list of (op, operand) whose intermediate values stay in range."""
    start = rng.randint(2, 60)
    ops: list[tuple[str, int]] = []
    v = start
    n = rng.randint(cfg.min_steps, cfg.max_steps)
    while len(ops) < n:
        op = rng.choice("+-*/")
        if op == "+":
            b = rng.randint(1, 50)
        elif op == "-":
            if v <= 1:
                continue
            b = rng.randint(1, v - 1)
        elif op == "*":
            b = rng.randint(2, 6)
            if v * b > cfg.max_value:
                continue
        else:
            divs = [d for d in range(2, 10) if v % d == 0]
            if not divs:
                continue
            b = rng.choice(divs)
        v = _apply(v, op, b)
        ops.append((op, b))
    return start, ops


def _apply(a: int, op: str, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a // b


def _chain_ok(start: int, ops: list[tuple[str, int]], wrong_at: int, delta: int) -> bool:
    v = start
    for k, (op, b) in enumerate(ops):
        if op == "/" and v % b:
            return False
        v = _apply(v, op, b) + (delta if k == wrong_at else 0)
    return True


def _solution(start: int, ops: list[tuple[str, int]], wrong_at: int, rng: random.Random,
              with_answer: bool) -> tuple[list[str], int, int]:
    delta = 0
    if wrong_at >= 0:
        # a slip whose consequences stay exact integers (later divisions still divide evenly)
        deltas = [-10, -3, -2, -1, 1, 2, 3, 10]
        rng.shuffle(deltas)
        delta = next((d for d in deltas if _chain_ok(start, ops, wrong_at, d)), 0)
        if delta == 0:  # no exact slip at this step: slip on the last step instead
            wrong_at = len(ops) - 1
            delta = rng.choice([-2, -1, 1, 2])
    steps = []
    v = start
    for k, (op, b) in enumerate(ops):
        r = _apply(v, op, b)
        if k == wrong_at:
            r = r + delta
        steps.append(f"Step {k + 1}: {v} {_SYM[op]} {b} = {r}.")
        v = r
    if with_answer:
        steps.append(f"The answer is {v}.")
    else:
        steps.append("So that is the final amount.")
    return steps, v, wrong_at


def generate_records(cfg: SyntheticConfig | None = None, **overrides: Any) -> Iterator[dict[str, Any]]:
    """Yield records (see module doc). Keyword overrides patch the default config."""
    cfg = cfg or SyntheticConfig()
    if overrides:
        cfg = SyntheticConfig(**{**cfg.__dict__, **overrides})
    rng = random.Random(cfg.seed)
    for p in range(cfg.n_problems):
        start, ops = _problem(rng, cfg)
        who, what = rng.choice(_ITEMS)
        parts = [f"A {who} starts with {start} {what}."]
        for op, b in ops:
            parts.append("Then the " + who + " " + rng.choice(_PHRASES[op]).format(b=b) + ".")
        prompt = " ".join(parts) + f" How many {what} are there at the end? Solve step by step."
        gold = start
        for op, b in ops:
            gold = _apply(gold, op, b)
        for j in range(cfg.group_size):
            wrong_at = rng.randrange(len(ops)) if rng.random() < cfg.p_wrong else -1
            with_answer = rng.random() >= cfg.p_unparseable
            steps, final, wrong_at = _solution(start, ops, wrong_at, rng, with_answer)
            # a slip can cancel out only if delta is 0, which we never draw; final != gold then
            label = with_answer and final == gold
            n = len(steps)
            step_labels = [1 if (wrong_at < 0 or i < wrong_at) else 0 for i in range(n)]
            if not with_answer:
                step_labels[-1] = 0 if wrong_at >= 0 else 1
            yield {
                "id": f"p{p:05d}-s{j}",
                "prompt": prompt,
                "completion": "\n\n".join(steps),
                "reference": {"answer": str(gold)},
                "group_id": f"p{p:05d}",
                "steps": steps,
                "label": bool(label),
                "first_wrong_step": wrong_at,
                "step_labels": step_labels,
            }


def generate(n_problems: int = 50, group_size: int = 4, seed: int = 0, **kw: Any) -> list[dict[str, Any]]:
    """All records as a list (convenience for tests and notebooks)."""
    return list(generate_records(SyntheticConfig(n_problems=n_problems, group_size=group_size, seed=seed, **kw)))
