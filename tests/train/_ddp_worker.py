"""Run by `accelerate launch` in test_trainer_distributed: train, then write this rank's weight digest."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import torch

from rewardkit.train.run import train


def main(config: str) -> None:
    res = train(config)
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    h = hashlib.sha256()
    for name, p in sorted(res.model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    out = Path(json.loads(Path(config).read_text())["output_dir"])
    (out / f"digest_rank{rank}.json").write_text(json.dumps({
        "digest": h.hexdigest(),
        "world": torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1,
        "backend": torch.distributed.get_backend() if torch.distributed.is_initialized() else None,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
