"""Speed and memory benchmarks: ``python -m benchmarks [name ...]`` (see benchmarks/__main__.py)."""
