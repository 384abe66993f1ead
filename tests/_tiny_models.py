"""Tiny random transformer models built from configs (no downloads) for PRM/ORM tests."""

from __future__ import annotations

from pathlib import Path

from tests._tokenizers import bpe_tokenizer


def tiny_llama_config(vocab_size: int, **kw):
    from transformers import LlamaConfig

    base = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                pad_token_id=0, eos_token_id=1, bos_token_id=1, tie_word_embeddings=False)
    base.update(kw)
    return LlamaConfig(**base)


def save_tiny(folder: Path, kind: str, *, seed: int = 0, num_labels: int = 1, bias: float | None = None) -> Path:
    """kind: 'token' (token classification), 'seq' (sequence classification) or 'causal'."""
    import torch
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoModelForTokenClassification,
    )

    tok = bpe_tokenizer()
    torch.manual_seed(seed)
    cfg = tiny_llama_config(len(tok), num_labels=num_labels)
    cls = {"token": AutoModelForTokenClassification, "seq": AutoModelForSequenceClassification,
           "causal": AutoModelForCausalLM}[kind]
    model = cls.from_config(cfg)
    if bias is not None:  # a constant head: every position scores sigmoid(bias)
        head = model.score
        with torch.no_grad():
            head.weight.zero_()
            if head.bias is None:
                raise AssertionError("expected a head with bias")
            head.bias.fill_(bias)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def save_tiny_bert(folder: Path, *, seed: int = 0, bias: float | None = None) -> Path:
    """A tiny BERT sequence classifier (an encoder backbone, like MiniLM), optionally constant."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    tok = bpe_tokenizer()
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=512, num_labels=1, pad_token_id=0)
    model = BertForSequenceClassification(cfg)
    if bias is not None:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.fill_(bias)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
