"""The ORM folder: a Hugging Face sequence-classification model (one logit) plus
``rewardkit_orm.json``, which says how its inputs were laid out in training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["ORMCard", "ORM_CARD_FILE", "read_orm_card", "write_orm_card", "orm_text"]

ORM_CARD_FILE = "rewardkit_orm.json"


class ORMCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["pairwise", "pointwise"]
    prompt_separator: str = "\n\n"
    #: TRL's RewardTrainer appends EOS to every text; scoring must read the same text
    add_eos: bool = True
    trained_on: dict[str, Any] = {}


def write_orm_card(folder: str | Path, card: ORMCard) -> None:
    Path(folder, ORM_CARD_FILE).write_text(card.model_dump_json(indent=2))


def read_orm_card(folder: str | Path) -> ORMCard:
    """The card, or the defaults for a plain sequence-classification folder (e.g. a public RM)."""
    path = Path(folder, ORM_CARD_FILE)
    if not path.exists():
        return ORMCard(method="pairwise")
    return ORMCard.model_validate(json.loads(path.read_text()))


def orm_text(prompt: str, completion: str, card: ORMCard, eos: str | None) -> str:
    from rewardkit.prm.encoding import layout

    text, _ = layout(prompt, completion, card.prompt_separator)
    if card.add_eos and eos and not text.endswith(eos):
        text += eos
    return text
