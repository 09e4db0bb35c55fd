"""Comparison rules: what "the replay produced the same output" means per kind of file."""
