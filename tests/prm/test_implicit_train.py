"""Implicit PRM from outcome labels only: trains end to end on a tiny causal LM, its outcome
reward separates the labels, its step rewards sum to the sequence reward, and it loads as `prm`."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from rewardkit.models.training import TrainOptions  # noqa: E402
from rewardkit.prm.implicit_train import ImplicitTrainConfig, train_implicit_prm  # noqa: E402
from rewardkit.registry import build_source  # noqa: E402
from rewardkit.types import Sample, Status  # noqa: E402
from tests._tiny_models import save_tiny  # noqa: E402

GOOD = "Step 1: 12 + 7 = 19.\n\nStep 2: 19 * 3 = 57.\n\nThe answer is 57."
BAD = "Step 1: 12 + 7 = 57.\n\nStep 2: 57 * 3 = 19.\n\nThe answer is 19."


def test_implicit_prm_learns_from_outcome_labels(tmp_path):
    base = save_tiny(tmp_path / "base", "causal", seed=0)
    rows = [{"prompt": "A baker starts with 12 loaves.", "completion": c, "label": c == GOOD}
            for c in [GOOD, BAD] * 6]
    data = tmp_path / "outcomes.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = ImplicitTrainConfig(model=str(base), output_dir=str(tmp_path / "out"), train_file=str(data), beta=0.5,
                              train=TrainOptions(max_steps=8, batch_size=4, learning_rate=3e-3, progress=False,
                                                 save_steps=100))
    folder = train_implicit_prm(cfg)
    src = build_source("prm", model=str(folder), device="cpu", aggregation="mean")
    good, bad = src.score([Sample(rows[0]["prompt"], GOOD), Sample(rows[0]["prompt"], BAD)])
    assert good.status is Status.OK and len(good.steps) == 3
    assert sum(s.score for s in good.steps) > 0 > sum(s.score for s in bad.steps)
    untrained_card = json.loads((folder / "rewardkit_prm.json").read_text())
    assert untrained_card["kind"] == "implicit" and untrained_card["beta"] == 0.5


def test_bad_outcome_label_names_the_record(tmp_path):
    base = save_tiny(tmp_path / "base", "causal")
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"prompt": "p", "completion": "c", "label": 0.7}) + "\n")
    cfg = ImplicitTrainConfig(model=str(base), output_dir=str(tmp_path / "o"), train_file=str(data))
    with pytest.raises(ValueError, match="record 0: 'label' must be 0/1"):
        train_implicit_prm(cfg)
