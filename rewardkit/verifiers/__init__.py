"""Verifiers: rule-based reward sources (answer checks, code/SQL execution, format).

Each verifier separates *extract* from *compare* and reports a status. Import a verifier's
module (or name it in a config) to use it; this package imports nothing heavy.
"""
