"""Embedded data: the synthetic arithmetic generator used as default input."""
