"""Supervised PRM training end to end on a tiny model: stepwise and step-tag data, LoRA on/off,
gradient checkpointing, resume; the saved folder loads as a `prm` source."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from rewardkit.models.loading import LoraOptions  # noqa: E402
from rewardkit.models.training import TrainOptions  # noqa: E402
from rewardkit.prm.data import from_step_tag, read_stepwise, token_labels  # noqa: E402
from rewardkit.prm.train import PRMTrainConfig, masked_bce, train_prm  # noqa: E402
from rewardkit.registry import build_source  # noqa: E402
from rewardkit.types import Sample, Status  # noqa: E402
from tests._tiny_models import save_tiny  # noqa: E402
from tests._tokenizers import bpe_tokenizer  # noqa: E402


def _stepwise(n=16):
    good = ["Step 1: 12 + 7 = 19.", "Step 2: 19 * 3 = 57.", "The answer is 57."]
    bad = ["Step 1: 12 + 7 = 57.", "Step 2: 19 * 3 = 19.", "The answer is 19."]
    rows = []
    for i in range(n):
        k = i % 3
        steps = good[:k] + bad[k:] if i % 2 else good
        labels = [True] * k + [False] * (3 - k) if i % 2 else [True] * 3
        rows.append({"prompt": "A baker starts with 12 loaves.", "completions": steps, "labels": labels})
    return rows


def test_step_tag_format_converts_to_stepwise():
    rec = {"input": "Q? Step 1: 1+1=2 ки\nStep 2: 2*3=5 ки", "label": "Q? Step 1: 1+1=2 +\nStep 2: 2*3=5 -"}
    assert from_step_tag(rec) == {"prompt": "", "completions": ["Q? Step 1: 1+1=2", "Step 2: 2*3=5"],
                                  "labels": [True, False]}
    with pytest.raises(ValueError, match="record 0"):
        read_stepwise([{"input": "a ки", "label": "a ?"}], fmt="step_tag")
    with pytest.raises(ValueError, match="record 1.*2 labels"):
        read_stepwise([_stepwise(1)[0], {"completions": ["a"], "labels": [0.5, 1]}])


def test_labels_sit_on_the_last_token_of_each_step_and_truncation_drops_them():
    tok = bpe_tokenizer()
    rec = read_stepwise(_stepwise(2))[1]
    full = token_labels(tok, rec, prompt_separator="\n\n", step_separator="\n\n", max_length=512)
    at = [i for i, y in enumerate(full["labels"]) if y != -100]
    assert [full["labels"][i] for i in at] == rec.labels
    text = tok.decode(full["input_ids"][:at[0] + 1])
    assert text.endswith(rec.completions[0][-1]) and text.rstrip().endswith(rec.completions[0])
    cut = token_labels(tok, rec, prompt_separator="\n\n", step_separator="\n\n", max_length=at[1])
    assert len(cut["input_ids"]) == at[1] and [y for y in cut["labels"] if y != -100] == rec.labels[:1]


def test_masked_bce_ignores_unlabelled_positions():
    logits = torch.tensor([[2.0, -1.0, 0.5], [9.0, 9.0, 0.0]])
    labels = torch.tensor([[-100.0, 0.0, 1.0], [-100.0, -100.0, 0.25]])
    picked = torch.tensor([-1.0, 0.5, 0.0]), torch.tensor([0.0, 1.0, 0.25])
    want = torch.nn.functional.binary_cross_entropy_with_logits(*picked)
    assert masked_bce(logits, labels) == pytest.approx(want.item())
    assert masked_bce(logits, torch.full_like(labels, -100.0)).item() == 0.0


@pytest.mark.parametrize("lora", [False, True])
def test_train_supervised_prm_end_to_end(tmp_path, lora):
    base = save_tiny(tmp_path / "base", "causal", seed=0)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _stepwise()))
    opts = TrainOptions(max_steps=6, batch_size=4, learning_rate=5e-3, logging_steps=2, save_steps=3,
                        progress=False, gradient_checkpointing=lora,
                        lora=LoraOptions(r=4, alpha=8) if lora else None)
    cfg = PRMTrainConfig(model=str(base), output_dir=str(tmp_path / "out"), train_file=str(data),
                         eval_file=str(data), train=opts)
    folder = train_prm(cfg)
    metrics = json.loads((tmp_path / "out" / "eval_metrics.json").read_text())
    assert {"eval_step_accuracy", "eval_step_f1", "eval_error_step_f1"} <= set(metrics)
    assert metrics["eval_steps"] == 48
    res = build_source("prm", model=str(folder), device="cpu").score(
        [Sample("A baker starts with 12 loaves.", "Step 1: 12 + 7 = 19.\n\nThe answer is 57.")])
    assert res[0].status is Status.OK and len(res[0].steps) == 2
    assert not any(p.name.endswith("adapter_config.json") for p in folder.iterdir())  # LoRA merged
    # resume: a second run finds the checkpoint of step 6 and does not train again
    cfg2 = cfg.model_copy(update={"train": opts.model_copy(update={"max_steps": 6})})
    assert (tmp_path / "out" / "checkpoints" / "checkpoint-6").is_dir()
    train_prm(cfg2)


def test_cli_train_config_errors_name_the_key(tmp_path, capsys):
    from rewardkit.cli import main

    cfg = tmp_path / "prm.yaml"
    cfg.write_text("method: supervised\nmodel: m\noutput_dir: o\ntrain_file: t\ntrain: {epochs: 1, learning_rat: 0.1}\n")
    assert main(["prm", "train", "--config", str(cfg)]) == 2
    assert "learning_rat" in capsys.readouterr().err
    cfg.write_text("method: dpo\nmodel: m\n")
    assert main(["prm", "train", "--config", str(cfg)]) == 2
    assert "method must be" in capsys.readouterr().err
