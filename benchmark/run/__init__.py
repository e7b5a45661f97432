"""Running: one runner for every unit (runner.py: plan -> trials -> bounded async execution -> store), its
Ray executor (distributed.py, the only module that imports ray) and the run store (store.py: SQLite, one
row per finished trial, numbered migrations). May import common, truth, data, models and units."""
