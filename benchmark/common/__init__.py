"""Leaf helpers every layer may use: redaction of secrets (nothing unredacted reaches a store, a log or a
manifest) and the package's own errors. Imports nothing from peer-bench."""
