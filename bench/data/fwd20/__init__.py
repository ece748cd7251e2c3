"""Benchmark package: 20 modules that import each other (bench/modfwd.c)."""
