"""djqueue's benchmark suite: run it with ``./benchmarks/run`` (see README.md)."""
