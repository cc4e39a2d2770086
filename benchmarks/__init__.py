"""Benchmarks: runnable scripts with their recorded results in README.md."""
