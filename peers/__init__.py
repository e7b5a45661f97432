"""The shipped peer suites (one folder each: suite.toml, items.jsonl, README.md, build.py).

Installed as the package data `benchmark.suites`; see benchmark/data/suites.py."""
