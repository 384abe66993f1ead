"""Rollout generators for Monte-Carlo step labels: ``generate(prompts, n, seed) -> [[text] * n]``.

`HFGenerator` batches several prefixes per ``generate`` call (left padding, KV cache,
``num_return_sequences=n``); `VLLMGenerator` is used instead when vLLM is installed and a GPU is
present (``backend: auto``). Both return only the newly generated text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["RolloutOptions", "HFGenerator", "VLLMGenerator", "make_generator"]


class RolloutOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    backend: Literal["auto", "hf", "vllm"] = "auto"
    max_new_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 1.0
    #: prefixes per generate call (each with n samples): the GPU batch is prefixes_per_batch * n
    prefixes_per_batch: int = 4
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    #: stop a rollout at this text (e.g. the next question of a few-shot prompt)
    stop: list[str] = []


class HFGenerator:
    def __init__(self, opts: RolloutOptions) -> None:
        from transformers import AutoModelForCausalLM

        from rewardkit.models.loading import load_tokenizer, resolve_device, resolve_dtype

        self.opts = opts
        self.device = resolve_device(opts.device)
        self.tokenizer = load_tokenizer(opts.model, "left")  # left padding: new tokens follow each prompt
        self.model = AutoModelForCausalLM.from_pretrained(
            opts.model, dtype=resolve_dtype(opts.dtype, self.device)).to(self.device).eval()

    def generate(self, prompts: Sequence[str], n: int, seed: int) -> list[list[str]]:
        import torch

        torch.manual_seed(seed)
        enc = self.tokenizer(list(prompts), return_tensors="pt", padding=True).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(
                **enc, do_sample=self.opts.temperature > 0, temperature=self.opts.temperature or None,
                top_p=self.opts.top_p, num_return_sequences=n, max_new_tokens=self.opts.max_new_tokens,
                use_cache=True, pad_token_id=self.tokenizer.pad_token_id)
        texts = self.tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        texts = [_cut(t, self.opts.stop) for t in texts]
        return [texts[i * n:(i + 1) * n] for i in range(len(prompts))]


class VLLMGenerator:
    def __init__(self, opts: RolloutOptions) -> None:
        from vllm import LLM

        self.opts = opts
        self.llm = LLM(model=opts.model, dtype="auto" if opts.dtype == "auto" else opts.dtype)

    def generate(self, prompts: Sequence[str], n: int, seed: int) -> list[list[str]]:
        from vllm import SamplingParams

        sp = SamplingParams(n=n, temperature=self.opts.temperature, top_p=self.opts.top_p,
                            max_tokens=self.opts.max_new_tokens, seed=seed, stop=self.opts.stop or None)
        return [[o.text for o in r.outputs] for r in self.llm.generate(list(prompts), sp, use_tqdm=False)]


def _cut(text: str, stops: Sequence[str]) -> str:
    for s in stops:
        at = text.find(s)
        if at >= 0:
            text = text[:at]
    return text


def make_generator(opts: RolloutOptions) -> Any:
    if opts.backend == "vllm" or (opts.backend == "auto" and _vllm_usable()):
        return VLLMGenerator(opts)
    return HFGenerator(opts)


def _vllm_usable() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()
