"""Dataset I/O for offline scoring: reading records with located errors (`records`) and resumable,
atomic output (`output`)."""
