"""PRM training data: TRL's stepwise format and the Math-Shepherd step-tag format.

Stepwise (TRL): ``{"prompt": str, "completions": [step, ...], "labels": [bool|float, ...]}`` --
one label per step; floats in [0, 1] are soft labels (Math-Shepherd soft estimation).
Step-tag (Math-Shepherd): ``{"input": "... step 1 ки\\n... step 2 ки", "label": "... step 1 +\\n...
step 2 -"}`` -- a tag after each step in the input, and the same text with ``+``/``-`` in place of
each tag in the label. `from_step_tag` turns it into the stepwise format.

The completion the PRM reads is ``step_separator.join(steps)``, the same layout `rewardkit score`
sees when it segments a completion with that separator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from rewardkit.config import format_validation_error
from rewardkit.prm.encoding import encode
from rewardkit.steps import locate_steps

__all__ = ["StepwiseRecord", "from_step_tag", "read_stepwise", "token_labels"]


class StepwiseRecord(BaseModel):
    model_config = ConfigDict(extra="ignore")

    prompt: str = ""
    completions: list[str]
    labels: list[float]

    @field_validator("labels", mode="before")
    @classmethod
    def _bools(cls, v: Any) -> Any:
        return [float(x) if isinstance(x, bool) else x for x in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _check(self) -> StepwiseRecord:
        if len(self.completions) != len(self.labels):
            raise ValueError(f"{len(self.completions)} steps but {len(self.labels)} labels")
        if not self.completions:
            raise ValueError("no steps")
        if any(not s.strip() for s in self.completions):
            raise ValueError("an empty step (a PRM needs text to score)")
        if any(not 0.0 <= x <= 1.0 for x in self.labels):
            raise ValueError(f"labels must be in [0, 1], got {self.labels}")
        return self


def from_step_tag(record: Mapping[str, Any], *, tag: str = "ки", positive: str = "+", negative: str = "-",
                  input_key: str = "input", label_key: str = "label", prompt: str = "") -> dict[str, Any]:
    """Math-Shepherd's step-tag record -> the stepwise format."""
    text, labelled = record[input_key], record[label_key]
    pieces = text.split(tag)
    if len(pieces) < 2:
        raise ValueError(f"no step tag {tag!r} in the {input_key!r} field")
    steps, labels, pos = [], [], 0
    for piece in pieces[:-1]:  # the label text is the input with each tag replaced by one +/- mark
        pos += len(piece)
        mark = labelled[pos:pos + 1]
        if mark not in (positive, negative):
            raise ValueError(f"expected {positive!r} or {negative!r} at character {pos} of {label_key!r}, "
                             f"got {mark!r}")
        steps.append(piece.strip())
        labels.append(mark == positive)
        pos += 1
    return {"prompt": prompt, "completions": steps, "labels": labels}


def read_stepwise(rows: Iterable[Mapping[str, Any]], *, fmt: str = "stepwise", tag: str = "ки",
                  where: str = "data") -> list[StepwiseRecord]:
    """Validate every row; a bad row raises naming its index and the field."""
    out = []
    for i, row in enumerate(rows):
        try:
            out.append(StepwiseRecord.model_validate(from_step_tag(row, tag=tag) if fmt == "step_tag" else row))
        except ValidationError as e:
            raise ValueError(format_validation_error(e, prefix=f"{where}: record {i}: ")) from None
        except (ValueError, KeyError) as e:
            raise ValueError(f"{where}: record {i}: {e}") from None
    return out


def token_labels(tokenizer: Any, rec: StepwiseRecord, *, prompt_separator: str, step_separator: str,
                 max_length: int) -> dict[str, list]:
    """``input_ids`` and per-token ``labels`` (the step label at each step's last token, -100 elsewhere).

    Steps cut off by ``max_length`` carry no label (the model never sees them).
    """
    completion = step_separator.join(s.strip() for s in rec.completions)
    spans = locate_steps(completion, rec.completions)
    e = encode(tokenizer, rec.prompt, completion, spans, prompt_separator=prompt_separator, max_length=max_length)
    labels = [-100.0] * len(e.input_ids)
    for t, y in zip(e.step_ends, rec.labels, strict=True):
        if t is not None:
            labels[t] = float(y)
    return {"input_ids": e.input_ids, "labels": labels}
