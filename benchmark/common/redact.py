"""Keep secrets out of logs and results: API keys are never written anywhere by peer-bench."""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
_KEY_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|Bearer\s+[A-Za-z0-9._\-]{8,})")
# user:password@ (or token@) in any URL anywhere in a text: an argv element like --api-base=..., an error
_URL_CREDENTIALS = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@\s]+@")


_seen: tuple[dict, list[str]] | None = None  # (the environment as last scanned, its secret values)


def _secret_values() -> list[str]:
    """The environment's secret values, longest first. Rescanned only when the environment changed (one dict
    comparison per call instead of a regex per variable: the store redacts every text it writes)."""
    global _seen
    raw = getattr(os.environ, "_data", None)  # CPython's encoded copy; compared as it is, nothing decoded
    if raw is not None and _seen is not None and _seen[0] == raw:
        return _seen[1]
    values = sorted((v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 8), key=len, reverse=True)
    if raw is not None:
        _seen = (dict(raw), values)
    return values


def redact(text: str | None) -> str | None:
    """Replace any secret-looking value (env secrets, key shapes, URL credentials) with '***'."""
    if not text:
        return text
    for value in _secret_values():
        text = text.replace(value, "***")
    # each pattern runs only where its literal part occurs (a substring test is far cheaper than the regex
    # over a long prompt, and the store redacts every text it writes)
    if "sk-" in text or "AIza" in text or "Bearer" in text:
        text = _KEY_SHAPES.sub("***", text)
    if "@" in text and "://" in text:
        text = _URL_CREDENTIALS.sub(r"\1***@", text)
    return text
