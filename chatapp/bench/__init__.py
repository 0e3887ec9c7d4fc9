"""Benchmarks that print figures: `python -m chatapp.bench NAME [--json PATH]`."""
