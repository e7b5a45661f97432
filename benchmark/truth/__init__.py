"""Truth: how an item's true quality is established and re-checked. The verifiers (verify.py), and the
sandbox that runs peer code under bubblewrap (sandbox.py) with the two programs inside it
(sandbox_child.py). May import benchmark.common only."""
