"""Scale-out backends. Ray is optional (``pip install 'rewardkit[ray]'``) and imported only here,
when ``--backend ray`` is asked for; nothing else in rewardkit imports it."""
