"""Helpers of bench/redis_bench.py (a folder, so ./dev bench does not run them as benchmarks)."""
