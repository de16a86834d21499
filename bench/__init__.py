"""Benchmarks (`make bench`). Never collected by the test suite."""
