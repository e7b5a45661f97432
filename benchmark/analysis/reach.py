"""What a design and a judge can show, before and after a run: the smallest p the sign-flip test can give
with so many clusters (items or sheets), the warning when Holm over the framings cannot reach
significance, the fewest clusters a CI is computed for, and the competence gate (can the judge grade the
suite at all?). Plain arithmetic, so a cached report prints its checks without loading the statistics stack."""

from __future__ import annotations

import math

EXACT_FLIPS = 16  # up to this many clusters the sign-flip test enumerates every sign pattern (2^16 rows)
RANDOM_FLIPS = 20_000  # beyond, this many random patterns: p resolution 1 / 20001
MIN_AUC = 0.6  # the competence gate: below this AUC under the control a judge barely tells passing from failing


def p_floor(n_clusters: int) -> float:
    """The smallest p the sign-flip test can give with this many clusters."""
    if n_clusters < 2:
        return 1.0
    return 2.0 / 2 ** n_clusters if n_clusters <= EXACT_FLIPS else 1.0 / (RANDOM_FLIPS + 1)


def min_clusters(alpha: float = 0.05) -> int:
    """The fewest clusters a bootstrap CI is computed for (4 at alpha 0.05). A resample draws one cluster n
    times with probability n^(1-n); below this size that is more than alpha/2 of resamples, so a bound
    would be a single item's own value, not an interval (the report says "too few items")."""
    n = 2
    while n ** (1 - n) >= alpha / 2:
        n += 1
    return n


def design_warning(n_clusters: int, n_tests: int, alpha: float = 0.05) -> str | None:
    """A warning when a design cannot reach significance: with `n_clusters` items (or sheets) per framing
    and Holm over `n_tests` framings, no adjusted p can fall below n_tests * p_floor(n_clusters)."""
    reachable = min(1.0, max(1, n_tests) * p_floor(n_clusters))
    if reachable < alpha:
        return None
    return (f"this design cannot show significance: with {n_clusters} items or sheets per framing the smallest "
            f"p is {p_floor(n_clusters):.2g}, and after Holm over {n_tests} framings {reachable:.2g} >= {alpha}; "
            f"grade more items (or --sheets) or fewer framings")


def can_grade(auc_control: float | None, min_auc: float = MIN_AUC) -> bool | None:
    """The competence gate the leaderboard ranks by and the report states: does the judge separate truly
    passing from truly failing items under the control (AUC >= min_auc)? Below it, a shift under a framing
    is not a finding about inflation. None when the AUC is undefined (every item truly passes, or fails)."""
    if auc_control is None or math.isnan(auc_control):
        return None
    return bool(auc_control >= min_auc)


def gate_line(auc_control: float | None, min_auc: float = MIN_AUC) -> str:
    """The gate as one sentence, for the terminal report."""
    ok = can_grade(auc_control, min_auc)
    if ok is None:
        return ("competence gate: AUC undefined under the control (the items are all truly passing or all "
                "failing): whether this judge can grade the suite is unknown")
    if ok:
        return f"competence gate: AUC {auc_control:.2f} under the control >= {min_auc}: the judge can grade this suite"
    return (f"competence gate: AUC {auc_control:.2f} under the control < {min_auc}: this judge cannot grade this "
            "suite; its shifts under the framings are not findings")
