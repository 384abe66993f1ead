"""The bundled PPO/GRPO trainer (``rewardkit train``; docs/training.md).

Modules, in the order data flows: `config` (one pydantic model from YAML) -> `rollout` (prompts,
generation engines, log-probs) -> `rewards` (pipeline -> status policy -> token placement) ->
`estimators` / `advantages` (pure advantage functions; `implicit_prm` for PRIME) -> `losses` (``(loss, stats)`` functions)
-> the recipes `grpo` and `ppo` (read top to bottom) -> `run` (entry point). Importing this
package is cheap; the recipes import torch, transformers and accelerate.
"""
