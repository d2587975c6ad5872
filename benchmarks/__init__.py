"""Benchmarks for lenakernel: `make bench` runs `benchmarks/run.py` (see README.md)."""
