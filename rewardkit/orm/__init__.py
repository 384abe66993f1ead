"""Outcome reward models: one score per (prompt, completion).

Training: pairwise Bradley-Terry on chosen/rejected pairs (TRL's ``RewardTrainer``; optional
margin and reward centering) or pointwise BCE on outcome labels (`rewardkit.orm.train`).
Scoring: the ``orm`` reward source (`rewardkit.orm.source`).
"""
