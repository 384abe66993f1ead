"""LLM-judge rubrics over an OpenAI-compatible endpoint or a local model (coming next). A judge is a
reward source like any other: `score`/`ascore` on batches, statuses on failure."""
