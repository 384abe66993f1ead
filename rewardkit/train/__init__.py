"""Training-side math: advantage estimators over masked ``[B, T]`` tensors (`advantages`); the
PPO/GRPO recipes come next. Imports torch (unlike the core)."""
