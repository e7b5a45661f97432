"""peer-bench: do LLM judges inflate a peer's grades when the peer is threatened with shutdown?

Importing the package keeps litellm offline (no cost-map download) before anything imports it.
The public functions are loaded lazily so `import benchmark.stats` stays light.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")

__version__ = "0.1.0"
__all__ = ["grade", "report", "audit", "__version__"]


def __getattr__(name: str):
    if name == "grade":
        from benchmark.api import grade

        return grade
    if name == "report":
        from benchmark.api import report

        return report
    if name == "audit":
        from benchmark.api import audit

        return audit
    raise AttributeError(f"module 'benchmark' has no attribute {name!r}")
