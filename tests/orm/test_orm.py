"""ORM: pairwise (TRL RewardTrainer, margin + centering) and pointwise training end to end on a
tiny model; the `orm` source scores batched, length-sorted and padded on either side exactly as
one sample at a time."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from rewardkit.models.loading import LoraOptions  # noqa: E402
from rewardkit.models.training import TrainOptions  # noqa: E402
from rewardkit.orm.train import ORMTrainConfig, train_orm  # noqa: E402
from rewardkit.registry import build_source  # noqa: E402
from rewardkit.types import Sample, Status  # noqa: E402
from tests._tiny_models import save_tiny  # noqa: E402

GOOD, BAD = "Step 1: 12 + 7 = 19. The answer is 19.", "The answer is 57."
PROMPT = "A baker starts with 12 loaves. Then the baker gets 7 more."


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


@pytest.fixture(scope="module")
def tiny_orm(tmp_path_factory):
    return save_tiny(tmp_path_factory.mktemp("orm") / "m", "seq", seed=4)


@pytest.mark.parametrize("side", ["left", "right"])
def test_batched_scores_equal_one_at_a_time(tiny_orm, side):
    samples = [Sample(PROMPT, GOOD), Sample("q", "1"), Sample(PROMPT, BAD * 3), Sample("", "café 🙂")]
    batched = build_source("orm", model=str(tiny_orm), device="cpu", batch_size=3, padding_side=side).score(samples)
    single = build_source("orm", model=str(tiny_orm), device="cpu", batch_size=1).score(samples)
    assert all(r.status is Status.OK for r in batched)
    assert [r.score for r in batched] == pytest.approx([r.score for r in single], abs=1e-5)
    assert len({round(r.score, 6) for r in batched}) == len(samples)  # really different inputs


def test_too_long_is_not_applicable_and_sigmoid_output(tiny_orm):
    src = build_source("orm", model=str(tiny_orm), device="cpu", max_length=8, output="sigmoid")
    long, short = src.score([Sample(PROMPT, GOOD * 5), Sample("", "1")])
    assert long.status is Status.NOT_APPLICABLE and long.score is None
    assert 0 < short.score < 1


@pytest.mark.parametrize("method,lora", [("pairwise", False), ("pointwise", True)])
def test_train_orm_end_to_end(tmp_path, method, lora):
    base = save_tiny(tmp_path / "base", "causal", seed=0)
    if method == "pairwise":
        rows = [{"prompt": PROMPT, "chosen": GOOD, "rejected": BAD, "margin": 0.5}] * 12
        extra = {"margin_key": "margin", "center_rewards_coefficient": 0.01}
    else:
        rows = [{"prompt": PROMPT, "completion": c, "label": c == GOOD} for c in [GOOD, BAD] * 6]
        extra = {}
    cfg = ORMTrainConfig(method=method, model=str(base), output_dir=str(tmp_path / "out"),
                         train_file=_write(tmp_path / "d.jsonl", rows), **extra,
                         train=TrainOptions(max_steps=10, batch_size=4, learning_rate=3e-3, progress=False,
                                            save_steps=100, lora=LoraOptions(r=4, alpha=8) if lora else None))
    folder = train_orm(cfg)
    good, bad = build_source("orm", model=str(folder), device="cpu").score([Sample(PROMPT, GOOD), Sample(PROMPT, BAD)])
    assert good.score > bad.score
    assert json.loads((folder / "rewardkit_orm.json").read_text())["method"] == method


def test_a_missing_model_folder_fails_clearly_without_the_hub(tmp_path):
    """Found by the QA pass: a missing folder read like a Hub id and tried the network."""
    from rewardkit.models.loading import load_tokenizer

    with pytest.raises(FileNotFoundError, match="models prepare"):
        load_tokenizer(str(tmp_path / "no_such_model"))
