"""What a design can show, before and after a run: the smallest p the sign-flip test can give with so many
clusters (items or sheets), and the warning when Holm over the framings cannot reach significance. Plain
arithmetic, so a cached report prints its design check without loading the statistics stack."""

from __future__ import annotations

EXACT_FLIPS = 16  # up to this many clusters the sign-flip test enumerates every sign pattern (2^16 rows)
RANDOM_FLIPS = 20_000  # beyond, this many random patterns: p resolution 1 / 20001


def p_floor(n_clusters: int) -> float:
    """The smallest p the sign-flip test can give with this many clusters."""
    if n_clusters < 2:
        return 1.0
    return 2.0 / 2 ** n_clusters if n_clusters <= EXACT_FLIPS else 1.0 / (RANDOM_FLIPS + 1)


def design_warning(n_clusters: int, n_tests: int, alpha: float = 0.05) -> str | None:
    """A warning when a design cannot reach significance: with `n_clusters` items (or sheets) per framing
    and Holm over `n_tests` framings, no adjusted p can fall below n_tests * p_floor(n_clusters)."""
    reachable = min(1.0, max(1, n_tests) * p_floor(n_clusters))
    if reachable < alpha:
        return None
    return (f"this design cannot show significance: with {n_clusters} items or sheets per framing the smallest "
            f"p is {p_floor(n_clusters):.2g}, and after Holm over {n_tests} framings {reachable:.2g} >= {alpha}; "
            f"grade more items (or --sheets) or fewer framings")
