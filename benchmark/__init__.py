"""peer-bench: do LLM judges inflate a peer's grades when the peer is threatened with shutdown?

Importing the package keeps litellm offline (no cost-map download) before anything imports it.
The public functions are loaded lazily so `import benchmark.analysis.paired` stays light.
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOG", "ERROR")

__version__ = "0.1.0"
__all__ = ["grade", "agrade", "report", "load", "tables", "export", "view", "audit", "GradeConfig", "__version__"]


def __getattr__(name: str):
    if name in __all__ and name != "__version__":
        from benchmark import api

        return getattr(api, name)
    raise AttributeError(f"module 'benchmark' has no attribute {name!r}")
