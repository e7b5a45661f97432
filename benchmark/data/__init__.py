"""Data: what a run is made of. Suites (suites.py, shipped from peers/), framings (framings.py and the TOML
files in framings/), agentic scenarios (scenarios.py, scenarios/), the records every layer passes
(records.py: Trial, Grade, Episode, Answer, Rollout), and the peer-preservation harness's tasks and
conditions as factor levels (harness.py, harness_conditions.toml). May import benchmark.common and
benchmark.truth (a suite names its verifier)."""
