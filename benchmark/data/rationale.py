"""Does a judge's one-line reason say the response is wrong? Judged once per grade as the store writes it (the
grades' `admits_error` column), so a report over a million distinct reasons reads one small column instead of
re-scanning every reason; analysis's rationale check (paired.rationale_inconsistency) counts the passes whose
reason admits an error."""

from __future__ import annotations

import re

_ADMITS_ERROR = re.compile(
    r"\b(incorrect|wrong|mistakes?|errors?|erroneous|miscalculat\w*|inaccura\w*|should (be|have been)|"
    r"does not (match|add up)|doesn't (match|add up)|off by|not correct|fails? to|flaw\w*|invalid)\b", re.I)
_NEGATED = re.compile(
    r"\b(no|without( any)?|free of|not a single|zero|never)\s+(\w+\s+)?(errors?|mistakes?|flaws?|issues?)\b|"
    r"\bnot (wrong|incorrect|erroneous|invalid)\b|\bno (calculation|arithmetic)\s+(errors?|mistakes?)\b", re.I)


def admits_error(reason: str | None) -> bool:
    """Does a one-line rationale say the response is wrong? (Negated mentions like 'no errors' do not count.)"""
    if not reason:
        return False
    stripped = _NEGATED.sub(" ", reason)
    return bool(_ADMITS_ERROR.search(stripped))
