"""A tiny random causal LM saved to disk with a locally built tokenizer (no downloads)."""

from __future__ import annotations

from pathlib import Path


def make_tiny_model(out: Path, *, seed: int = 0, vocab_size: int = 300) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests._tokenizers import bpe_tokenizer

    tok = bpe_tokenizer(vocab_size)
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id,
                      tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def tiny_config(model_dir: Path, out_dir: Path, **over) -> dict:
    """A small GRPO run on the synthetic prompts with a reward that varies for a random model."""
    cfg = {
        "model": {"path": str(model_dir)},
        "data": {"synthetic_problems": 16},
        "rollout": {"prompts_per_step": 2, "group_size": 4, "max_new_tokens": 8},
        "rewards": {"pipeline": {"rewards": [{"type": "regex", "name": "digit", "pattern": "[0-9]"}]}},
        "optim": {"lr": 1e-3},
        "steps": 2,
        "output_dir": str(out_dir),
        "progress": False,
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    return cfg
