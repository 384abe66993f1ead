"""Process reward models: training (supervised, implicit from outcome labels, Monte-Carlo labels)
and single-pass step scoring (the ``prm`` reward source). See docs/prm.md.

Modules: `encoding` (text layout, step-end tokens), `model` (PRM folders and scorers), `source`
(the ``prm`` source), `data` (stepwise / step-tag formats), `train` (supervised),
`implicit_train` (β·log π_θ/π_ref from outcome labels), `rollouts` + `label` (MC labels, PAV
progress), `cli` (``rewardkit prm label | train | score``). Nothing here imports torch at import
time of ``rewardkit``.
"""
