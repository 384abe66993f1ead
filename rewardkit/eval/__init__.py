"""Offline evaluation of reward sources, reward models and PRMs (coming next)."""
