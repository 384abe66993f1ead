"""Adapters that plug a rewardkit pipeline into trainers: TRL (`trl.reward_funcs`), verl
(`verl.compute_score`, usable as ``custom_reward_function.path``) and OpenRLHF (`openrlhf.reward_func`
for its Python-function mode; its HTTP mode is `rewardkit serve`'s ``/get_reward``). See
``docs/integrations.md``."""
