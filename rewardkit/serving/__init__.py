"""The reward server (`rewardkit serve`: ``/score``, OpenRLHF's ``/get_reward``, ``/health``,
``/metrics``) and `client.RemoteReward`, a reward source that calls it."""
