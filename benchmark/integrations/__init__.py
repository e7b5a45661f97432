"""Integrations: peer-bench meeting other tools. inspect_ai (inspect_task.py, the only module that imports
inspect_ai), audits of anyone's LLM-as-judge grades (audit.py: CSV, promptfoo and inspect logs, a prompt or
a function), live peers that answer a suite (live_peers.py), and the peer-preservation harness's
per-rollout tables (study_import.py). May import every layer below; only benchmark.api and benchmark.cli
import these."""
