"""Loading and preparing Hugging Face models the same way everywhere (PRM, ORM, rollouts).

One place decides the device (CUDA when present, else CPU), the dtype (``auto`` = bf16 on a GPU
that supports it, float32 otherwise), the pad token, gradient checkpointing and LoRA, so that the
training and scoring paths of every reward model run unchanged on a laptop CPU and on a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["resolve_device", "resolve_dtype", "require_local_folder", "load_tokenizer", "LoraOptions", "apply_lora",
           "enable_gradient_checkpointing", "position_ids_from_mask", "length_sorted_batches"]

DType = Literal["auto", "float32", "bfloat16", "float16"]


def resolve_device(device: str | None = None) -> Any:
    import torch

    if device and device != "auto":
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_dtype(dtype: DType, device: Any) -> Any:
    """``auto``: bf16 on a GPU that has it (half the memory of fp32), fp32 on CPU (bf16 matmuls
    on CPU are slow and lose precision for no gain)."""
    import torch

    if dtype != "auto":
        return getattr(torch, dtype)
    if getattr(device, "type", str(device)) == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def require_local_folder(path: str) -> None:
    """Fail with a clear message, before transformers tries the Hub, when ``path`` is no folder:
    rewardkit loads models from local folders and downloads nothing at run time."""
    from pathlib import Path

    if not Path(path).is_dir():
        raise FileNotFoundError(
            f"model folder not found: {path!r}. rewardkit loads models from local folders and downloads "
            "nothing at run time: prepare one with `rewardkit models prepare smollm2 --out DIR` (or minilm), "
            "or save a model there with save_pretrained()")


def load_tokenizer(path: str, padding_side: Literal["left", "right"] | None = None) -> Any:
    """A fast tokenizer (character offsets are needed to find step ends) with a pad token."""
    from transformers import AutoTokenizer

    require_local_folder(path)
    tok = AutoTokenizer.from_pretrained(path, use_fast=True)
    if not getattr(tok, "is_fast", False):
        raise TypeError(f"{path}: step scoring needs a fast tokenizer (character offsets)")
    if tok.pad_token is None:
        if tok.eos_token is None:
            raise ValueError(f"{path}: the tokenizer has neither a pad nor an EOS token to pad with")
        tok.pad_token = tok.eos_token
    if padding_side is not None:
        tok.padding_side = padding_side
    return tok


class LoraOptions(BaseModel):
    """peft LoRA settings. For a 7B backbone on one 24 GB GPU: ``r=16, alpha=32`` on the attention
    and MLP projections, bf16, gradient checkpointing, per-device batch 1-2 with accumulation."""

    model_config = ConfigDict(extra="forbid")

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"
    #: modules trained in full next to the adapters (the new score head must learn)
    modules_to_save: list[str] | None = None


def apply_lora(model: Any, options: LoraOptions, task_type: str) -> Any:
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(r=options.r, lora_alpha=options.alpha, lora_dropout=options.dropout,
                     target_modules=options.target_modules, modules_to_save=options.modules_to_save,
                     task_type=task_type)
    return get_peft_model(model, cfg)


def enable_gradient_checkpointing(model: Any) -> None:
    """Recompute activations in the backward pass: memory O(layers) instead of O(layers x tokens)."""
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 name
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if hasattr(model, "enable_input_require_grads"):  # needed when the embeddings are frozen (LoRA)
        model.enable_input_require_grads()
    if getattr(model, "config", None) is not None and hasattr(model.config, "use_cache"):
        model.config.use_cache = False


def position_ids_from_mask(attention_mask: Any) -> Any:
    """Positions that ignore padding, so left- and right-padded rows see the same positions."""
    pos = attention_mask.long().cumsum(-1) - 1
    return pos.clamp(min=0)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first): little padding per batch,
    and an out-of-memory batch shows up at once rather than at the end."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
