"""Process reward models, including PRMs trained from outcome labels only (coming next)."""
