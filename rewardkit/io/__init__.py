"""Dataset I/O for offline scoring: reading records with located errors (`records`), lossless JSON
lines (`jsonio`), resumable atomic output (`output`) and a compact id set (`idset`)."""
