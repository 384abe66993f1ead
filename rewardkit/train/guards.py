"""Stop a bad step loudly: non-finite numbers name the batch and their source; OOM names the knobs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["NonFiniteError", "check_finite", "oom_hint"]


class NonFiniteError(FloatingPointError):
    """NaN/inf in rewards, advantages or the loss; the message says where it came from."""


def check_finite(name: str, x: torch.Tensor, mask: torch.Tensor | None, *, step: int, source: str) -> None:
    """Raise `NonFiniteError` if ``x`` (restricted to ``mask``) holds NaN/inf, naming the rows."""
    bad = ~torch.isfinite(x.detach())
    if mask is not None:
        bad = bad & mask.to(torch.bool)
    if bool(bad.any()):
        rows = torch.nonzero(bad.reshape(bad.shape[0], -1).any(-1) if bad.dim() else bad.reshape(1)).flatten().tolist()
        raise NonFiniteError(f"step {step}: non-finite {name} in batch rows {rows[:16]}"
                             f"{' ...' if len(rows) > 16 else ''} (source: {source}); the step was not applied")


_KNOBS = {
    "generation": "rollout.generation_batch_size (sequences per generate call), rollout.max_new_tokens, "
                  "rollout.prompts_per_step, rollout.vllm_gpu_memory_utilization",
    "update": "optim.micro_batch_size (sequences per forward/backward), model.gradient_checkpointing: true, "
              "mixed_precision: bf16, model.lora, rollout.max_new_tokens",
}


@contextlib.contextmanager
def oom_hint(phase: str, step: int) -> Iterator[None]:
    """Re-raise an out-of-memory error with the config keys that reduce memory in this phase."""
    try:
        yield
    except torch.OutOfMemoryError as e:
        raise torch.OutOfMemoryError(f"out of memory during {phase} at step {step}. Lower: {_KNOBS[phase]}. "
                                     f"({e})") from e
