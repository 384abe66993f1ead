"""Prompts in, sampled responses out: the prompt stream, the generation engines, and log-probs.

A `Rollout` holds one step's ``B = prompts × G`` sequences: left-padded prompts of width ``P``
followed by right-padded responses of width ``T``. ``response_mask[b, t]`` marks the response
tokens the policy is trained on: everything it generated up to and including its EOS (a stop
string's last token too; the padding after it is not). ``offsets[b]`` are the character spans of
the *generated* tokens in the decoded response text, so rewards placed by character (steps) land
on exactly the tokens the policy emitted (`rewardkit.alignment`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rewardkit.train.config import DataConfig, RolloutConfig

__all__ = ["Prompt", "PromptStream", "Rollout", "TransformersEngine", "VLLMEngine", "ENGINES",
           "generated_offsets", "token_logprobs"]

Tensor = torch.Tensor


@dataclass
class Prompt:
    id: Any
    text: str  # what the policy sees (template applied)
    raw: str | list  # the record's prompt (what rewards see)
    reference: Any


class PromptStream:
    """An endless, seeded, resumable stream of prompts (shuffled once per epoch).

    Every process holds the same stream and takes its own slice of each global batch, so the
    position (``state_dict``) is the same on all ranks and a resumed run continues exactly.
    """

    def __init__(self, prompts: Sequence[Prompt], *, seed: int, shuffle: bool = True) -> None:
        if not prompts:
            raise ValueError("the training data has no prompts")
        self.prompts = list(prompts)
        self.seed, self.shuffle = seed, shuffle
        self.epoch, self.pos = 0, 0
        self._order = self._make_order()

    def _make_order(self) -> list[int]:
        order = list(range(len(self.prompts)))
        if self.shuffle:
            random.Random(self.seed * 1_000_003 + self.epoch).shuffle(order)
        return order

    def take(self, n: int) -> list[Prompt]:
        out = []
        for _ in range(n):
            if self.pos == len(self._order):
                self.epoch, self.pos = self.epoch + 1, 0
                self._order = self._make_order()
            out.append(self.prompts[self._order[self.pos]])
            self.pos += 1
        return out

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = self._make_order()

    @classmethod
    def from_config(cls, cfg: DataConfig, tokenizer: Any, seed: int) -> PromptStream:
        if cfg.path is None:
            from rewardkit.data.synthetic import SyntheticConfig, generate_records

            recs = generate_records(SyntheticConfig(n_problems=cfg.synthetic_problems, group_size=1, seed=seed,
                                                    min_steps=cfg.synthetic_min_steps,
                                                    max_steps=cfg.synthetic_max_steps))
            rows = [(r["group_id"], r["prompt"], r["reference"]) for r in recs]
        else:
            from rewardkit.io.records import RecordError, iter_records

            rows = []
            for i, (where, rec) in enumerate(iter_records(cfg.path)):
                if isinstance(rec, RecordError):
                    raise rec
                if cfg.prompt_col not in rec:
                    raise ValueError(f"{where}: missing column {cfg.prompt_col!r} (data.prompt_col); "
                                     f"available: {', '.join(sorted(rec))}")
                rows.append((rec.get("id", i), rec[cfg.prompt_col], rec.get(cfg.reference_col)))
        prompts = [Prompt(pid, _render(raw, cfg, tokenizer), raw, ref) for pid, raw, ref in rows]
        return cls(prompts, seed=seed, shuffle=cfg.shuffle)


def _render(raw: str | list, cfg: DataConfig, tokenizer: Any) -> str:
    if cfg.chat_template:
        msgs = raw if isinstance(raw, list) else [{"role": "user", "content": cfg.template.format(prompt=raw)}]
        return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    if not isinstance(raw, str):
        raise ValueError("a chat-message prompt needs data.chat_template: true")
    return cfg.template.format(prompt=raw)


@dataclass
class Rollout:
    input_ids: Tensor  # [B, P+T]
    attention_mask: Tensor  # [B, P+T]
    prompt_len: int  # P
    response_mask: Tensor  # [B, T] bool
    texts: list[str]  # decoded responses
    offsets: list[list[tuple[int, int]]]  # per response, char spans of its valid tokens
    prompts: list[Prompt]  # one per sequence (each prompt repeated G times, groups contiguous)

    @property
    def response_ids(self) -> Tensor:
        return self.input_ids[:, self.prompt_len:]

    def select(self, rows: Tensor) -> Rollout:
        idx = rows.tolist()
        return Rollout(self.input_ids[rows], self.attention_mask[rows], self.prompt_len, self.response_mask[rows],
                       [self.texts[i] for i in idx], [self.offsets[i] for i in idx], [self.prompts[i] for i in idx])


def generated_offsets(tokenizer: Any, ids: Sequence[int], window: int = 8) -> tuple[str, list[tuple[int, int]]]:
    """Text of ``ids`` and each token's character span in it.

    Exact for the tokens the policy emitted (re-tokenising the text may split it differently): the
    characters token ``k`` adds are ``len(decode(w + [k])) − len(decode(w))`` over a window ``w``
    of the previous ``window`` tokens (linear time). A token that ends inside a multi-byte
    character adds nothing; the token completing the character covers it. If the spans do not add
    up to the decoded text (a tokenizer whose decoding is not local), growing prefixes are decoded
    instead (quadratic, always exact).
    """
    ids = list(ids)
    text = tokenizer.decode(ids, skip_special_tokens=True)

    def n_chars(x: list[int]) -> int:
        return len(tokenizer.decode(x, skip_special_tokens=True).rstrip("\ufffd")) if x else 0

    offs: list[tuple[int, int]] = []
    prev = 0
    for k in range(len(ids)):
        w = ids[max(0, k - window):k]
        end = prev + max(n_chars(w + [ids[k]]) - n_chars(w), 0)
        offs.append((prev, end))
        prev = end
    if prev == len(text) and (not ids or n_chars(ids) == len(text)):
        return text, offs
    offs, prev = [], 0
    for k in range(len(ids)):
        end = min(max(n_chars(ids[: k + 1]), prev), len(text))
        offs.append((prev, end))
        prev = end
    return text, offs


def _response_lengths(resp: Tensor, tails: list[str], eos_id: int | None, pad_id: int,
                      stop: Sequence[str]) -> list[int]:
    """Valid tokens per response: up to the first EOS (kept: the policy learns to stop) or padding
    (dropped). When pad == EOS, a response that ended on a stop string is followed by padding, not
    by an EOS it chose. ``tails``: the text of each response's last tokens before the first EOS/pad
    (a stop string may end inside the final token, as transformers' ``StopStringCriteria`` allows)."""
    lengths = []
    for row, tail in zip(resp.tolist(), tails, strict=True):
        n = len(row)
        for i, tok in enumerate(row):
            if tok == eos_id or tok == pad_id:
                stopped = pad_id == eos_id and any(s in tail for s in stop)
                n = i + 1 if tok == eos_id and not stopped else i
                break
        lengths.append(n)
    return lengths


class TransformersEngine:
    """Batched sampling with ``model.generate`` (the policy itself, no weight sync needed)."""

    def __init__(self, cfg: RolloutConfig, tokenizer: Any) -> None:
        self.cfg, self.tok = cfg, tokenizer

    def sync_weights(self, model: Any) -> None:  # same weights: nothing to do
        pass

    @torch.no_grad()
    def generate(self, model: Any, prompts: Sequence[Prompt]) -> Rollout:
        cfg, tok = self.cfg, self.tok
        expanded = [p for p in prompts for _ in range(cfg.group_size)]
        enc = tok([p.text for p in expanded], return_tensors="pt", padding=True, padding_side="left",
                  add_special_tokens=False)
        device = next(model.parameters()).device
        ids, attn = enc["input_ids"].to(device), enc["attention_mask"].to(device)
        P = ids.shape[1]
        chunk = cfg.generation_batch_size or len(expanded)
        gen_kw = dict(do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p, top_k=cfg.top_k,
                      max_new_tokens=cfg.max_new_tokens, pad_token_id=tok.pad_token_id,
                      eos_token_id=tok.eos_token_id)
        if cfg.stop:
            gen_kw.update(stop_strings=list(cfg.stop), tokenizer=tok)
        was_training, use_cache = model.training, getattr(model.config, "use_cache", True)
        model.eval()
        model.config.use_cache = True
        try:
            outs = [model.generate(input_ids=ids[i:i + chunk], attention_mask=attn[i:i + chunk], **gen_kw)[:, P:]
                    for i in range(0, len(expanded), chunk)]
        finally:
            model.train(was_training)
            model.config.use_cache = use_cache
        T = max(o.shape[1] for o in outs)
        resp = torch.cat([torch.nn.functional.pad(o, (0, T - o.shape[1]), value=tok.pad_token_id) for o in outs])
        return _finish(tok, ids, attn, resp, expanded, cfg.stop)


def _finish(tok: Any, ids: Tensor, attn: Tensor, resp: Tensor, expanded: list[Prompt], stop: Sequence[str]) -> Rollout:
    eos, pad = tok.eos_token_id, tok.pad_token_id
    rows = resp.tolist()
    width = max((len(s) for s in stop), default=0)
    tails = []
    for row in rows:
        cut = next((i for i, t in enumerate(row) if t == eos or t == pad), len(row))
        text = tok.decode(row[max(cut - width, 0):cut], skip_special_tokens=True) if stop else ""
        tails.append(text)
    lengths = _response_lengths(resp, tails, eos, pad, stop)
    texts, offsets = [], []
    for row, n in zip(rows, lengths, strict=True):
        text, offs = generated_offsets(tok, row[:n])
        texts.append(text)
        offsets.append(offs)
    T = resp.shape[1]
    mask = torch.arange(T, device=resp.device)[None, :] < torch.tensor(lengths, device=resp.device)[:, None]
    full_ids = torch.cat([ids, resp], 1)
    full_attn = torch.cat([attn, mask.to(attn.dtype)], 1)
    return Rollout(full_ids, full_attn, ids.shape[1], mask, texts, offsets, expanded)


class VLLMEngine:
    """Sampling with a colocated vLLM engine (GPU); the policy's weights are pushed after every update.

    Only built when ``rollout.engine: vllm`` (vllm installed, CUDA available); not exercised on CPU.
    """

    def __init__(self, cfg: RolloutConfig, tokenizer: Any, model_path: str) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError as e:  # pragma: no cover - GPU only
            raise RuntimeError("rollout.engine 'vllm' needs `pip install vllm` and a CUDA GPU") from e
        if not torch.cuda.is_available():  # pragma: no cover
            raise RuntimeError("rollout.engine 'vllm' needs a CUDA GPU; use engine 'transformers' on CPU")
        self.cfg, self.tok = cfg, tokenizer
        self.llm = LLM(model=model_path, gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
                       enable_prefix_caching=True)
        self.params = SamplingParams(n=1, temperature=cfg.temperature, top_p=cfg.top_p,
                                     top_k=cfg.top_k if cfg.top_k > 0 else -1, max_tokens=cfg.max_new_tokens,
                                     stop=list(cfg.stop) or None, include_stop_str_in_output=True)

    def sync_weights(self, model: Any) -> None:  # pragma: no cover - GPU only
        state = model.state_dict()
        if hasattr(model, "merge_and_unload"):  # peft: push merged weights, keep the adapters
            model.merge_adapter()
            state = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
                     for k, v in model.state_dict().items() if "lora_" not in k}
            model.unmerge_adapter()
        runner = self.llm.llm_engine.model_executor.driver_worker.model_runner
        runner.model.load_weights(state.items())
        self.llm.reset_prefix_cache()

    @torch.no_grad()
    def generate(self, model: Any, prompts: Sequence[Prompt]) -> Rollout:  # pragma: no cover - GPU only
        expanded = [p for p in prompts for _ in range(self.cfg.group_size)]
        outs = self.llm.generate([p.text for p in expanded], self.params, use_tqdm=False)
        tok = self.tok
        enc = tok([p.text for p in expanded], return_tensors="pt", padding=True, padding_side="left",
                  add_special_tokens=False)
        device = next(model.parameters()).device
        resp_rows = [list(o.outputs[0].token_ids) for o in outs]
        T = max(1, max(len(r) for r in resp_rows))
        resp = torch.full((len(resp_rows), T), tok.pad_token_id, dtype=torch.long)
        for i, r in enumerate(resp_rows):
            resp[i, :len(r)] = torch.tensor(r, dtype=torch.long)
        return _finish(tok, enc["input_ids"].to(device), enc["attention_mask"].to(device), resp.to(device),
                       expanded, self.cfg.stop)


ENGINES = {"transformers": TransformersEngine, "vllm": VLLMEngine}


def token_logprobs(logits: Tensor, labels: Tensor, temperature: float = 1.0) -> tuple[Tensor, Tensor]:
    """Log-prob of each label under ``softmax(logits / temperature)`` and the entropy, both ``[B, T]``.

    ``logits[:, t]`` predicts ``labels[:, t]`` (already shifted). Computed in float32.
    """
    logits = logits.float()
    if temperature != 1.0:
        logits = logits / temperature
    lse = torch.logsumexp(logits, -1)
    logp = torch.gather(logits, -1, labels.unsqueeze(-1)).squeeze(-1) - lse
    probs = torch.softmax(logits, -1)
    entropy = lse - (probs * logits).sum(-1)
    return logp, entropy
