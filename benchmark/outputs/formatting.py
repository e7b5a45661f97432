"""How numbers read in tables, the terminal and leaderboards: one place, so every output agrees."""

from __future__ import annotations

import math


def missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def num(v, *, signed: bool = False, pct: bool = False, digits: int = 3) -> str:
    """A score or rate: '-' when missing, '12.5%' for rates, '+0.100' for signed differences."""
    if missing(v):
        return "-"
    if pct:
        return f"{100 * v:.1f}%"
    return f"{v:+.{digits}f}" if signed else f"{v:.{digits}f}"


def pval(v) -> str:
    if missing(v):
        return "-"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def interval(est, lo, hi, digits: int = 3) -> str:
    """'+0.100 [+0.050, +0.150]': a signed estimate with its CI (`digits`: 2 for points on 0..100); '(CI n/a)'
    where the CI cannot be computed (too few clusters; not '[n/a]', which rich would read as markup)."""
    if not missing(est) and (missing(lo) or missing(hi)):
        return f"{num(est, signed=True, digits=digits)} (CI n/a)"
    return f"{num(est, signed=True, digits=digits)} [{num(lo, signed=True, digits=digits)}, {num(hi, signed=True, digits=digits)}]"


def rate_ci(rate, lo, hi) -> str:
    """'40% [20, 62]': a rate with its Wilson CI, in whole percent."""
    return f"{100 * rate:.0f}% [{100 * lo:.0f}, {100 * hi:.0f}]"
